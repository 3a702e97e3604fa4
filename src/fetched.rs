//! An answer of the service kept in a signal: fetched when made, and again
//! whenever a signal its request reads changes or on `refetch`. The answer
//! shown stays until the next one arrives; an answer to a request that a
//! newer one replaced is dropped.
//!
//! A request must *read* the memos it depends on (`get`, `with`), not only
//! `track()` them: in reactive_graph a memo that nobody has read is never
//! computed, so it never hears of its own inputs and never notifies. (Plain
//! signals may be tracked.) `LocalResource` hid this; a contact's screen
//! stopped refetching on live events until `contact_data.rs` read its memo.
//!
//! What Leptos' `LocalResource` does for these screens, without its async
//! machinery (Suspense, wakers, subscriptions), which was instantiated anew
//! for every answer type: about a tenth of the wasm's code.

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

pub struct Fetched<T: Send + Sync + 'static> {
    answer: RwSignal<Option<T>>,
    again: RwSignal<u64>,
}

impl<T: Send + Sync + 'static> Clone for Fetched<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Fetched<T> {}

impl<T: Clone + Send + Sync + 'static> Fetched<T> {
    /// Runs `request` now (tracking what it reads) and again whenever that changes.
    pub fn new<F>(request: impl Fn() -> F + 'static) -> Self
    where
        F: Future<Output = T> + 'static,
    {
        let answer = RwSignal::new(None);
        let again = RwSignal::new(0u64);
        let latest = StoredValue::new(0u64);
        Effect::new(move |_| {
            again.track();
            let sent = request();
            let run = latest.try_update_value(|n| {
                *n += 1;
                *n
            });
            spawn_local(async move {
                let received = sent.await;
                if run.is_some() && latest.try_get_value() == run {
                    let _ = answer.try_set(Some(received));
                }
            });
        });
        Self { answer, again }
    }

    /// The latest answer, `None` before the first (tracked).
    pub fn get(&self) -> Option<T> {
        self.answer.get()
    }

    /// The latest answer, not tracked.
    pub fn get_untracked(&self) -> Option<T> {
        self.answer.get_untracked()
    }

    /// Subscribes to new answers without reading them.
    pub fn track(&self) {
        self.answer.track();
    }

    /// Asks again.
    pub fn refetch(&self) {
        self.again.update(|n| *n += 1);
    }
}
