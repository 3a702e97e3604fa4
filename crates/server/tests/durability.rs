//! Durability: every connection runs `synchronous=FULL`; a write storage
//! cannot make now (busy beyond the timeout) is answered 503 with
//! `Retry-After` and the JSON error shape, with nothing half-written, so a
//! provider delivers its webhook again; the write-ahead log is checkpointed;
//! webhook receipts are pruned after the providers' retry horizon only.

mod support;

use optin_server::maintenance;
use optin_server::store::Engine;
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use support::{envelope, extra::start_with};

fn inbound_text(id: &str, text: &str) -> String {
    envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": "447911123456"}],
        "messages": [{"from": "447911123456", "id": id, "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
    }))
}

/// Posts a signed WhatsApp webhook; status, `Retry-After` and JSON body.
async fn post_signed(t: &support::TestService, body: &str) -> (u16, Option<String>, Value) {
    let secret = &t.service.state.providers.settings.app_secret;
    let signature = optin_server::providers::signature::meta_signature(secret, body.as_bytes());
    let response = t
        .http
        .post(format!("{}/webhooks/whatsapp", t.base))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    (
        status,
        retry_after,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn every_connection_runs_synchronous_full_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let store = support::open_store(
        &dir.path().join("optin.db"),
        optin_core::vocab::Mode::Sandbox,
    )
    .await
    .unwrap();
    // Several connections held at once, so each is a distinct one of the pool.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = store.pool().acquire().await.unwrap();
        let mut setting = async |sql: &str| -> String {
            let row = sqlx::query(sql).fetch_one(&mut *conn).await.unwrap();
            // SQLite answers `PRAGMA synchronous` with a number.
            row.try_get::<String, _>(0)
                .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
                .unwrap()
        };
        match store.engine() {
            Engine::Sqlite => {
                assert_eq!(setting("PRAGMA synchronous").await, "2", "FULL is 2");
                assert_eq!(setting("PRAGMA journal_mode").await, "wal");
            }
            // A commit returns once its log record is flushed to disk.
            Engine::Postgres => {
                assert_eq!(setting("SHOW synchronous_commit").await, "on");
                assert_eq!(setting("SHOW fsync").await, "on");
            }
        }
        held.push(conn);
    }
}

#[tokio::test]
async fn a_webhook_storage_cannot_take_is_answered_503_with_retry_after_and_nothing_half_written() {
    let t = start_with(|config| config.db_busy_timeout_ms = 200).await;
    // Another writer (another instance, on PostgreSQL) holds the write lock
    // longer than the busy timeout.
    let other = t.service.state.store.begin_write().await.unwrap();

    let body = inbound_text("wamid.BUSY1", "STOP");
    let (status, retry_after, error) = post_signed(&t, &body).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(
        retry_after.as_deref(),
        Some(
            optin_server::error::RETRY_AFTER_SECONDS
                .to_string()
                .as_str()
        )
    );
    assert_eq!(error["code"], "unavailable", "{error}");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("nothing was changed"));

    // An API write that needs the lock is refused the same way.
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let (status, error) = t
        .api("POST", &format!("/contacts/{kerry}/opt-in"), &t.jane, None)
        .await;
    assert_eq!((status, error["code"].as_str()), (503, Some("unavailable")));

    drop(other);
    for (table, sql) in [
        (
            "receipts",
            "SELECT COUNT(*) FROM webhook_receipts WHERE dedupe_key = 'wa:msg:wamid.BUSY1'",
        ),
        (
            "messages",
            "SELECT COUNT(*) FROM messages WHERE provider_message_id = 'wamid.BUSY1'",
        ),
        (
            "record",
            "SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'",
        ),
        (
            "request",
            "SELECT COUNT(*) FROM consent_events WHERE kind = 'requested'",
        ),
    ] {
        assert_eq!(t.count(sql).await, 0, "nothing half-written: {table}");
    }

    // The provider's retry, once storage is free, is applied once.
    let (status, _, _) = post_signed(&t, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'keyword_opt_out'")
            .await,
        1
    );
    t.service.stop().await;
}

