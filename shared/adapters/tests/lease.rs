//! Leases against moto, on the SMS deliveries table (a lease table keyed by `id`).

use adapters::dynamo::{get_opt_s, s};
use adapters::lease::{Acquire, IN_PROGRESS, Leases, Ownership};
use aws_sdk_dynamodb::Client;
use time::{Duration, OffsetDateTime};

async fn leases() -> Leases {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    Leases::new(Client::new(&config), &resources.get("SmsDeliveriesTable").unwrap().reference)
}

fn id() -> String {
    format!("lease-test#{}", uuid::Uuid::new_v4())
}

#[tokio::test]
async fn one_holder_at_a_time_then_the_outcome_for_everyone() {
    let leases = leases().await;
    let (id, now) = (id(), OffsetDateTime::now_utc());
    let (until, expires) = (now + Duration::minutes(1), now + Duration::days(1));

    let Acquire::Acquired(first) = leases.acquire(&id, "a", until, now, expires).await.unwrap() else {
        panic!("a fresh record is acquired")
    };
    assert!(!first.took_over);
    match leases.acquire(&id, "b", until, now, expires).await.unwrap() {
        Acquire::Held { until: held } => assert_eq!(held.unix_timestamp(), until.unix_timestamp() + 1, "rounded up"),
        other => panic!("a live lease holds: {other:?}"),
    }
    let finished = leases.finish(&first, "SENT", &[("note", s("hello"))], expires).await.unwrap();
    assert_eq!(finished, Ownership::Kept);
    match leases.acquire(&id, "c", until, now, expires).await.unwrap() {
        Acquire::Finished(item) => {
            assert_eq!((get_opt_s(&item, "state"), get_opt_s(&item, "note")), (Some("SENT"), Some("hello")));
            assert!(!item.contains_key("owner") && !item.contains_key("leaseUntil"), "{item:?}");
        }
        other => panic!("a finished record stays finished: {other:?}"),
    }
}

#[tokio::test]
async fn a_lapsed_lease_is_taken_over_at_once_and_its_old_holder_cannot_overwrite() {
    let leases = leases().await;
    let (id, now) = (id(), OffsetDateTime::now_utc());
    let expires = now + Duration::days(1);
    let Acquire::Acquired(crashed) =
        leases.acquire(&id, "crashed", now + Duration::seconds(5), now, expires).await.unwrap()
    else {
        panic!("acquired")
    };
    // Later, by the clock of whoever comes next, the lease has lapsed.
    let later = now + Duration::seconds(10);
    let Acquire::Acquired(next) =
        leases.acquire(&id, "next", later + Duration::minutes(1), later, expires).await.unwrap()
    else {
        panic!("a lapsed lease is taken over without waiting")
    };
    assert!(next.took_over);

    // The first holder comes back to life: neither its outcome nor its release counts.
    assert_eq!(leases.finish(&crashed, "SENT", &[], expires).await.unwrap(), Ownership::Lost);
    assert_eq!(leases.release(&crashed).await.unwrap(), Ownership::Lost);
    let item = leases.get(&id).await.unwrap().unwrap();
    assert_eq!((get_opt_s(&item, "state"), get_opt_s(&item, "owner")), (Some(IN_PROGRESS), Some("next")));

    assert_eq!(
        leases.finish(&next, "FAILED", &[("reason", s("InvalidParameter"))], expires).await.unwrap(),
        Ownership::Kept
    );
    let item = leases.get(&id).await.unwrap().unwrap();
    assert_eq!((get_opt_s(&item, "state"), get_opt_s(&item, "reason")), (Some("FAILED"), Some("InvalidParameter")));
}

#[tokio::test]
async fn a_released_lease_can_be_acquired_again_at_once() {
    let leases = leases().await;
    let (id, now) = (id(), OffsetDateTime::now_utc());
    let (until, expires) = (now + Duration::minutes(1), now + Duration::days(1));
    let Acquire::Acquired(first) = leases.acquire(&id, "a", until, now, expires).await.unwrap() else { panic!() };
    assert_eq!(leases.release(&first).await.unwrap(), Ownership::Kept);
    assert!(leases.get(&id).await.unwrap().is_none());
    let Acquire::Acquired(second) = leases.acquire(&id, "b", until, now, expires).await.unwrap() else {
        panic!("released, so free")
    };
    assert!(!second.took_over, "a released lease is not a takeover");
}

#[tokio::test]
async fn racing_acquirers_get_one_lease_between_them() {
    let leases = leases().await;
    let (id, now) = (id(), OffsetDateTime::now_utc());
    let (until, expires) = (now + Duration::minutes(1), now + Duration::days(1));
    let owners: Vec<String> = (0..8).map(|i| format!("owner-{i}")).collect();
    let attempts = futures::future::join_all(owners.iter().map(|o| leases.acquire(&id, o, until, now, expires))).await;
    let acquired = attempts.iter().filter(|a| matches!(a, Ok(Acquire::Acquired(_)))).count();
    let held = attempts.iter().filter(|a| matches!(a, Ok(Acquire::Held { .. }))).count();
    assert_eq!((acquired, held), (1, 7), "{attempts:?}");
}
