//! Group commit of webhooks: those arriving together share one transaction
//! (one flush of the disk), each is applied exactly once, each is
//! acknowledged only after its batch is durable, and a savepoint undoes
//! one webhook's writes without the rest of its batch.

mod support;

use serde_json::json;
use support::{envelope, post_signed_whatsapp, start};

/// An inbound text from `from` (digits), with a unique message id.
fn hello(n: usize) -> String {
    let from = format!("4477009{n:05}");
    envelope(json!({
        "contacts": [{"profile": {"name": format!("Client {n}")}, "wa_id": from}],
        "messages": [{"from": from, "id": format!("wamid.GROUP{n}"), "timestamp": "1764080000",
                      "type": "text", "text": {"body": "hello"}}]
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arriving_together_share_commits_and_each_is_applied_once() {
    let t = start().await;
    let secret = t.service.state.providers.settings.app_secret.clone();
    let (commits_before, committed_before) = t.service.state.ingest.counts();
    const WEBHOOKS: usize = 120;
    // Every webhook twice, at the same time: a provider's retry racing the first delivery.
    let posts: Vec<_> = (0..WEBHOOKS * 2)
        .map(|i| {
            let (http, base, secret) = (t.http.clone(), t.base.clone(), secret.clone());
            tokio::spawn(async move {
                post_signed_whatsapp(&http, &base, &secret, hello(i % WEBHOOKS)).await
            })
        })
        .collect();
    for post in posts {
        assert_eq!(
            post.await.unwrap(),
            200,
            "every signed webhook is acknowledged"
        );
    }
    let (commits, committed) = t.service.state.ingest.counts();
    let (commits, committed) = (commits - commits_before, committed - committed_before);
    assert_eq!(
        committed,
        2 * WEBHOOKS as u64,
        "each delivery was applied in a commit"
    );
    assert!(
        commits < committed,
        "deliveries that arrived together shared a commit: {commits} commits for {committed}"
    );
    // Applied once each, the duplicates acknowledged and skipped.
    let like = "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND provider_message_id LIKE 'wamid.GROUP%'";
    assert_eq!(t.count(like).await, WEBHOOKS as i64);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'message_in'")
            .await,
        WEBHOOKS as i64
    );
    let (status, chain) = t.api("GET", "/compliance/chain", &t.compliance, None).await;
    assert_eq!((status, &chain["intact"]), (200, &json!(true)), "{chain}");
    t.service.stop().await;
}

#[tokio::test]
async fn a_savepoint_undoes_one_part_and_the_rest_commits() {
    let t = start().await;
    let store = &t.service.state.store;
    let mut work = store.begin_write().await.unwrap();
    let now = chrono::Utc::now();
    work.savepoint().await.unwrap();
    assert!(work.first_receipt("savepoint:kept", now).await.unwrap());
    work.release_savepoint().await.unwrap();
    work.savepoint().await.unwrap();
    assert!(work.first_receipt("savepoint:undone", now).await.unwrap());
    work.rollback_to_savepoint().await.unwrap();
    work.savepoint().await.unwrap();
    assert!(work.first_receipt("savepoint:after", now).await.unwrap());
    work.release_savepoint().await.unwrap();
    work.commit().await.unwrap();
    let kept: Vec<String> =
        sqlx::query_scalar("SELECT dedupe_key FROM webhook_receipts WHERE dedupe_key LIKE 'savepoint:%' ORDER BY dedupe_key")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(kept, vec!["savepoint:after", "savepoint:kept"]);
    t.service.stop().await;
}

/// A webhook whose writes the database refuses (a trigger stands in for any
/// failure of one webhook) is answered with an error and the provider
/// delivers it again; the webhooks batched with it are applied and
/// acknowledged all the same, once each, and the chain stays intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_webhook_of_a_batch_is_refused_alone() {
    let t = start().await;
    let pool = t.service.state.store.pool();
    let on_postgres = std::env::var(support::POSTGRES_SERVER).is_ok_and(|url| !url.is_empty());
    let refusal: &[&str] = if on_postgres {
        &[
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN
               IF NEW.body = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF;
               RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages
               FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        ]
    } else {
        &[
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN NEW.body = 'boom'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ]
    };
    for statement in refusal {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
    let secret = t.service.state.providers.settings.app_secret.clone();
    let (commits_before, committed_before) = t.service.state.ingest.counts();
    const WEBHOOKS: usize = 60;
    const BOOM: usize = 17;
    let posts: Vec<_> = (0..WEBHOOKS)
        .map(|i| {
            let (http, base, secret) = (t.http.clone(), t.base.clone(), secret.clone());
            let body = if i == BOOM {
                hello(i).replace("\"hello\"", "\"boom\"")
            } else {
                hello(i)
            };
            tokio::spawn(async move { post_signed_whatsapp(&http, &base, &secret, body).await })
        })
        .collect();
    for (i, post) in posts.into_iter().enumerate() {
        let status = post.await.unwrap();
        if i == BOOM {
            assert_eq!(status, 500, "the refused webhook is not acknowledged");
        } else {
            assert_eq!(status, 200, "webhook {i} is acknowledged");
        }
    }
    let (commits, committed) = t.service.state.ingest.counts();
    let (commits, committed) = (commits - commits_before, committed - committed_before);
    assert_eq!(committed, WEBHOOKS as u64 - 1);
    assert!(
        commits < committed,
        "the webhooks were batched: {commits} commits for {committed}"
    );
    let like = "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND provider_message_id LIKE 'wamid.GROUP%'";
    assert_eq!(t.count(like).await, WEBHOOKS as i64 - 1);
    let boom = format!(
        "SELECT COUNT(*) FROM webhook_receipts WHERE dedupe_key = 'wa:msg:wamid.GROUP{BOOM}'"
    );
    assert_eq!(
        t.count(&boom).await,
        0,
        "its receipt went with it: a redelivery applies"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM consent_events WHERE kind = 'message_in'")
            .await,
        WEBHOOKS as i64 - 1
    );
    let (status, chain) = t.api("GET", "/compliance/chain", &t.compliance, None).await;
    assert_eq!((status, &chain["intact"]), (200, &json!(true)), "{chain}");
    t.service.stop().await;
}

/// A batch claims its items' receipts in one statement before applying
/// them; an item that is never applied (its business number belongs to no
/// organization: kept for review instead) keeps no receipt, so a
/// redelivery once the number is provisioned would apply it.
#[tokio::test]
async fn a_receipt_claimed_for_an_item_not_applied_is_released() {
    let t = start().await;
    let elsewhere = hello(900).replace(
        optin_server::store::seed::SANDBOX_PHONE_NUMBER_ID,
        "999999999",
    );
    let secret = t.service.state.providers.settings.app_secret.clone();
    for body in [hello(901), elsewhere] {
        assert_eq!(
            post_signed_whatsapp(&t.http, &t.base, &secret, body).await,
            200
        );
    }
    let receipt = |n: usize| {
        format!("SELECT COUNT(*) FROM webhook_receipts WHERE dedupe_key = 'wa:msg:wamid.GROUP{n}'")
    };
    assert_eq!(
        t.count(&receipt(901)).await,
        1,
        "the applied message's receipt is kept"
    );
    assert_eq!(
        t.count(&receipt(900)).await,
        0,
        "the message kept for review has no receipt"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM webhook_reviews WHERE reason LIKE '%999999999%'")
            .await,
        1
    );
    t.service.stop().await;
}

/// A batch writes its messages and steps together (on SQLite), yet the
/// archive feed copies each one's consent state as it was when it was
/// stored: a "hello" and then a "STOP" from one number in one body leave
/// both messages filed under the state before the opt-out, and only the
/// opt-out's own step under the state after it.
#[tokio::test]
async fn a_batch_files_each_message_under_the_consent_state_it_was_stored_in() {
    let t = start().await;
    let secret = t.service.state.providers.settings.app_secret.clone();
    let from = "447700950001";
    let text = |id: &str, body: &str| json!({"from": from, "id": id, "timestamp": "1764080000", "type": "text", "text": {"body": body}});
    let body = envelope(json!({
        "contacts": [{"profile": {"name": "Client"}, "wa_id": from}],
        "messages": [text("wamid.FILED1", "hello"), text("wamid.FILED2", "STOP")]
    }));
    assert_eq!(
        post_signed_whatsapp(&t.http, &t.base, &secret, body).await,
        200
    );
    let filed = |state: &str| {
        format!(
            "SELECT COUNT(*) FROM archive_feed f JOIN messages m ON m.id = f.message_id
             WHERE m.provider_message_id IN ('wamid.FILED1', 'wamid.FILED2') AND f.consent_state = '{state}'"
        )
    };
    assert_eq!(
        t.count(&filed("opted_out")).await,
        0,
        "filed under a later state"
    );
    assert_eq!(
        t.count(&filed("none")).await,
        2,
        "filed under the state before"
    );
    let steps =
        "SELECT COUNT(*) FROM archive_feed f JOIN consent_events e ON e.id = f.consent_event_id
                 WHERE e.phone_e164 = '+447700950001' AND f.consent_state = 'opted_out'";
    assert_eq!(t.count(steps).await, 1, "the opt-out's step, after it");
    let (status, chain) = t.api("GET", "/compliance/chain", &t.compliance, None).await;
    assert_eq!((status, &chain["intact"]), (200, &json!(true)), "{chain}");
    t.service.stop().await;
}

/// What keeps the archive feed right when inserts are deferred: a change
/// of the number's consent writes the rows stored before it first.
#[tokio::test]
async fn a_deferred_message_is_written_before_its_numbers_consent_changes() {
    use optin_core::consent::ConsentState;
    use optin_core::vocab::{Channel, Direction, MessageStatus, Purpose};
    use optin_server::store::messages::NewMessage;
    let t = start().await;
    let store = &t.service.state.store;
    let org: i64 = sqlx::query_scalar("SELECT MIN(id) FROM organizations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let (phone, now) = ("+447700950002", chrono::Utc::now());
    let mut work = store.begin_write().await.unwrap();
    work.defer_inserts();
    let (mut record, _) = work.note_inbound(org, phone, now, now).await.unwrap();
    let message = NewMessage {
        organization_id: org,
        phone,
        channel: Channel::Whatsapp,
        direction: Direction::In,
        purpose: Purpose::Message,
        advisor_id: None,
        opt_in_request_id: None,
        template: None,
        body: "hello",
        provider_message_id: Some("wamid.DEFERRED1"),
        status: MessageStatus::Received,
    };
    let id = work.insert_message(message, now).await.unwrap();
    record.status.state = ConsentState::OptedOut;
    work.save_consent(org, phone, &record, now).await.unwrap();
    work.commit().await.unwrap();
    let filed: (i64, String) = sqlx::query_as(
        "SELECT m.id, f.consent_state FROM archive_feed f JOIN messages m ON m.id = f.message_id
         WHERE m.provider_message_id = 'wamid.DEFERRED1'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        filed,
        (id, "none".to_owned()),
        "the id given, the state then"
    );
    t.service.stop().await;
}

/// A batch reads ahead the consents of the numbers it hears from and opens
/// their windows in memory: what it answers and what it writes is what
/// the statement per message did. A late message never moves a window back,
/// the advisor who last asked is named, a number never seen gets a "never
/// asked" row, and a consent written mid-batch is read again.
#[tokio::test]
async fn windows_opened_from_consents_read_ahead_match_the_statement() {
    use chrono::{Duration, SubsecRound};
    use optin_core::consent::ConsentState;
    use optin_server::store::consent::NewOptInRequest;
    let t = start().await;
    let store = &t.service.state.store;
    let (org, advisor): (i64, i64) =
        sqlx::query_as("SELECT organization_id, MIN(id) FROM advisors GROUP BY organization_id")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let (asked, unknown) = ("+447700950003", "+447700950004");
    // Stored to the millisecond.
    let now = chrono::Utc::now().trunc_subsecs(3);
    let opened = now - Duration::hours(1);
    let mut work = store.begin_write().await.unwrap();
    let (mut record, _) = work.note_inbound(org, asked, opened, now).await.unwrap();
    record.status.state = ConsentState::Pending;
    work.save_consent(org, asked, &record, now).await.unwrap();
    let request = NewOptInRequest {
        id: "req-read-ahead",
        organization_id: org,
        phone: asked,
        advisor_id: advisor,
        resend: false,
        idempotency_key: None,
    };
    work.insert_opt_in_request(request, now).await.unwrap();
    work.commit().await.unwrap();

    let mut work = store.begin_write().await.unwrap();
    work.defer_inserts();
    let numbers = [(org, asked.to_owned()), (org, unknown.to_owned())];
    work.read_consents_ahead(&numbers).await.unwrap();
    let late = opened - Duration::hours(2);
    let (record, last_asked_by) = work.note_inbound(org, asked, late, now).await.unwrap();
    assert_eq!(record.status.state, ConsentState::Pending);
    assert_eq!(
        record.last_inbound_at,
        Some(opened),
        "a late message never moves it back"
    );
    assert_eq!(last_asked_by, Some(advisor), "who last asked");
    let first = now - Duration::minutes(5);
    let (record, last_asked_by) = work.note_inbound(org, unknown, first, now).await.unwrap();
    assert_eq!(
        (record.status.state, record.last_inbound_at),
        (ConsentState::None, Some(first))
    );
    assert_eq!(last_asked_by, None);
    let (record, _) = work.note_inbound(org, unknown, now, now).await.unwrap();
    assert_eq!(
        record.last_inbound_at,
        Some(now),
        "a later message moves it on"
    );
    let mut opted_out = record.clone();
    opted_out.status.state = ConsentState::OptedOut;
    work.save_consent(org, unknown, &opted_out, now)
        .await
        .unwrap();
    let (record, _) = work.note_inbound(org, unknown, now, now).await.unwrap();
    assert_eq!(
        record.status.state,
        ConsentState::OptedOut,
        "read again once written"
    );
    work.commit().await.unwrap();

    let stored = store.consent(org, asked).await.unwrap();
    assert_eq!(
        (stored.status.state, stored.last_inbound_at),
        (ConsentState::Pending, Some(opened))
    );
    let stored = store.consent(org, unknown).await.unwrap();
    assert_eq!(
        (stored.status.state, stored.last_inbound_at),
        (ConsentState::OptedOut, Some(now))
    );
    t.service.stop().await;
}
