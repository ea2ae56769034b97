//! The flights table: one item per flight and one per passenger, in the flight's
//! partition.
//!
//! | pk                 | sk                         | what                          |
//! |--------------------|----------------------------|-------------------------------|
//! | `FLIGHT#<flightId>`| `FLIGHT`                   | the flight, with its `registration` and `fingerprint` |
//! | `FLIGHT#<flightId>`| `PAX#<registration>#<n>`   | passenger n (name, email, mobile) |
//!
//! Registration writes the passengers first under a fresh registration id and the flight
//! item last, conditionally. The flight item is the commit point: readers only see
//! passengers of the registration it names, so a registration that failed half way, or
//! lost a race for the same flight, leaves nothing visible (its items expire by TTL).
//!
//! A flight's items expire `retention` after departure (the `FLIGHTS_RETENTION_DAYS`
//! setting). DynamoDB deletes expired items only eventually: until then an expired flight
//! reads as absent and may be registered again.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use domain::PhoneNumber;
use domain::flight_alerts::flight::{
    AirportCode, Carrier, FlightNumber, RETENTION_AFTER_DEPARTURE, format_date, parse_date,
};
use domain::flight_alerts::{Flight, FlightId, NewFlight, Passenger};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::deadline::Deadline;
use crate::dynamo::{Item, TTL_ATTRIBUTE, epoch, get_n, get_s, is_expired, n, parse_s, s};

#[derive(Debug, Clone)]
pub struct FlightsTable {
    client: Client,
    name: String,
    /// How long a flight is kept after departure.
    retention: Duration,
}

/// A flight as read back, with the registration its passengers are stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFlight {
    pub flight: Flight,
    pub registration: String,
    /// What the registration said ([`NewFlight::fingerprint`]).
    pub fingerprint: String,
}

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created,
    /// Registered before with exactly this registration: a retry, nothing to do.
    AlreadyRegistered,
    /// Registered before with something else.
    Conflict,
}

/// One page of a flight's passengers.
#[derive(Debug)]
pub struct PassengerPage {
    pub passengers: Vec<Passenger>,
    /// Where the next page starts; `None` after the last one.
    pub next: Option<String>,
}

fn partition(id: &FlightId) -> String {
    format!("FLIGHT#{id}")
}

fn passenger_prefix(registration: &str) -> String {
    format!("PAX#{registration}#")
}

