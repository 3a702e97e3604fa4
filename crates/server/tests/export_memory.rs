//! The organization export streams in constant memory: exporting a record
//! ten times longer does not raise the process's allocation high-water. A
//! number's evidence bundle holds a little per event, never the record.
//! Alone in its test binary, whose global allocator counts live bytes.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use optin_core::vocab::{Cause, EvidenceKind};
use optin_server::store::evidence::NewEvidence;
use serde_json::json;
use support::TestService;

/// The system allocator, counting the bytes live now and their high-water.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Appends `count` events of about 2 KB each to the demo organization's record.
async fn append_events(t: &TestService, count: usize) {
    let state = &t.service.state;
    let filler = "x".repeat(2000);
    for batch in 0..count.div_ceil(1000) {
        let mut work = state.store.begin_write().await.unwrap();
        for i in 0..1000.min(count - batch * 1000) {
            let event = NewEvidence::new(
                1,
                "+447911123456",
                Some(1),
                EvidenceKind::MessageOut,
                Cause::Advisor,
                json!({ "n": i, "rendered_text": filler }),
                state.clock.now(),
            );
            work.append_evidence(event).await.unwrap();
        }
        work.commit().await.unwrap();
    }
}

/// Downloads the export without keeping it; returns its size and how far
/// the allocation high-water rose above what was live before.
async fn export(t: &TestService, format: &str) -> (usize, usize) {
    download(t, &format!("/consent/export?format={format}")).await
}

/// Downloads `path` of the API without keeping it; returns its size and how
/// far the allocation high-water rose above what was live before.
async fn download(t: &TestService, path: &str) -> (usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let response = t
        .http
        .get(format!("{}/api/v1{path}", t.base))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut size = 0;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        size += chunk.unwrap().len();
    }
    (size, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

#[tokio::test]
async fn exporting_a_ten_times_longer_record_takes_no_more_memory() {
    let t = support::start().await;
    append_events(&t, 1_000).await;
    let (small, small_peak) = export(&t, "jsonl").await;
    let (small_csv, _) = export(&t, "csv").await;
    append_events(&t, 9_000).await;
    let (large, large_peak) = export(&t, "jsonl").await;
    let (csv, csv_peak) = export(&t, "csv").await;
    assert!(large > 9 * small, "{large} bytes vs {small}");
    assert!(csv > 9 * small_csv, "{csv} bytes vs {small_csv}");
    // Collected in memory, the 20 MB export alone would lift the high-water
    // by more than its size; streamed, it stays within a few buffers.
    const MIB: usize = 1 << 20;
    for (what, peak) in [("jsonl", large_peak), ("csv", csv_peak)] {
        assert!(
            peak < small_peak + 4 * MIB && peak < large / 4,
            "{what}: the high-water rose {peak} bytes for a {large}-byte export \
             ({small_peak} for a {small}-byte one)"
        );
    }
    // The evidence bundle of the number (all 10,000 events, each in the
    // record and again as its hashed text: over 45 MB before deflate) is
    // written row by row to a temporary file; what stays in memory is the
    // zip's directory and SHA256SUMS, under 1 KiB an event, never the content.
    let (_, bundle_peak) = download(&t, "/compliance/numbers/%2B447911123456/bundle").await;
    assert!(
        bundle_peak < 10_000 * 1024 && bundle_peak < large / 3,
        "bundle: the high-water rose {bundle_peak} bytes for a {large}-byte record"
    );
    t.service.stop().await;
}
