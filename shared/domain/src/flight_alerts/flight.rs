//! Flights: what identifies one, what a valid registration is, how long it is kept.

use std::fmt;

use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

use crate::flight_alerts::passenger::{NewPassenger, PassengerRequest};
use crate::validation::{Collector, Invalid};

/// Most passengers one registration may carry. Far above any aircraft's seat count, so
/// charters and test loads fit, while one request stays well inside API Gateway's 10 MB.
pub const MAX_PASSENGERS: usize = 5_000;

/// Most passengers of one flight that may share a mobile number: a family or a group
/// travelling together. A number receives one text per alert however many passengers
/// share it; the bound keeps a registration from pointing a whole flight at a stranger's
/// phone. With it, one alert costs at most one text per distinct number (at most 5,000),
/// each a single SMS segment (`sms_text`).
pub const MAX_PASSENGERS_PER_NUMBER: usize = 10;

/// How long flight data is kept after departure before DynamoDB's TTL removes it, unless
/// the deployment says otherwise.
pub const RETENTION_AFTER_DEPARTURE: Duration = Duration::days(30);

/// The window of departure dates a registration may have, around today (UTC): from the
/// day before (a flight leaving "today" west of UTC) to a year and a day ahead (airlines
/// sell about eleven months ahead). Outside it a date is a mistake, not a flight.
pub const EARLIEST_DEPARTURE_DAYS_AGO: i64 = 1;
pub const LATEST_DEPARTURE_DAYS_AHEAD: i64 = 366;

/// The latest instant the domain computes with; arithmetic saturates here instead of
/// overflowing the calendar.
fn end_of_time() -> OffsetDateTime {
    time::PrimitiveDateTime::MAX.assume_utc()
}

/// `at + by`, saturating at the end of the calendar rather than overflowing.
pub fn later(at: OffsetDateTime, by: Duration) -> OffsetDateTime {
    at.checked_add(by).unwrap_or_else(end_of_time)
}

/// IATA airline designator: two characters, letters or digits, not both digits (`UA`, `U2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier(String);

impl Carrier {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_ascii_uppercase();
        let valid = code.len() == 2
            && code.chars().all(|c| c.is_ascii_alphanumeric())
            && !code.chars().all(|c| c.is_ascii_digit());
        if valid { Ok(Self(code)) } else { Err("must be a two-character IATA airline code such as UA or U2".into()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Flight number, 1 to 9999; `0083` and `83` are the same flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlightNumber(u16);

impl FlightNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let number = if (1..=4).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_digit()) {
            raw.parse::<u16>().ok()
        } else {
            None
        };
        match number {
            Some(n) if n > 0 => Ok(Self(n)),
            _ => Err("must be 1 to 4 digits, not all zero".into()),
        }
    }

    pub fn value(self) -> u16 {
        self.0
    }
}

/// IATA airport code: three letters (`SFO`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirportCode(String);

