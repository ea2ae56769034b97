//! Delivery records against moto: one record per (alert, number), claimed, then SENT or
//! FAILED with the service's reason, or released.

use adapters::flight_alerts::deliveries_table::{Claim, DeliveriesTable};
use adapters::lease::Ownership;
use domain::flight_alerts::delivery::DeliveryState;
use time::{Duration, OffsetDateTime};

async fn table() -> DeliveriesTable {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    DeliveriesTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        &resources.get("SmsDeliveriesTable").unwrap().reference,
    )
}

fn id() -> String {
    format!("delivery-test#{}", uuid::Uuid::new_v4())
}

#[tokio::test]
async fn a_delivery_is_claimed_once_and_then_known_as_sent() {
    let deliveries = table().await;
    let (id, t) = (id(), OffsetDateTime::now_utc());
    let until = t + Duration::minutes(1);
    let Claim::Acquired(lease) = deliveries.claim(&id, "first", until, t).await.unwrap() else { panic!("acquired") };
    assert!(matches!(deliveries.claim(&id, "second", until, t).await.unwrap(), Claim::Held { .. }));
    assert!(matches!(deliveries.state(&id).await.unwrap(), Some(DeliveryState::InProgress { .. })));
    assert_eq!(deliveries.sent(&lease, t).await.unwrap(), Ownership::Kept);
    assert_eq!(deliveries.state(&id).await.unwrap(), Some(DeliveryState::Sent));
    // Even long after, a sent delivery is never claimed again.
    let later = t + Duration::hours(1);
    assert_eq!(deliveries.claim(&id, "third", later, later).await.unwrap(), Claim::Done(DeliveryState::Sent));
}

#[tokio::test]
async fn a_refused_number_is_recorded_with_the_reason_and_not_tried_again() {
    let deliveries = table().await;
    let (id, t) = (id(), OffsetDateTime::now_utc());
    let until = t + Duration::minutes(1);
    let Claim::Acquired(lease) = deliveries.claim(&id, "first", until, t).await.unwrap() else { panic!("acquired") };
    assert_eq!(deliveries.failed(&lease, "InvalidParameter", t).await.unwrap(), Ownership::Kept);
    let failed = DeliveryState::Failed { reason: "InvalidParameter".into() };
    assert_eq!(deliveries.claim(&id, "retry", until, t).await.unwrap(), Claim::Done(failed));
}

#[tokio::test]
async fn a_released_claim_is_free_at_once() {
    let deliveries = table().await;
    let (id, t) = (id(), OffsetDateTime::now_utc());
    let until = t + Duration::minutes(1);
    let Claim::Acquired(lease) = deliveries.claim(&id, "first", until, t).await.unwrap() else { panic!("acquired") };
    assert_eq!(deliveries.release(&lease).await.unwrap(), Ownership::Kept);
    assert_eq!(deliveries.state(&id).await.unwrap(), None);
    assert!(matches!(deliveries.claim(&id, "second", until, t).await.unwrap(), Claim::Acquired(_)));
}

#[tokio::test]
async fn records_are_kept_for_the_configured_retention_and_never_less_than_fifteen_days() {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let (dynamo, name) =
        (aws_sdk_dynamodb::Client::new(&config), resources.get("SmsDeliveriesTable").unwrap().reference.clone());
    match DeliveriesTable::new(dynamo.clone(), &name).with_retention(Duration::days(14)) {
        Err(adapters::Error::InvalidSetting { name: "SMS_DELIVERIES_RETENTION_DAYS", problem }) => {
            assert!(problem.contains("at least 15 days"), "{problem}")
        }
        other => panic!("14 days accepted: {other:?}"),
    }
    let deliveries = DeliveriesTable::new(dynamo.clone(), &name).with_retention(Duration::days(20)).unwrap();
    let (id, t) = (id(), OffsetDateTime::now_utc());
    let expires = || async {
        let out = dynamo
            .get_item()
            .table_name(&name)
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.clone()))
            .send()
            .await
            .unwrap();
        let item = out.item.expect("stored");
        item.get("expiresAt").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok()).unwrap()
    };
    let Claim::Acquired(lease) = deliveries.claim(&id, "first", t + Duration::minutes(1), t).await.unwrap() else {
        panic!("acquired")
    };
    assert_eq!(expires().await, (t + Duration::days(20)).unix_timestamp());
    let done = t + Duration::seconds(30);
    deliveries.sent(&lease, done).await.unwrap();
    assert_eq!(expires().await, (done + Duration::days(20)).unix_timestamp());
}