#[tokio::test]
async fn a_maintenance_pass_truncates_the_write_ahead_log() {
    // SQLite's own log, also in the PostgreSQL run (PostgreSQL manages its own).
    let t = start_with(|config| config.database_url = None).await;
    let wal = {
        let mut path = t.service.state.config.database_path().into_os_string();
        path.push("-wal");
        std::path::PathBuf::from(path)
    };
    for i in 0..5 {
        let (status, _, _) =
            post_signed(&t, &inbound_text(&format!("wamid.WAL{i}"), "hello")).await;
        assert_eq!(status, 200);
    }
    let before = std::fs::metadata(&wal).unwrap().len();
    assert!(before > 0, "writes go to the log first");
    // A background task (the outbox, the checkpoint signer) may be reading
    // at that instant; SQLite then says busy and leaves the log, and the
    // next pass empties it. Some pass must succeed, and then it is empty.
    let mut truncated = false;
    for _ in 0..50 {
        if maintenance::pass(&t.service.state)
            .await
            .unwrap()
            .log_truncated
        {
            truncated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(truncated, "no pass could truncate the log");
    assert_eq!(
        std::fs::metadata(&wal).unwrap().len(),
        0,
        "was {before} bytes"
    );
    t.service.stop().await;
}

#[tokio::test]
async fn receipts_deduplicate_within_the_retry_horizon_and_are_pruned_after_it() {
    let t = start_with(|_| {}).await;
    let old = inbound_text("wamid.OLD", "hello");
    let young = inbound_text("wamid.YOUNG", "hello again");
    let received = |id: &'static str| {
        let t = &t;
        async move {
            t.count(&format!(
                "SELECT COUNT(*) FROM messages WHERE provider_message_id = '{id}'"
            ))
            .await
        }
    };
    let receipt = |id: &'static str| {
        let t = &t;
        async move {
            t.count(&format!(
                "SELECT COUNT(*) FROM webhook_receipts WHERE dedupe_key = 'wa:msg:{id}'"
            ))
            .await
        }
    };
    assert_eq!(post_signed(&t, &old).await.0, 200);
    // Seven days later, Meta's last retry of the old body may still come.
    t.service.state.clock.advance(chrono::Duration::days(7));
    assert_eq!(post_signed(&t, &young).await.0, 200);
    // A background task (the outbox, the checkpoint signer) may be reading
    // at that instant; SQLite then says busy and leaves the log, and the
    // next pass empties it. Some pass must succeed, and then it is empty.
    let mut truncated = false;
    for _ in 0..50 {
        if maintenance::pass(&t.service.state)
            .await
            .unwrap()
            .log_truncated
        {
            truncated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(truncated, "no pass could truncate the log");
    assert_eq!(receipt("wamid.OLD").await, 1, "7 days old: kept");
    assert_eq!(post_signed(&t, &old).await.0, 200);
    assert_eq!(
        received("wamid.OLD").await,
        1,
        "a retry at day 7 is skipped"
    );

    // A day and a minute later the old receipt is beyond the horizon.
    t.service
        .state
        .clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let pass = maintenance::pass(&t.service.state).await.unwrap();
    assert_eq!(pass.receipts_pruned, 1);
    assert_eq!(receipt("wamid.OLD").await, 0, "8 days old: pruned");
    assert_eq!(receipt("wamid.YOUNG").await, 1, "1 day old: kept");
    assert_eq!(post_signed(&t, &young).await.0, 200);
    assert_eq!(received("wamid.YOUNG").await, 1, "still deduplicated");
    t.service.stop().await;
}

#[tokio::test]
async fn a_full_disk_is_reported_as_unavailable_not_as_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    sqlx::query("CREATE TABLE t (x TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    // The database may not grow: SQLite answers SQLITE_FULL, as on a full disk.
    sqlx::query("PRAGMA max_page_count = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let full = sqlx::query("INSERT INTO t VALUES (zeroblob(100000))")
        .execute(&mut conn)
        .await
        .unwrap_err();
    let error = optin_server::store::StoreError::from(full);
    assert!(error.is_unavailable(), "{error}");
    let response =
        axum::response::IntoResponse::into_response(optin_server::error::AppError::from(error));
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}
