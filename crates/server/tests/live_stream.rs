//! The live stream (`GET /api/v1/events`): `?after=` replays from that id,
//! the hand-over from the replay to live events loses nothing and repeats
//! nothing, and a reader that fell behind the broadcast catches up from
//! storage. Each test compares the ids received with the `consent_events` table.

mod support;

use axum::body::Bytes;
use futures_util::Stream;
use optin_server::AppState;
use serde_json::Value;
use support::sse::{write_events, SseReader};
use support::start;
use tower::ServiceExt;

/// Ids of the organization's events in the table, in order.
async fn stored_ids(state: &AppState, after: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT id FROM consent_events WHERE organization_id = 1 AND id > $1 ORDER BY id",
    )
    .bind(after)
    .fetch_all(state.store.pool())
    .await
    .unwrap()
}

/// Asserts that `got` is exactly `want`, naming what is missing, repeated or
/// out of order rather than printing both lists.
#[track_caller]
fn assert_ids(got: &[i64], want: &[i64], what: &str) {
    if got == want {
        return;
    }
    let missing: Vec<&i64> = want.iter().filter(|id| !got.contains(id)).collect();
    let mut repeated: Vec<i64> = got.to_vec();
    repeated.sort_unstable();
    let repeated: Vec<i64> = repeated
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    let unordered = got.windows(2).position(|w| w[0] >= w[1]);
    panic!(
        "{what}: got {} ids, expected {}; missing {} (first {:?}), repeated {} (first {:?}), first out of order at index {unordered:?}",
        got.len(),
        want.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        repeated.len(),
        repeated.iter().take(5).collect::<Vec<_>>(),
    );
}

/// `GET /api/v1/events{query}` through the router, without a socket: the
/// body is read only when the test reads it, so the test decides when the
/// reader is slow.
async fn events_in_process(
    state: &AppState,
    token: &str,
    query: &str,
) -> SseReader<impl Stream<Item = Result<Bytes, axum::Error>>> {
    let request = axum::http::Request::get(format!("/api/v1/events{query}"))
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = optin_server::app(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    SseReader::new(response.into_body().into_data_stream())
}

#[tokio::test]
async fn after_replays_the_events_after_that_id_then_live_ones() {
    let t = start().await;
    let state = &t.service.state;
    write_events(state, 5).await;
    let ids = stored_ids(state, 0).await;
    let after = ids[1];

    let response = t
        .http
        .get(format!("{}/api/v1/events?after={after}", t.base))
        .bearer_auth(&t.jane)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = SseReader::new(response.bytes_stream());
    reader.read_through(ids[4]).await;
    assert_ids(&reader.ids(), &ids[2..], &format!("replayed after {after}"));
    let kinds: Vec<&Value> = reader.events.iter().map(|(_, e)| &e["kind"]).collect();
    assert!(kinds.iter().all(|k| *k == "message_in"), "{kinds:?}");

    write_events(state, 2).await;
    let all = stored_ids(state, 0).await;
    reader.read_through(*all.last().unwrap()).await;
    assert_ids(&reader.ids(), &all[2..], "then live");
    t.service.stop().await;
}

#[tokio::test]
async fn the_hand_over_from_replay_to_live_loses_nothing_and_repeats_nothing() {
    let t = start().await;
    let state = &t.service.state;
    // More than one replay batch (500) is stored before the reader connects.
    write_events(state, 600).await;
    let mut reader = events_in_process(state, &t.jane, "?after=0").await;
    // The stream has subscribed and is replaying, held up by its reader:
    // these are committed after the subscription, during the replay.
    write_events(state, 40).await;
    let stored = stored_ids(state, 0).await;
    reader.read_through(*stored.last().unwrap()).await;
    assert_ids(&reader.ids(), &stored, "replay and hand-over");

    // And live from there.
    write_events(state, 10).await;
    let stored = stored_ids(state, 0).await;
    reader.read_through(*stored.last().unwrap()).await;
    assert_eq!(stored.len(), 650);
    assert_ids(&reader.ids(), &stored, "no gap, no duplicate, in order");
    t.service.stop().await;
}

#[tokio::test]
async fn a_reader_that_falls_behind_the_broadcast_catches_up_from_storage() {
    let t = start().await;
    let state = &t.service.state;
    write_events(state, 3).await;
    let start_at = *stored_ids(state, 0).await.last().unwrap();
    // Connected with no resume point: starts after the latest event.
    let mut reader = events_in_process(state, &t.jane, "").await;
    // The reader reads nothing while more events are published than the
    // broadcast keeps (1024) plus what the stream buffers.
    write_events(state, 1300).await;
    let stored = stored_ids(state, start_at).await;
    assert_eq!(stored.len(), 1300);
    reader.read_through(*stored.last().unwrap()).await;
    assert_ids(&reader.ids(), &stored, "every event once, in order");

    write_events(state, 5).await;
    let stored = stored_ids(state, start_at).await;
    reader.read_through(*stored.last().unwrap()).await;
    assert_ids(&reader.ids(), &stored, "and live again after catching up");
    t.service.stop().await;
}