impl FlightsTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into(), retention: RETENTION_AFTER_DEPARTURE }
    }

    /// Keeps flights registered from now on for `retention` after departure.
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stores a flight and its passengers, unless the flight is registered already;
    /// gives up (with nothing visible) rather than work past `deadline`.
    pub async fn register(
        &self,
        new: &NewFlight,
        registration: &str,
        now: OffsetDateTime,
        deadline: &Deadline,
    ) -> Result<Registered, Error> {
        let flight = &new.flight;
        let fingerprint = new.fingerprint();
        if let Some(existing) = self.get(&flight.id).await? {
            return Ok(Self::compare(&existing, &fingerprint));
        }
        let pk = partition(&flight.id);
        let expires = epoch(flight.expires_at(now, self.retention));
        let prefix = passenger_prefix(registration);
        let requests: Vec<WriteRequest> = new
            .passengers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let item = [
                    ("pk", s(&pk)),
                    ("sk", s(format!("{prefix}{i:05}"))),
                    ("name", s(&p.name)),
                    ("email", s(p.email.address())),
                    ("mobile", s(p.mobile.e164())),
                    (TTL_ATTRIBUTE, expires.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                let put =
                    PutRequest::builder().set_item(Some(item)).build().map_err(|e| Error::build("PutRequest", e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, Error>>()?;
        crate::dynamo::write_all(&self.client, &self.name, requests, deadline).await?;

        let departure = flight.scheduled_departure.format(&Rfc3339).map_err(|e| Error::Malformed(e.to_string()))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", s(&pk))
            .item("sk", s("FLIGHT"))
            .item("carrier", s(flight.carrier.as_str()))
            .item("flightNumber", n(flight.number.value()))
            .item("date", s(format_date(flight.date)))
            .item("origin", s(flight.origin.as_str()))
            .item("destination", s(flight.destination.as_str()))
            .item("scheduledDeparture", s(departure))
            .item("passengerCount", n(flight.passenger_count))
            .item("registration", s(registration))
            .item("fingerprint", s(&fingerprint))
            .item(TTL_ATTRIBUTE, expires)
            // An expired flight not yet deleted is gone as far as readers know.
            .condition_expression("attribute_not_exists(pk) OR #expires <= :now")
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", epoch(now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Registered::Created),
            // Another registration of the flight committed first: same, or different?
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                match self.get(&flight.id).await? {
                    Some(existing) => Ok(Self::compare(&existing, &fingerprint)),
                    None => Err(Error::Malformed("the flight item vanished after a conflict".into())),
                }
            }
            Err(err) => Err(Error::dynamo("PutItem", err)),
        }
    }

    fn compare(existing: &StoredFlight, fingerprint: &str) -> Registered {
        if existing.fingerprint == fingerprint { Registered::AlreadyRegistered } else { Registered::Conflict }
    }

    /// Reads a flight; `None` when it was never registered (or has expired).
    pub async fn get(&self, id: &FlightId) -> Result<Option<StoredFlight>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", s(partition(id)))
            .key("sk", s("FLIGHT"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        let now = OffsetDateTime::now_utc();
        out.item.filter(|item| !is_expired(item, now)).map(|item| read_flight(id, &item)).transpose()
    }

    /// One page of the passengers of a registration, at most `limit` of them. Not
    /// filtered on expiry: they are read only for a flight [`Self::get`] returned, and
    /// expire with it.
    pub async fn passengers(
        &self,
        stored: &StoredFlight,
        start_after: Option<String>,
        limit: i32,
    ) -> Result<PassengerPage, Error> {
        let pk = partition(&stored.flight.id);
        let prefix = passenger_prefix(&stored.registration);
        let start = start_after.map(|sk| [("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(sk))].into());
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(&prefix))
            .projection_expression("sk, mobile")
            // A strongly consistent read: every passenger written before the flight item is
            // seen, however soon after the registration the alert comes.
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(|e| Error::dynamo("Query", e))?;
        let passengers = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| {
                let sk = get_s(item, "sk")?;
                Ok(Passenger {
                    id: sk.trim_start_matches("PAX#").to_owned(),
                    mobile: parse_s(item, "mobile", PhoneNumber::from_e164)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let next = match out.last_evaluated_key {
            Some(key) => Some(get_s(&key, "sk")?.to_owned()),
            None => None,
        };
        Ok(PassengerPage { passengers, next })
    }
}

fn read_flight(id: &FlightId, item: &Item) -> Result<StoredFlight, Error> {
    let number: String = get_n::<u16>(item, "flightNumber")?.to_string();
    Ok(StoredFlight {
        flight: Flight {
            id: id.clone(),
            carrier: parse_s(item, "carrier", Carrier::parse)?,
            number: FlightNumber::parse(&number).map_err(Error::Malformed)?,
            date: parse_s(item, "date", parse_date)?,
            origin: parse_s(item, "origin", AirportCode::parse)?,
            destination: parse_s(item, "destination", AirportCode::parse)?,
            scheduled_departure: parse_s(item, "scheduledDeparture", |v| {
                OffsetDateTime::parse(v, &Rfc3339).map_err(|e| e.to_string())
            })?,
            passenger_count: get_n(item, "passengerCount")?,
        },
        registration: get_s(item, "registration")?.to_owned(),
        fingerprint: crate::dynamo::get_opt_s(item, "fingerprint").unwrap_or_default().to_owned(),
    })
}