impl AirportCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) {
            Ok(Self(code))
        } else {
            Err("must be a three-letter IATA airport code such as SFO".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A flight's natural identity: carrier, number and departure date, as in `UA83-2026-12-01`.
/// Registering the same flight twice is therefore detectable without a lookup table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlightId(String);

impl FlightId {
    pub fn new(carrier: &Carrier, number: FlightNumber, date: Date) -> Self {
        Self(format!("{}{}-{}", carrier.as_str(), number.value(), format_date(date)))
    }

    /// Reads an id from a URL: `Ok(None)` for one written correctly that no flight can have
    /// (a date such as February 30th), which is "not found" rather than "invalid".
    pub fn lookup(raw: &str) -> Result<Option<Self>, String> {
        match Self::parse(raw) {
            Ok(id) => Ok(Some(id)),
            Err(_) if Self::well_formed(raw) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The id's written form, as openapi.yaml's pattern states it: carrier (two letters or
    /// digits, not both digits), number without leading zeros, and a YYYY-MM-DD date.
    fn well_formed(raw: &str) -> bool {
        let b = raw.as_bytes();
        let Some(dash) = raw.find('-') else { return false };
        let (carrier, number, date) = (&b[..2.min(b.len())], &b[2.min(dash)..dash], &raw[dash + 1..]);
        let upper_or_digit = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
        let carrier_ok =
            carrier.len() == 2 && carrier.iter().all(upper_or_digit) && !carrier.iter().all(u8::is_ascii_digit);
        let number_ok = (1..=4).contains(&number.len()) && number.iter().all(u8::is_ascii_digit) && number[0] != b'0';
        let date = date.as_bytes();
        let digits = |r: std::ops::Range<usize>| date.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        let date_ok = date.len() == 10
            && digits(0..4)
            && date[4] == b'-'
            && digits(5..7)
            && date[7] == b'-'
            && digits(8..10)
            && (b"01".as_slice()..=b"12".as_slice()).contains(&&date[5..7])
            && (b"01".as_slice()..=b"31".as_slice()).contains(&&date[8..10]);
        carrier_ok && number_ok && date_ok
    }

    /// Parses an id from a URL or a message, accepting only the canonical form.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || "must be a flight id such as UA83-2026-12-01".to_owned();
        let (flight, date) = raw.split_at_checked(raw.find('-').ok_or_else(invalid)?).ok_or_else(invalid)?;
        let date = parse_date(&date[1..]).map_err(|_| invalid())?;
        let carrier = Carrier::parse(flight.get(..2).ok_or_else(invalid)?).map_err(|_| invalid())?;
        let number = FlightNumber::parse(flight.get(2..).ok_or_else(invalid)?).map_err(|_| invalid())?;
        let id = Self::new(&carrier, number, date);
        if id.0 == raw { Ok(id) } else { Err(invalid()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FlightId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered flight (without its passengers, which are stored and read page by page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flight {
    pub id: FlightId,
    pub carrier: Carrier,
    pub number: FlightNumber,
    pub date: Date,
    pub origin: AirportCode,
    pub destination: AirportCode,
    pub scheduled_departure: OffsetDateTime,
    pub passenger_count: u32,
}

impl Flight {
    /// When the flight's data may be deleted: `retention` after departure, or after now
    /// for flights registered after they left (historic data loaded for analysis or demos).
    pub fn expires_at(&self, now: OffsetDateTime, retention: Duration) -> OffsetDateTime {
        later(self.scheduled_departure.max(now), retention)
    }

    /// The flight in the words used on a ticket: `UA83`.
    pub fn designator(&self) -> String {
        format!("{}{}", self.carrier.as_str(), self.number.value())
    }
}

/// The body of `POST /flights` as sent; every field optional so that all missing ones
/// are reported together.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlightRequest {
    pub carrier: Option<String>,
    pub flight_number: Option<String>,
    pub date: Option<String>,
    pub origin: Option<String>,
    pub destination: Option<String>,
    pub scheduled_departure: Option<String>,
    pub passengers: Option<Vec<PassengerRequest>>,
}

/// A validated registration: the flight and the passengers to store with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlight {
    pub flight: Flight,
    pub passengers: Vec<NewPassenger>,
}

impl NewFlight {
    /// A fingerprint of everything the registration says (flight and passengers, in
    /// order): a retried registration has the same one, any other a different one. Stored
    /// with the flight, it makes `POST /flights` safe to retry after a lost answer.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let f = &self.flight;
        let mut hash = Sha256::new();
        // Unit and record separators keep fields from running into one another.
        let departure = f.scheduled_departure.format(&Rfc3339).unwrap_or_default();
        for field in [f.id.as_str(), f.origin.as_str(), f.destination.as_str(), departure.as_str()] {
            hash.update(field.as_bytes());
            hash.update([0x1f]);
        }
        for p in &self.passengers {
            for field in [p.name.as_str(), p.email.address(), p.mobile.e164()] {
                hash.update(field.as_bytes());
                hash.update([0x1f]);
            }
            hash.update([0x1e]);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Whether `date` is in the window of departure dates accepted on `today`.
pub fn check_departure_date(date: Date, today: Date) -> Result<Date, String> {
    let earliest = today.checked_sub(Duration::days(EARLIEST_DEPARTURE_DAYS_AGO));
    let latest = today.checked_add(Duration::days(LATEST_DEPARTURE_DAYS_AHEAD));
    match (earliest, latest) {
        (Some(earliest), Some(latest)) if (earliest..=latest).contains(&date) => Ok(date),
        (earliest, latest) => Err(format!(
            "must be between {} and {} (from yesterday to {LATEST_DEPARTURE_DAYS_AHEAD} days ahead, UTC)",
            earliest.map(format_date).unwrap_or_default(),
            latest.map(format_date).unwrap_or_default()
        )),
    }
}

impl NewFlight {
    /// Checks a registration made on `today` (UTC): every field, all problems reported together.
    pub fn validate(req: FlightRequest, today: Date) -> Result<Self, Invalid> {
        let mut c = Collector::new();
        let carrier = c.required("carrier", req.carrier, |s| Carrier::parse(&s));
        let number = c.required("flightNumber", req.flight_number, |s| FlightNumber::parse(&s));
        let date = c.required("date", req.date, |s| parse_date(&s).and_then(|d| check_departure_date(d, today)));
        let origin = c.required("origin", req.origin, |s| AirportCode::parse(&s));
        let destination = c.required("destination", req.destination, |s| AirportCode::parse(&s));
        let departure = c.required("scheduledDeparture", req.scheduled_departure, |s| {
            OffsetDateTime::parse(s.trim(), &Rfc3339)
                .map_err(|_| "must be an RFC 3339 date-time with offset, such as 2026-12-01T08:30:00-08:00".to_owned())
        });
        if let (Some(o), Some(d)) = (&origin, &destination)
            && o == d
        {
            c.push("destination", "must differ from origin");
        }
        if let (Some(date), Some(dep)) = (date, departure)
            && dep.date() != date
        {
            c.push("scheduledDeparture", "must fall on the flight's date, in the departure airport's local time");
        }
        let mut passengers = Vec::new();
        match req.passengers {
            None => c.push("passengers", "is required"),
            Some(list) if list.is_empty() => c.push("passengers", "must list at least one passenger"),
            Some(list) if list.len() > MAX_PASSENGERS => {
                c.push("passengers", format!("must list at most {MAX_PASSENGERS} passengers"))
            }
            Some(list) => {
                let mut sharing = std::collections::HashMap::<String, usize>::new();
                for (i, p) in list.into_iter().enumerate() {
                    if let Some(p) = p.validate(&format!("passengers[{i}]"), &mut c) {
                        let count = sharing.entry(p.mobile.e164().to_owned()).or_default();
                        *count += 1;
                        if *count == MAX_PASSENGERS_PER_NUMBER + 1 {
                            c.push(
                                &format!("passengers[{i}].mobile"),
                                format!("is shared by more than {MAX_PASSENGERS_PER_NUMBER} passengers of this flight"),
                            );
                        }
                        passengers.push(p);
                    }
                }
            }
        }
        c.finish(|| {
            let (carrier, number, date) = (carrier?, number?, date?);
            let passenger_count = u32::try_from(passengers.len()).ok()?;
            Some(NewFlight {
                flight: Flight {
                    id: FlightId::new(&carrier, number, date),
                    carrier,
                    number,
                    date,
                    origin: origin?,
                    destination: destination?,
                    scheduled_departure: departure?,
                    passenger_count,
                },
                passengers,
            })
        })
    }
}

pub fn parse_date(raw: &str) -> Result<Date, String> {
    Date::parse(raw.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| "must be a calendar date in the form YYYY-MM-DD".to_owned())
}

pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The day the tests' registrations are made.
    pub(crate) const TODAY: Date = time::macros::date!(2026 - 11 - 24);

    pub(crate) fn request() -> FlightRequest {
        serde_json::from_value(serde_json::json!({
            "carrier": "ua",
            "flightNumber": "0083",
            "date": "2026-12-01",
            "origin": "sfo",
            "destination": "JFK",
            "scheduledDeparture": "2026-12-01T08:30:00-08:00",
            "passengers": [
                {"name": "Ada Lovelace", "email": "ada@example.com", "mobile": "+447911123456"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn a_valid_request_becomes_a_flight_with_a_canonical_id() {
        let new = NewFlight::validate(request(), TODAY).unwrap();
        assert_eq!(new.flight.id.as_str(), "UA83-2026-12-01");
        assert_eq!(new.flight.origin.as_str(), "SFO");
        assert_eq!(new.flight.passenger_count, 1);
        assert_eq!(new.flight.designator(), "UA83");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut req = request();
        req.carrier = Some("123".into());
        req.destination = Some("SFO".into());
        req.scheduled_departure = Some("2026-12-02T01:00:00Z".into());
        req.passengers = Some(vec![serde_json::from_value(serde_json::json!({"name": "", "mobile": "12"})).unwrap()]);
        let Invalid(errors) = NewFlight::validate(req, TODAY).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "carrier",
                "destination",
                "scheduledDeparture",
                "passengers[0].name",
                "passengers[0].email",
                "passengers[0].mobile"
            ]
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let req: FlightRequest = serde_json::from_str("{}").unwrap();
        let Invalid(errors) = NewFlight::validate(req, TODAY).unwrap_err();
        assert_eq!(errors.len(), 7);
        assert!(errors.iter().all(|e| e.detail == "is required"));
    }

    #[test]
    fn a_well_formed_id_no_flight_can_have_is_not_found_rather_than_invalid() {
        assert_eq!(FlightId::lookup("UA83-2026-02-30"), Ok(None));
        assert_eq!(FlightId::lookup("UA83-2026-12-01").unwrap().unwrap().as_str(), "UA83-2026-12-01");
        for invalid in
            ["UA83-2026-13-01", "UA083-2026-12-01", "00083-2026-12-01", "ua83-2026-12-01", "UA83-2026-12-32", "UA"]
        {
            assert!(FlightId::lookup(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn flight_ids_round_trip_and_refuse_other_forms() {
        let id = FlightId::parse("U2123-2026-01-31").unwrap();
        assert_eq!(id.as_str(), "U2123-2026-01-31");
        for bad in
            ["", "UA83", "UA083-2026-12-01", "ua83-2026-12-01", "UA83-2026-13-01", "UA83-2026-12-01x", "12-2026-12-01"]
        {
            assert!(FlightId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_family_may_share_a_phone_but_not_a_whole_flight() {
        let passengers = |n: usize, mobile: &str| -> Vec<PassengerRequest> {
            (0..n)
                .map(|i| {
                    serde_json::from_value(
                        serde_json::json!({"name": format!("P{i}"), "email": "p@example.com", "mobile": mobile}),
                    )
                    .unwrap()
                })
                .collect()
        };
        let mut family = request();
        family.passengers = Some(passengers(MAX_PASSENGERS_PER_NUMBER, "+447911123456"));
        assert!(NewFlight::validate(family, TODAY).is_ok());

        let mut flood = request();
        let mut list = passengers(500, "+447911123456");
        list.extend(passengers(3, "+447911123457"));
        flood.passengers = Some(list);
        let invalid = NewFlight::validate(flood, TODAY).unwrap_err();
        let fields: Vec<&str> = invalid.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [format!("passengers[{MAX_PASSENGERS_PER_NUMBER}].mobile")],
            "named once, where it tips over"
        );
        assert!(invalid.0[0].detail.contains("shared by more than 10"), "{invalid:?}");
    }

    #[test]
    fn the_same_registration_has_the_same_fingerprint_and_any_change_another() {
        let base = NewFlight::validate(request(), TODAY).unwrap();
        assert_eq!(base.fingerprint(), NewFlight::validate(request(), TODAY).unwrap().fingerprint());
        assert_eq!(base.fingerprint().len(), 64);
        let mut respelled = request();
        respelled.origin = Some(" SFO ".into());
        assert_eq!(NewFlight::validate(respelled, TODAY).unwrap().fingerprint(), base.fingerprint(), "same meaning");
        let mut other = request();
        other.passengers = Some(vec![
            serde_json::from_value(serde_json::json!(
                {"name": "Ada Lovelace", "email": "ada@example.com", "mobile": "+447911123457"}
            ))
            .unwrap(),
        ]);
        assert_ne!(NewFlight::validate(other, TODAY).unwrap().fingerprint(), base.fingerprint());
    }

    #[test]
    fn departure_dates_outside_the_window_are_refused_with_the_window() {
        for (date, ok) in [("2026-11-23", true), ("2026-11-22", false), ("2027-11-25", true), ("2027-11-26", false)] {
            let mut req = request();
            req.date = Some(date.into());
            req.scheduled_departure = Some(format!("{date}T08:30:00-08:00"));
            let result = NewFlight::validate(req, TODAY);
            assert_eq!(result.is_ok(), ok, "{date}: {result:?}");
            if let Err(Invalid(errors)) = result {
                assert_eq!(errors[0].field, "date");
                assert!(errors[0].detail.contains("between 2026-11-23 and 2027-11-25"), "{}", errors[0].detail);
            }
        }
        let mut ancient = request();
        ancient.date = Some("0000-01-01".into());
        assert!(NewFlight::validate(ancient, TODAY).is_err());
    }

    #[test]
    fn arithmetic_at_the_end_of_the_calendar_saturates() {
        let mut flight = NewFlight::validate(request(), TODAY).unwrap().flight;
        flight.scheduled_departure = time::macros::datetime!(9999-12-31 23:00 UTC);
        assert_eq!(flight.expires_at(flight.scheduled_departure, RETENTION_AFTER_DEPARTURE), end_of_time());
    }

    use proptest::prelude::*;

    proptest! {
        /// Any calendar date, of any year the format allows: a clear answer, never a panic,
        /// and accepted exactly when it is inside the window.
        #[test]
        fn any_departure_date_is_judged_without_panicking(year in 0i32..=9999, month in 1u8..=12, day in 1u8..=31, offset in -14i8..=14) {
            let date = format!("{year:04}-{month:02}-{day:02}");
            let mut req = request();
            req.date = Some(date.clone());
            req.scheduled_departure = Some(format!("{date}T12:00:00{offset:+03}:00"));
            let result = NewFlight::validate(req, TODAY);
            match time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day) {
                Ok(parsed) => {
                    let inside = check_departure_date(parsed, TODAY).is_ok();
                    prop_assert_eq!(result.is_ok(), inside, "{} {:?}", date, result);
                    if let Ok(new) = result {
                        let expires = new.flight.expires_at(OffsetDateTime::now_utc(), RETENTION_AFTER_DEPARTURE);
                        prop_assert!(expires > new.flight.scheduled_departure);
                    }
                }
                Err(_) => prop_assert!(result.is_err()),
            }
        }

        /// Arithmetic on any instant the calendar holds never overflows.
        #[test]
        fn expiry_is_total(days in -3_000_000i64..=3_000_000, secs in 0i64..86_400) {
            let epoch = time::macros::datetime!(2000-01-01 00:00 UTC);
            if let Some(at) = epoch.checked_add(Duration::days(days) + Duration::seconds(secs)) {
                let mut flight = NewFlight::validate(request(), TODAY).unwrap().flight;
                flight.scheduled_departure = at;
                prop_assert!(flight.expires_at(at, RETENTION_AFTER_DEPARTURE) >= at);
            }
        }
    }

    #[test]
    fn data_is_kept_its_retention_after_departure_or_after_now() {
        let flight = NewFlight::validate(request(), TODAY).unwrap().flight;
        let before = time::macros::datetime!(2026-11-01 00:00 UTC);
        assert_eq!(
            flight.expires_at(before, RETENTION_AFTER_DEPARTURE),
            flight.scheduled_departure + Duration::days(30)
        );
        let after = time::macros::datetime!(2027-01-01 00:00 UTC);
        assert_eq!(flight.expires_at(after, RETENTION_AFTER_DEPARTURE), after + Duration::days(30));
        assert_eq!(flight.expires_at(before, Duration::days(2)), flight.scheduled_departure + Duration::days(2));
        assert_eq!(flight.expires_at(after, Duration::days(2)), after + Duration::days(2));
    }
}
