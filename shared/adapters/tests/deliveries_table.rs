//! Delivery records against moto: the claim / complete / release protocol that makes
//! texting idempotent.

use adapters::flight_alerts::deliveries_table::{Claim, DeliveriesTable};
use domain::flight_alerts::delivery::{CLAIM_TIMEOUT, DeliveryState, Refusal};
use time::{Duration, OffsetDateTime};

async fn table() -> DeliveriesTable {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    DeliveriesTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        &resources.get("SmsDeliveriesTable").unwrap().reference,
    )
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

#[tokio::test]
async fn a_delivery_is_claimed_once_and_then_known_as_sent() {
    let deliveries = table().await;
    let t = now();
    assert_eq!(deliveries.claim("a#1", t).await.unwrap(), Claim::Acquired);
    assert_eq!(deliveries.claim("a#1", t).await.unwrap(), Claim::Refused(Refusal::HeldElsewhere));
    deliveries.complete("a#1", t).await.unwrap();
    assert_eq!(deliveries.state("a#1").await.unwrap(), Some(DeliveryState::Completed));
    // Even long after, a completed delivery is never claimed again.
    assert_eq!(deliveries.claim("a#1", t + Duration::hours(1)).await.unwrap(), Claim::Refused(Refusal::AlreadySent));
}

#[tokio::test]
async fn a_lapsed_claim_is_taken_over_and_a_released_one_at_once() {
    let deliveries = table().await;
    let t = now();
    assert_eq!(deliveries.claim("b#1", t).await.unwrap(), Claim::Acquired);
    assert_eq!(deliveries.state("b#1").await.unwrap(), Some(DeliveryState::InProgress { until: t + CLAIM_TIMEOUT }));
    // The holder died: once the claim lapses, another sender may take it.
    assert_eq!(deliveries.claim("b#1", t + CLAIM_TIMEOUT).await.unwrap(), Claim::Acquired);

    assert_eq!(deliveries.claim("b#2", t).await.unwrap(), Claim::Acquired);
    deliveries.release("b#2").await.unwrap();
    assert_eq!(deliveries.state("b#2").await.unwrap(), None);
    assert_eq!(deliveries.claim("b#2", t).await.unwrap(), Claim::Acquired);
}

#[tokio::test]
async fn concurrent_claims_have_exactly_one_winner() {
    let deliveries = table().await;
    let t = now();
    let claims = futures::future::join_all((0..12).map(|_| deliveries.claim("c#1", t))).await;
    let winners = claims.iter().filter(|c| matches!(c, Ok(Claim::Acquired))).count();
    assert_eq!(winners, 1, "{claims:?}");
}
