//! The text a passenger receives. It must fit one SMS segment: 160 characters of the GSM
//! 7-bit alphabet (`crate::gsm7`), whose accented letters (é, ü, ñ, ...) cost nothing
//! extra; the reason is transliterated into that alphabet and shortened when needed. It
//! carries no personal data.

use time::OffsetDateTime;

use crate::flight_alerts::flight::Flight;
use crate::flight_alerts::flight_event::{FlightEvent, FlightEventKind};
use crate::gsm7::Gsm7Text;

/// Septets in one SMS segment.
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
    let prefix = Gsm7Text::from_text(&format!("{head}{what} Reason: "));
    let room = SEGMENT.saturating_sub(prefix.septets());
    format!("{prefix}{}", shorten(&Gsm7Text::from_text(&event.reason), room))
}

/// SMS segments a text costs once in the GSM 7-bit alphabet, as SMS is priced.
pub fn segments(text: &str) -> usize {
    Gsm7Text::from_text(text).segments()
}

fn shorten(text: &Gsm7Text, room: usize) -> String {
    let (whole, cut) = text.truncate_to(room);
    if !cut {
        return whole.to_string();
    }
    let (kept, _) = text.truncate_to(room.saturating_sub(3));
    format!("{}...", kept.as_str().trim_end())
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

    #[test]
    fn accents_reach_phones_as_written() {
        let flight = crate::flight_alerts::alert::tests::flight();
        let reason = "Météo: neige à Zürich – vol annulé…";
        let text = compose(&flight, &event(FlightEventKind::Cancellation, reason));
        assert_eq!(text, "UA83 SFO-JFK 01 Dec: cancelled. Reason: Météo: neige à Zürich - vol annulé...");
        assert_eq!(segments(&text), 1);
    }

    #[test]
    fn a_long_reason_is_cut_to_the_segment_and_says_so() {
        let flight = crate::flight_alerts::alert::tests::flight();
        // Extension characters ({, €) cost two septets each: the cut counts them so.
        let text = compose(&flight, &event(FlightEventKind::Cancellation, &"€{ ".repeat(100)));
        let encoded = Gsm7Text::from_text(&text);
        assert!(encoded.septets() <= SEGMENT && encoded.septets() >= SEGMENT - 5, "{}", encoded.septets());
        assert!(text.ends_with("..."));
        assert_eq!(segments(&text), 1);
    }

    proptest! {
        #[test]
        fn every_text_fits_one_gsm_segment(reason in "\\PC{1,200}") {
            let flight = crate::flight_alerts::alert::tests::flight();
            let text = compose(&flight, &event(FlightEventKind::GateChange { gate: "B22".into() }, &reason));
            prop_assert!(text.starts_with("UA83 SFO-JFK 01 Dec: gate changed to B22. Reason: "));
            prop_assert!(text.chars().all(|c| crate::gsm7::is_default(c) || crate::gsm7::is_extension(c)), "{}", text);
            prop_assert!(Gsm7Text::from_text(&text).septets() <= SEGMENT);
            prop_assert_eq!(segments(&text), 1);
        }
    }
}
