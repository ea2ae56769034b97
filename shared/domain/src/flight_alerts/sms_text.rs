//! The text a passenger receives. It must fit one SMS segment (160 GSM-7 characters),
//! so the reason is shortened when needed, and it carries no personal data.

use time::OffsetDateTime;

use crate::flight_alerts::flight::Flight;
use crate::flight_alerts::flight_event::{FlightEvent, FlightEventKind};

/// Characters in one SMS segment of the GSM-7 alphabet.
pub const SEGMENT: usize = 160;

pub fn compose(flight: &Flight, event: &FlightEvent) -> String {
    let head = format!(
        "{} {}-{} {}:",
        flight.designator(),
        flight.origin.as_str(),
        flight.destination.as_str(),
        day_month(flight.scheduled_departure),
    );
    let what = match &event.kind {
        FlightEventKind::Delay { minutes, new_departure } => {
            format!(" delayed {} min, now departs {}.", minutes, clock(*new_departure))
        }
        FlightEventKind::Cancellation => " cancelled.".to_owned(),
        FlightEventKind::GateChange { gate } => format!(" gate changed to {gate}."),
    };
    let prefix = format!("{head}{what} Reason: ");
    let room = SEGMENT.saturating_sub(prefix.chars().count());
    format!("{prefix}{}", shorten(&gsm_safe(&event.reason), room))
}

/// Replaces characters outside the basic GSM-7 alphabet, which would switch the whole
/// message to UCS-2 and cut a segment to 70 characters.
fn gsm_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | ' '
            | '.'
            | ','
            | '-'
            | ':'
            | ';'
            | '!'
            | '?'
            | '\''
            | '"'
            | '('
            | ')'
            | '/'
            | '&'
            | '+'
            | '='
            | '%'
            | '#'
            | '*'
            | '@' => c,
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{2013}' | '\u{2014}' => '-',
            _ => '?',
        })
        .collect()
}

fn shorten(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_owned();
    }
    let kept: String = text.chars().take(room.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}

fn day_month(at: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{:02} {}", at.day(), MONTHS[usize::from(u8::from(at.month())) - 1])
}

/// Local time at the departure airport, as printed on boarding passes.
fn clock(at: OffsetDateTime) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight_alerts::flight_event::FlightEventKind;
    use proptest::prelude::*;
    use time::Duration;

    fn event(kind: FlightEventKind, reason: &str) -> FlightEvent {
        FlightEvent { kind, reason: reason.into() }
    }

    #[test]
    fn a_delay_reads_like_a_text_from_the_airline() {
        let flight = crate::flight_alerts::alert::tests::flight();
        let delay =
            FlightEventKind::Delay { minutes: 45, new_departure: flight.scheduled_departure + Duration::minutes(45) };
        assert_eq!(
            compose(&flight, &event(delay, "Late inbound aircraft")),
            "UA83 SFO-JFK 01 Dec: delayed 45 min, now departs 09:15. Reason: Late inbound aircraft"
        );
        assert_eq!(
            compose(&flight, &event(FlightEventKind::Cancellation, "Crew shortage")),
            "UA83 SFO-JFK 01 Dec: cancelled. Reason: Crew shortage"
        );
    }

    proptest! {
        #[test]
        fn every_text_fits_one_gsm_segment(reason in "\\PC{1,200}") {
            let flight = crate::flight_alerts::alert::tests::flight();
            let text = compose(&flight, &event(FlightEventKind::GateChange { gate: "B22".into() }, &reason));
            prop_assert!(text.chars().count() <= SEGMENT);
            prop_assert!(text.starts_with("UA83 SFO-JFK 01 Dec: gate changed to B22. Reason: "));
            prop_assert!(text.is_ascii());
        }
    }
}
