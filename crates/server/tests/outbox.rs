//! The outbox against a provider that misbehaves: back-off, the maximum
//! number of attempts, throttling then success, a permanent refusal, a job
//! left pending by a process that ended; and, against a provider that has
//! no idempotency guard (like Meta), never a second send of an accepted
//! message: a call answered after the timeout, a process killed during the
//! call, an answer that cannot be recorded, each settled by the status that
//! carries the job's key; a re-send only after the grace period, and one
//! hung call holding up no other. The worker is not running (the test
//! drains the outbox itself, at times it sets) unless a test starts it.

mod support;

use std::time::Instant;

use chrono::Duration;
use optin_server::outbox::{backoff, drain, run, MAX_ATTEMPTS};
use optin_server::store::Engine;
use serde_json::{json, Value};
use support::extra::{
    eventually, graph_error, parse_time, queue_request, signed_whatsapp, status_carrying, the_job,
    FakeProvider, ProviderCall, QuietService,
};

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
        evidence_with(&t, "provider_accepted", "attempt", json!(2)).await,
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
        evidence_with(&t, "failed", "attempts", json!(MAX_ATTEMPTS)).await,
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

// ---------------------------------------------------------------------------
// Never twice: unknown outcomes, proof by callback data, the grace period
// ---------------------------------------------------------------------------

/// Provider calls time out after 300 ms (the default grace period, 120 s).
async fn impatient() -> QuietService {
    QuietService::start_with(|config| config.provider_timeout_ms = 300).await
}

/// The `biz_opaque_callback_data` a call to the Graph API carried.
fn callback_data(call: &ProviderCall) -> String {
    let body: Value = serde_json::from_str(&call.body).unwrap();
    body["biz_opaque_callback_data"]
        .as_str()
        .unwrap_or_else(|| panic!("no callback data in {}", call.body))
        .to_owned()
}

/// The opt-in message's status and provider id.
async fn request_message(t: &QuietService) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, provider_message_id FROM messages WHERE purpose = 'opt_in'")
        .fetch_one(t.state.store.pool())
        .await
        .unwrap()
}

/// How many records of `kind` there are whose detail has `path` = `value`.
async fn evidence_with(t: &QuietService, kind: &str, key: &str, value: Value) -> i64 {
    let detail = support::json_field_is(&t.state.store, "detail_json", key, &value);
    t.count(&format!(
        "SELECT COUNT(*) FROM consent_events WHERE kind = '{kind}' AND {detail}"
    ))
    .await
}

#[tokio::test]
async fn a_provider_that_accepts_after_the_timeout_is_proved_by_its_status_and_never_called_again()
{
    let t = impatient().await;
    t.provider
        .hang_then_accept(std::time::Duration::from_millis(1200));
    queue_request(&t).await;

    let started = Instant::now();
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1000),
        "the call is cut off at the timeout, took {:?}",
        started.elapsed()
    );
    let (state, attempts, _, last_error, key) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("unknown", 1), "{last_error:?}");
    let calls = t.provider.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        callback_data(&calls[0]),
        key,
        "the send carries the job's key"
    );
    assert_eq!(request_message(&t).await, ("queued".to_owned(), None));
    // The provider goes on and sends it.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;

    // While the grace period runs, no pass sends it again.
    for _ in 0..3 {
        t.state.clock.advance(Duration::seconds(35));
        assert_eq!(drain(&t.state).await.unwrap(), 0);
    }
    assert_eq!(consent_state(&t).await, "sending");

    // Meta's status carries the key back: it proves the send.
    assert_eq!(
        t.signed_whatsapp(&status_carrying("wamid.FAKE1", "sent", &key))
            .await,
        200
    );
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("done", 1));
    assert_eq!(
        request_message(&t).await,
        ("sent".to_owned(), Some("wamid.FAKE1".to_owned()))
    );
    assert_eq!(consent_state(&t).await, "pending");
    assert_eq!(
        evidence_with(
            &t,
            "provider_accepted",
            "proved_by",
            json!("status_callback")
        )
        .await,
        1
    );
    assert_eq!(
        evidence_with(&t, "provider_accepted", "attempt", json!(1)).await,
        1
    );
    assert_eq!(
        evidence_with(&t, "sent", "provider_message_id", json!("wamid.FAKE1")).await,
        1
    );
    // Later statuses find the message by its id.
    assert_eq!(
        t.signed_whatsapp(&status_carrying("wamid.FAKE1", "delivered", &key))
            .await,
        200
    );
    assert_eq!(request_message(&t).await.0, "delivered");

    t.state.clock.advance(Duration::hours(1));
    assert_eq!(drain(&t.state).await.unwrap(), 0);
    assert_eq!(t.provider.calls().len(), 1, "never sent twice");
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM consent_events WHERE kind IN ('send_repeated', 'duplicate_sent')"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_service_killed_during_the_call_is_settled_by_the_status_after_its_restart() {
    let t = QuietService::start().await;
    t.provider
        .hang_then_accept(std::time::Duration::from_millis(500));
    queue_request(&t).await;
    // A pass claims the job and calls; the process dies before the answer.
    let pass = tokio::spawn({
        let state = t.state.clone();
        async move { drain(&state).await }
    });
    eventually("the provider is called", || async {
        match t.provider.calls().len() {
            1 => Ok(()),
            n => Err(format!("{n} calls")),
        }
    })
    .await;
    pass.abort();
    assert!(pass.await.unwrap_err().is_cancelled());
    let (state, attempts, _, _, key) = the_job(&t.state).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("claimed", 1),
        "the claim and its attempt were committed before the call"
    );
    assert_eq!(request_message(&t).await.1, None);
    // The provider sends it anyway.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let (config, provider, _dir, _) = t.stop().await;

    // A new process on the same data, with its worker.
    let service = optin_server::launch(config).await.unwrap();
    let base = format!("http://{}", service.addr);
    let http = reqwest::Client::new();
    assert_eq!(
        signed_whatsapp(&http, &base, &status_carrying("wamid.FAKE1", "sent", &key)).await,
        200
    );
    let pool = service.state.store.pool().clone();
    let job: (String, i64) = sqlx::query_as("SELECT state, attempts FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((job.0.as_str(), job.1), ("done", 1));
    let linked: Option<String> =
        sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE purpose = 'opt_in'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(linked.as_deref(), Some("wamid.FAKE1"));
    // Long after the lease and the grace period, the worker has sent nothing more.
    service.state.clock.advance(Duration::hours(1));
    service.state.outbox_wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(provider.calls().len(), 1, "{:?}", provider.calls());
    service.stop().await;
}

