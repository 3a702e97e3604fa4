//! The outbox against a provider that misbehaves: back-off, the maximum
//! number of attempts, throttling then success, a permanent refusal, and a
//! job left pending by a process that ended. The worker is not running (the
//! test drains the outbox itself, at times it sets), except after the restart.

mod support;

use chrono::Duration;
use optin_server::outbox::{backoff, drain, MAX_ATTEMPTS};
use support::extra::{eventually, graph_error, parse_time, the_job, FakeProvider, QuietService};

/// Jane asks Kerry to opt in: one job, not sent yet.
async fn queue_request(t: &QuietService) {
    let kerry = t.jane_contact("Kerry").await;
    let (status, body) = t
        .api(
            "POST",
            &format!("/contacts/{kerry}/opt-in"),
            &t.jane,
            &[("Idempotency-Key", "outbox-test")],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "sending");
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("pending", 0));
}

/// `at` as stored (millisecond precision).
fn millis(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    parse_time(&optin_server::store::timestamp(at))
}

async fn consent_state(t: &QuietService) -> String {
    sqlx::query_scalar("SELECT state FROM consents WHERE phone_e164 = '+447911123456'")
        .fetch_one(t.state.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn throttled_with_429_the_job_waits_its_back_off_then_goes_out_with_the_same_key() {
    let t = QuietService::start().await;
    // 429 with a code that is not retryable by itself: the status decides.
    t.provider
        .script([(429, graph_error(131000, "Something went wrong"))]);
    queue_request(&t).await;

    let before = millis(t.state.clock.now());
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, next, last_error, key) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    assert_eq!(last_error.as_deref(), Some("Something went wrong"));
    let wait = parse_time(&next) - before;
    assert!(
        wait >= backoff(0) && wait < backoff(0) + Duration::milliseconds(900),
        "first retry after {wait}, expected {}",
        backoff(0)
    );
    assert_eq!(
        consent_state(&t).await,
        "sending",
        "throttling changes no consent"
    );

    // Not due yet: nothing is attempted.
    assert_eq!(drain(&t.state).await.unwrap(), 0);
    assert_eq!(t.provider.calls().len(), 1);

    t.state.clock.advance(backoff(0));
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("done", 2));
    let calls = t.provider.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls
        .iter()
        .all(|c| c.idempotency_key.as_deref() == Some(key.as_str())));
    assert_eq!(consent_state(&t).await, "pending");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE provider_message_id = 'wamid.FAKE2' AND status = 'accepted'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'provider_accepted' AND json_extract(detail_json, '$.attempt') = 2")
            .await,
        1
    );
}

#[tokio::test]
async fn a_failing_provider_is_tried_with_doubling_waits_up_to_the_maximum_then_the_job_fails() {
    let t = QuietService::start().await;
    let max = MAX_ATTEMPTS as usize;
    t.provider.script(
        std::iter::repeat_with(|| (503, graph_error(2, "Service temporarily unavailable")))
            .take(max + 1),
    );
    queue_request(&t).await;

    for done in 0..MAX_ATTEMPTS - 1 {
        let before = millis(t.state.clock.now());
        assert_eq!(drain(&t.state).await.unwrap(), 1, "attempt {}", done + 1);
        let (state, attempts, next, ..) = the_job(&t.state).await;
        assert_eq!((state.as_str(), attempts), ("pending", done + 1));
        let wait = parse_time(&next) - before;
        assert!(
            wait >= backoff(done) && wait < backoff(done) + Duration::milliseconds(900),
            "after attempt {}: waits {wait}, expected {}",
            done + 1,
            backoff(done)
        );
        if done > 0 {
            assert_eq!(backoff(done), backoff(done - 1) * 2, "the wait doubles");
        }
        // Just before it is due, nothing goes out.
        t.state
            .clock
            .advance(parse_time(&next) - t.state.clock.now() - Duration::milliseconds(200));
        assert_eq!(drain(&t.state).await.unwrap(), 0);
        t.state.clock.advance(Duration::milliseconds(201));
    }
    // The last attempt fails for good.
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("failed", MAX_ATTEMPTS));
    t.state.clock.advance(Duration::hours(1));
    assert_eq!(
        drain(&t.state).await.unwrap(),
        0,
        "no attempt after the last"
    );
    assert_eq!(t.provider.calls().len(), max);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM messages WHERE purpose = 'opt_in' AND status = 'failed'")
            .await,
        1
    );
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM consent_events WHERE kind = 'failed' AND json_extract(detail_json, '$.attempts') = {MAX_ATTEMPTS}"
        ))
        .await,
        1
    );
    let kerry = t.jane_contact("Kerry").await;
    let (_, consent) = t
        .api("GET", &format!("/contacts/{kerry}/consent"), &t.jane, &[])
        .await;
    assert_eq!(consent["state"], "failed", "{consent}");
}

#[tokio::test]
async fn a_permanent_refusal_ends_the_job_after_one_attempt() {
    let t = QuietService::start().await;
    t.provider.script([(
        400,
        graph_error(
            132001,
            "(#132001) Template name does not exist in the translation",
        ),
    )]);
    queue_request(&t).await;

    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, _, last_error, _) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("failed", 1));
    assert!(last_error.unwrap().contains("132001"));
    t.state.clock.advance(Duration::hours(1));
    assert_eq!(drain(&t.state).await.unwrap(), 0, "never tried again");
    assert_eq!(t.provider.calls().len(), 1);
    let (status, code): (String, Option<i64>) =
        sqlx::query_as("SELECT status, error_code FROM messages WHERE purpose = 'opt_in'")
            .fetch_one(t.state.store.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), code), ("failed", Some(132001)));
    let kerry = t.jane_contact("Kerry").await;
    let (_, consent) = t
        .api("GET", &format!("/contacts/{kerry}/consent"), &t.jane, &[])
        .await;
    assert_eq!(consent["state"], "failed", "{consent}");
    assert_eq!(consent["failure_code"], 132001);
}

#[tokio::test]
async fn a_job_left_pending_by_a_stopped_process_is_sent_once_after_the_restart() {
    let t = QuietService::start().await;
    t.provider
        .script([(503, graph_error(2, "Service temporarily unavailable"))]);
    queue_request(&t).await;
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, _, _, key) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    let (config, provider, _dir, jane): (_, FakeProvider, _, _) = t.stop().await;
    assert_eq!(provider.calls().len(), 1);

    // A new process on the same data, with its worker.
    let service = optin_server::launch(config).await.unwrap();
    let pool = service.state.store.pool().clone();
    let (state, attempts) = eventually("the pending job is sent", || async {
        let row: (String, i64) = sqlx::query_as("SELECT state, attempts FROM outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        if row.0 != "done" {
            Err(format!("{row:?}"))
        } else {
            Ok(row)
        }
    })
    .await;
    assert_eq!((state.as_str(), attempts), ("done", 2));
    let calls = provider.calls();
    assert_eq!(calls.len(), 2, "one more call, not more: {calls:?}");
    assert_eq!(calls[1].idempotency_key.as_deref(), Some(key.as_str()));
    assert!(
        calls[1].body.contains("advisor_opt_in"),
        "{}",
        calls[1].body
    );
    let http = reqwest::Client::new();
    let consent: serde_json::Value = http
        .get(format!("http://{}/api/v1/contacts/1/consent", service.addr))
        .bearer_auth(&jane)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(consent["state"], "pending", "{consent}");
    service.stop().await;
}
