//! Leases on duties one instance at a time does for all (the archive
//! delivery): held until they run out, renewed only by their holder, taken
//! over once run out, given up at a clean stop.

mod support;

use chrono::{Duration, Utc};
use support::start;

#[tokio::test]
async fn a_lease_is_held_by_one_instance_until_it_runs_out_or_is_given_up() {
    let t = start().await;
    let store = &t.service.state.store;
    let now = Utc::now();
    let minute = Duration::minutes(1);
    assert!(store
        .hold_lease("duty", "a", now, now + minute)
        .await
        .unwrap());
    assert!(
        !store
            .hold_lease("duty", "b", now, now + minute)
            .await
            .unwrap(),
        "another instance waits while the lease runs"
    );
    assert!(
        store
            .hold_lease("duty", "a", now + minute / 2, now + minute * 2)
            .await
            .unwrap(),
        "the holder renews it"
    );
    let later = now + minute * 2;
    assert!(
        !store
            .hold_lease("duty", "b", later - Duration::seconds(1), later)
            .await
            .unwrap(),
        "the renewal counts"
    );
    assert!(
        store
            .hold_lease("duty", "b", later, later + minute)
            .await
            .unwrap(),
        "once run out, another instance takes it"
    );
    assert!(
        !store
            .hold_lease("duty", "a", later, later + minute)
            .await
            .unwrap(),
        "the old holder has lost it"
    );
    assert!(
        store
            .hold_lease("other duty", "a", later, later + minute)
            .await
            .unwrap(),
        "each duty has its own lease"
    );
    store.release_lease("duty", "a").await.unwrap();
    assert!(
        !store
            .hold_lease("duty", "a", later, later + minute)
            .await
            .unwrap(),
        "only the holder gives it up"
    );
    store.release_lease("duty", "b").await.unwrap();
    assert!(store
        .hold_lease("duty", "a", later, later + minute)
        .await
        .unwrap());
    t.service.stop().await;
}