#[tokio::test]
async fn with_no_status_in_the_grace_period_the_job_is_sent_again_once_and_the_record_says_so() {
    let t = impatient().await;
    t.provider
        .hang_then_accept(std::time::Duration::from_millis(600));
    queue_request(&t).await;
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, _, _, _, key) = the_job(&t.state).await;
    assert_eq!(state, "unknown");

    t.state.clock.advance(Duration::seconds(119));
    assert_eq!(
        drain(&t.state).await.unwrap(),
        0,
        "still in the grace period"
    );
    t.state.clock.advance(Duration::seconds(2));
    assert_eq!(drain(&t.state).await.unwrap(), 1, "sent again");
    let (state, attempts, _, _, again) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("done", 2));
    assert_eq!(again, key, "the same key");
    let calls = t.provider.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(callback_data(&calls[1]), key);
    assert_eq!(
        request_message(&t).await,
        ("accepted".to_owned(), Some("wamid.FAKE2".to_owned()))
    );
    assert_eq!(consent_state(&t).await, "pending");
    // The record shows the repeat before the call, and which attempt was accepted.
    assert_eq!(
        evidence_with(&t, "send_repeated", "attempt", json!(2)).await,
        1
    );
    assert_eq!(
        evidence_with(&t, "provider_accepted", "attempt", json!(2)).await,
        1
    );
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM consent_events ORDER BY id")
        .fetch_all(t.state.store.pool())
        .await
        .unwrap();
    assert_eq!(kinds, ["requested", "send_repeated", "provider_accepted"]);

    t.state.clock.advance(Duration::hours(1));
    assert_eq!(drain(&t.state).await.unwrap(), 0);
    assert_eq!(t.provider.calls().len(), 2, "exactly once more");

    // The first send's status arrives late: it had gone out too, and the
    // record says the contact got the message twice (once, however many
    // statuses follow).
    for status in ["sent", "delivered"] {
        assert_eq!(
            t.signed_whatsapp(&status_carrying("wamid.FAKE1", status, &key))
                .await,
            200
        );
    }
    assert_eq!(
        evidence_with(
            &t,
            "duplicate_sent",
            "duplicate_provider_message_id",
            json!("wamid.FAKE1")
        )
        .await,
        1
    );
    assert_eq!(request_message(&t).await.1.as_deref(), Some("wamid.FAKE2"));
}

