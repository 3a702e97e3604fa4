//! Reads a live stream (`GET /api/v1/events`) as a browser's EventSource
//! would: each event's SSE id and JSON data; and writes events to it.

use std::time::Duration;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use optin_core::vocab::{Cause, EvidenceKind};
use optin_server::services::Work;
use optin_server::store::evidence::NewEvidence;
use optin_server::AppState;
use serde_json::{json, Value};

/// Reads Server-Sent Events from a body.
pub struct SseReader<S> {
    body: S,
    buffer: String,
    /// Every event read so far: (SSE id, data).
    pub events: Vec<(i64, Value)>,
}

impl<S, E> SseReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    pub fn new(body: S) -> Self {
        Self {
            body,
            buffer: String::new(),
            events: Vec::new(),
        }
    }

    /// Reads until an event with id `last` arrived; panics after 20 s.
    pub async fn read_through(&mut self, last: i64) {
        self.read_until(&format!("event {last}"), |events| {
            events.iter().any(|(id, _)| *id >= last)
        })
        .await;
    }

    /// Reads until `arrived` holds of the events read so far; panics after
    /// 20 s, saying it waited for `what`.
    pub async fn read_until(&mut self, what: &str, arrived: impl Fn(&[(i64, Value)]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !arrived(&self.events) {
            let chunk = match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(chunk)) => chunk.unwrap(),
                Ok(None) => panic!("the stream ended before {what}"),
                Err(_) => panic!(
                    "{what} never arrived; last ids: {:?}",
                    self.ids().iter().rev().take(5).collect::<Vec<_>>()
                ),
            };
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let id = block.lines().find_map(|l| l.strip_prefix("id:"));
                let data = block.lines().find_map(|l| l.strip_prefix("data:"));
                if let (Some(id), Some(data)) = (id, data) {
                    let data: Value = serde_json::from_str(data.trim()).unwrap();
                    let id: i64 = id.trim().parse().unwrap();
                    assert_eq!(data["id"], id, "the SSE id is the event id");
                    self.events.push((id, data));
                }
            }
        }
    }

    pub fn ids(&self) -> Vec<i64> {
        self.events.iter().map(|(id, _)| *id).collect()
    }
}

/// Appends `n` events for the demo organization, each committed and
/// published as the services do.
pub async fn write_events(state: &AppState, n: usize) {
    for i in 0..n {
        let mut work = Work::begin(state).await.unwrap();
        let event = NewEvidence::new(
            1,
            "+447911123456",
            None,
            EvidenceKind::MessageIn,
            Cause::Contact,
            json!({ "text": format!("message {i}") }),
            work.now,
        );
        work.record(event).await.unwrap();
        work.commit(state).await.unwrap();
    }
}