#[tokio::test]
async fn one_hung_call_does_not_hold_up_another_contact_s_request() {
    let t = QuietService::start_with(|config| config.provider_timeout_ms = 5_000).await;
    t.provider
        .hang_then_accept(std::time::Duration::from_secs(3));
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(run(t.state.clone(), stop.clone()));

    let kerry = t.jane_contact("Kerry").await;
    let (status, body) = t
        .api(
            "POST",
            &format!("/contacts/{kerry}/opt-in"),
            &t.jane,
            &[("Idempotency-Key", "k")],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    eventually("Kerry's call is in flight", || async {
        match t.provider.calls().len() {
            1 => Ok(()),
            n => Err(format!("{n} calls")),
        }
    })
    .await;

    let amara = t.jane_contact("Amara").await;
    let started = Instant::now();
    let (status, body) = t
        .api(
            "POST",
            &format!("/contacts/{amara}/opt-in"),
            &t.jane,
            &[("Idempotency-Key", "a")],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let job_of = |phone: &'static str| {
        let pool = t.state.store.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT o.state FROM outbox o JOIN messages m ON m.id = o.message_id
                 WHERE m.phone_e164 = $1",
            )
            .bind(phone)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    eventually("Amara's request goes out", || async {
        match job_of("+447700123456").await.as_str() {
            "done" => Ok(()),
            other => Err(other.to_owned()),
        }
    })
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "Amara's request waited {:?}",
        started.elapsed()
    );
    assert_eq!(
        job_of("+447911123456").await,
        "claimed",
        "Kerry's call still hangs"
    );

    eventually("Kerry's request goes out too", || async {
        match job_of("+447911123456").await.as_str() {
            "done" => Ok(()),
            other => Err(other.to_owned()),
        }
    })
    .await;
    assert_eq!(t.provider.calls().len(), 2, "one call each");
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn an_accepted_send_whose_recording_fails_is_not_sent_again_while_the_fault_lasts() {
    let t = QuietService::start().await;
    queue_request(&t).await;
    // Storage refuses to record any provider id (a full disk, say).
    let refuse = match t.state.store.engine() {
        Engine::Sqlite => vec![
            "CREATE TRIGGER full_disk BEFORE UPDATE OF provider_message_id ON messages
             WHEN NEW.provider_message_id IS NOT NULL
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
        ],
        Engine::Postgres => vec![
            "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'database or disk is full'; END $$",
            "CREATE TRIGGER full_disk BEFORE UPDATE OF provider_message_id ON messages
             FOR EACH ROW WHEN (NEW.provider_message_id IS NOT NULL) EXECUTE FUNCTION full_disk()",
        ],
    };
    for sql in refuse {
        sqlx::query(sql)
            .execute(t.state.store.pool())
            .await
            .unwrap();
    }

    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("claimed", 1),
        "the claim stands: the outcome is unknown, not failed"
    );
    assert_eq!(request_message(&t).await.1, None);
    // Pass after pass while the fault lasts (lease and grace not over): no re-send.
    for _ in 0..6 {
        t.state.clock.advance(Duration::seconds(20));
        assert_eq!(drain(&t.state).await.unwrap(), 0);
    }
    assert_eq!(t.provider.calls().len(), 1);

    // The fault clears; Meta's status carrying the key settles the job.
    sqlx::query(match t.state.store.engine() {
        Engine::Sqlite => "DROP TRIGGER full_disk",
        Engine::Postgres => "DROP TRIGGER full_disk ON messages",
    })
    .execute(t.state.store.pool())
    .await
    .unwrap();
    let key = callback_data(&t.provider.calls()[0]);
    assert_eq!(
        t.signed_whatsapp(&status_carrying("wamid.FAKE1", "delivered", &key))
            .await,
        200
    );
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("done", 1));
    assert_eq!(
        request_message(&t).await,
        ("delivered".to_owned(), Some("wamid.FAKE1".to_owned()))
    );
    assert_eq!(consent_state(&t).await, "pending");
    t.state.clock.advance(Duration::hours(1));
    assert_eq!(drain(&t.state).await.unwrap(), 0);
    assert_eq!(t.provider.calls().len(), 1, "never sent twice");
}

#[tokio::test]
async fn an_sms_with_an_unknown_outcome_goes_again_after_the_grace_period_under_the_same_key() {
    // SMS statuses carry no callback data: the provider's idempotency
    // guard on the key is what makes the repeat safe.
    let t = impatient().await;
    t.provider
        .hang_then_accept(std::time::Duration::from_millis(600));
    let kerry = t.jane_contact("Kerry").await;
    let response = t
        .http
        .post(format!("{}/api/v1/contacts/{kerry}/sms", t.base))
        .bearer_auth(&t.jane)
        .json(&json!({"body": "Your documents are ready."}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, _, _, key) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("unknown", 1));

    t.state.clock.advance(Duration::seconds(60));
    assert_eq!(
        drain(&t.state).await.unwrap(),
        0,
        "still in the grace period"
    );
    t.state.clock.advance(Duration::seconds(61));
    assert_eq!(drain(&t.state).await.unwrap(), 1);
    let (state, attempts, ..) = the_job(&t.state).await;
    assert_eq!((state.as_str(), attempts), ("done", 2));
    let calls = t.provider.calls();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert!(call.path.ends_with("/Messages.json"), "{}", call.path);
        assert_eq!(call.idempotency_key.as_deref(), Some(key.as_str()));
        assert!(!call.body.contains("biz_opaque_callback_data"));
    }
    assert_eq!(
        evidence_with(&t, "send_repeated", "channel", json!("sms")).await,
        1
    );
    let sid: Option<String> =
        sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE channel = 'sms'")
            .fetch_one(t.state.store.pool())
            .await
            .unwrap();
    assert_eq!(sid.as_deref(), Some("SMFAKE2"));
}
