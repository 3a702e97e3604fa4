//! Two service instances on one PostgreSQL, as a firm runs them behind a
//! load balancer (#11): an advisor's live stream on instance A shows an
//! answer whose webhook reached instance B; a webhook delivered to both is
//! applied once; both run outbox workers and the provider gets each message
//! once; the consent record stays one unbroken chain; the archive feed
//! delivers each item once; an instance killed holding an outbox job's lease
//! leaves it to the other, and it goes once.
//!
//! Not built by a plain `cargo test` (`test = false` in Cargo.toml):
//! `cargo xtask test` runs it in its PostgreSQL pass (`--test '*'`), with a
//! throwaway server in `OPTIN_TEST_DATABASE_URL`.

mod support;

use optin_server::outbox::drain;
use optin_server::store::Engine;
use serde_json::{json, Value};
use support::archive_feed::{assert_each_arrived_once, converse, service, settled, SmtpSink};
use support::extra::{
    eventually, queue_request, run_binary, signed_whatsapp, status_carrying, stderr, the_job,
    QuietService, KERRY,
};
use support::sse::{write_events, SseReader};
use support::{envelope, post_signed_whatsapp, start, TestService, POSTGRES_SERVER};

/// The contact's tap on `answer` of the opt-in request on their phone, as
/// Meta's webhook carries it (`id` is the inbound message's own wamid).
fn tap_webhook(request: &Value, answer: &str, id: &str) -> String {
    let button = request["buttons"]
        .as_array()
        .and_then(|buttons| buttons.iter().find(|b| b["text"] == answer))
        .expect("the request has the button");
    let wa_id = KERRY.trim_start_matches('+');
    envelope(json!({
        "contacts": [{"profile": {"name": "Kerry Fisher"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": id, "timestamp": "1764090100", "type": "button",
                      "button": {"payload": button["payload"], "text": answer},
                      "context": {"from": "15550001111", "id": request["id"]}}]}))
}

/// Waits until every outbox job is done, then checks that each took one
/// provider call: no job went to two workers.
async fn each_job_sent_once(instance: &TestService) {
    eventually("the outbox settled", || async {
        let open = instance
            .count("SELECT COUNT(*) FROM outbox WHERE state <> 'done'")
            .await;
        if open == 0 {
            Ok(())
        } else {
            Err(format!("{open} jobs not done"))
        }
    })
    .await;
    let repeated = "SELECT COUNT(*) FROM outbox WHERE attempts <> 1";
    assert_eq!(
        instance.count(repeated).await,
        0,
        "each job attempted exactly once"
    );
}

/// The live stream of `token` on `instance`, from now on.
async fn live_stream(
    instance: &TestService,
    token: &str,
) -> SseReader<impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>>> {
    let response = instance
        .http
        .get(format!("{}/api/v1/events", instance.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    SseReader::new(response.bytes_stream())
}

#[tokio::test]
async fn an_answer_that_reaches_instance_b_shows_live_on_a_and_everything_happens_once() {
    assert!(
        std::env::var(POSTGRES_SERVER).is_ok(),
        "{POSTGRES_SERVER} names the PostgreSQL server (cargo xtask test starts one)"
    );
    let a = start().await;
    assert_eq!(a.service.state.store.engine(), Engine::Postgres);
    let b = a.launch_beside().await;
    let secret = a.service.state.providers.settings.app_secret.clone();

    let kerry = a.contact_id(&a.jane, "Kerry").await;
    let mut stream = live_stream(&a, &a.jane).await;
    let (status, _) = a.opt_in_as(&a.jane, kerry, "two-instances").await;
    assert_eq!(status, 202);
    // Both instances' outbox workers see the job; the phone gets it once.
    let request = a.wait_inbox(KERRY, "whatsapp", 1).await.remove(0);
    a.wait_for_state(&a.jane, kerry, "pending").await;

    // Meta delivers the tap to B, and again to A and to B (a retry that the
    // load balancer sent elsewhere), all at once.
    let tap = tap_webhook(&request, "Yes", "wamid.TWO-INSTANCES-TAP");
    let deliveries = [&b.base, &a.base, &b.base, &a.base].map(|base| {
        let (http, base, secret, tap) = (a.http.clone(), base.clone(), secret.clone(), tap.clone());
        tokio::spawn(async move { post_signed_whatsapp(&http, &base, &secret, tap).await })
    });
    for delivery in deliveries {
        assert_eq!(
            delivery.await.unwrap(),
            200,
            "every delivery is acknowledged"
        );
    }

    // A's stream shows the answer, whichever instance applied it.
    stream
        .read_until("Kerry's opted_in event on instance A", |events| {
            events
                .iter()
                .any(|(_, e)| e["phone"] == KERRY && e["state"] == "opted_in")
        })
        .await;
    a.wait_for_state(&a.jane, kerry, "opted_in").await;

    // Applied once: one acceptance, one confirmation to the contact.
    let accepted = format!(
        "SELECT COUNT(*) FROM consent_events WHERE kind = 'accepted' AND phone_e164 = '{KERRY}'"
    );
    assert_eq!(a.count(&accepted).await, 1);
    let inbox = a.wait_inbox(KERRY, "whatsapp", 2).await;
    assert!(
        inbox[1]["text"].as_str().unwrap().contains("opted in"),
        "{inbox:?}"
    );
    // Every job is done, none by two workers: each was attempted once.
    each_job_sent_once(&a).await;
    assert_eq!(a.wait_inbox(KERRY, "whatsapp", 2).await.len(), 2);

    // One chain, written by both instances, intact.
    let (status, chain) = b.api("GET", "/compliance/chain", &b.compliance, None).await;
    assert_eq!((status, &chain["intact"]), (200, &json!(true)), "{chain}");
    b.service.stop().await;
    a.service.stop().await;
}

#[tokio::test]
async fn a_concurrent_load_over_both_instances_sends_each_message_once_and_keeps_one_chain() {
    assert!(std::env::var(POSTGRES_SERVER).is_ok());
    let a = start().await;
    let b = a.launch_beside().await;
    // Opt-in requests to ten new contacts, half through each instance, all
    // at once; then each contact answers.
    let requests = (0..10).map(|n| {
        let instance = if n % 2 == 0 { &a } else { &b };
        async move {
            let phone = format!("+44770019{n:04}");
            let contact = instance
                .add_contact(&instance.jane, &format!("Parallel {n}"), &phone)
                .await;
            let (status, _) = instance
                .opt_in_as(&instance.jane, contact, &format!("parallel-{n}"))
                .await;
            assert_eq!(status, 202);
            phone
        }
    });
    let phones = futures_util::future::join_all(requests).await;
    for phone in &phones {
        a.wait_inbox(phone, "whatsapp", 1).await;
    }
    let answers = phones.iter().enumerate().map(|(n, phone)| {
        let answer = if n % 3 == 0 { "No" } else { "Yes" };
        a.contact_taps(phone, answer)
    });
    futures_util::future::join_all(answers).await;
    for phone in &phones {
        a.wait_inbox(phone, "whatsapp", 2).await;
    }
    each_job_sent_once(&a).await;
    for phone in &phones {
        assert_eq!(a.phone_inbox(phone, "whatsapp").await.len(), 2, "{phone}");
    }

    // The chain both wrote verifies, against each instance's checkpoints
    // (each signs what it saw, at the latest when it stops).
    let database = a.service.state.config.database_url.clone().unwrap();
    let (dir_b, dir_a) = (b.stop_keeping_data().await, a.stop_keeping_data().await);
    for dir in [&dir_a, &dir_b] {
        let verified = run_binary(
            dir.path(),
            &[("OPTIN_SANDBOX", "1"), ("OPTIN_DATABASE_URL", &database)],
            &["verify-chain", "--organization", "1"],
        );
        let printed = String::from_utf8_lossy(&verified.stdout);
        assert!(verified.status.success(), "{printed}{}", stderr(&verified));
        assert!(printed.contains("chain intact"), "{printed}");
    }
}

#[tokio::test]
async fn a_stream_loses_nothing_when_the_instance_stops_hearing_the_database_for_a_while() {
    assert!(std::env::var(POSTGRES_SERVER).is_ok());
    let a = start().await;
    let b = a.launch_beside().await;
    let mut stream = live_stream(&a, &a.jane).await;
    // A's listening connection is cut (a failover, a network blip) while B
    // writes: whatever was announced meanwhile is read from storage once A
    // listens again.
    let cut: Vec<i32> = eventually("both instances listening", || async {
        let listening: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(a.service.state.store.pool())
        .await
        .unwrap();
        match listening.len() {
            2 => Ok(listening),
            n => Err(format!("{n} listening connections")),
        }
    })
    .await;
    let pool = a.service.state.store.pool();
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(pool)
        .await
        .unwrap();
    // No new connection until B has written: the listeners stay deaf (the
    // pools keep the connections they have). The test's own statements run
    // on a connection held from before, which A's pool could otherwise have
    // lent to its own work and then had to open anew.
    let mut held = pool.acquire().await.unwrap();
    let limit = |n: i32| format!("ALTER DATABASE {database} CONNECTION LIMIT {n}");
    sqlx::query(&limit(0)).execute(&mut *held).await.unwrap();
    for pid in cut {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut *held)
            .await
            .unwrap();
    }
    write_events(&b.service.state, 20).await;
    sqlx::query(&limit(-1)).execute(&mut *held).await.unwrap();
    drop(held);
    let stored: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM consent_events WHERE organization_id = 1 ORDER BY id DESC LIMIT 20",
    )
    .fetch_all(a.service.state.store.pool())
    .await
    .unwrap();
    stream.read_through(stored[0]).await;
    let mut want = stored;
    want.reverse();
    let got: Vec<i64> = stream
        .ids()
        .into_iter()
        .filter(|id| want.contains(id))
        .collect();
    assert_eq!(got, want, "every event, once, in order");
    b.service.stop().await;
    a.service.stop().await;
}

#[tokio::test]
async fn instances_starting_together_on_a_new_database_migrate_and_seed_it_once() {
    assert!(std::env::var(POSTGRES_SERVER).is_ok());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config_a = support::test_config(dir_a.path().to_path_buf());
    let mut config_b = support::test_config(dir_b.path().to_path_buf());
    config_b.database_url = config_a.database_url.clone();
    let (a, b) = tokio::join!(
        optin_server::launch(config_a),
        optin_server::launch(config_b)
    );
    let (a, b) = (a.expect("A starts"), b.expect("B starts"));
    let pool = a.state.store.pool();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations-postgres"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, migrations, "each migration applied once");
    let organizations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(organizations, 1, "the demo organization created once");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_database_the_server_does_not_have_stops_the_start_with_its_reason() {
    let server = std::env::var(POSTGRES_SERVER).expect("the PostgreSQL server's URL");
    let (prefix, _) = server.rsplit_once('/').unwrap();
    let url = format!("{prefix}/no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(
        dir.path(),
        &[("OPTIN_SANDBOX", "1"), ("OPTIN_DATABASE_URL", &url)],
        &[],
    );
    assert!(!output.status.success());
    let printed = stderr(&output);
    assert!(
        printed.contains("database no_such_database")
            && printed.contains("\"no_such_database\" does not exist")
            && !printed.contains("panicked"),
        "{printed}"
    );
}

/// The archive feed, both instances configured to deliver: one at a time holds the delivery, so each
/// item arrives once.
#[tokio::test]
async fn two_instances_on_one_database_deliver_each_item_once() {
    let sink = SmtpSink::start(0);
    let a = service(tempfile::tempdir().unwrap(), &sink).await;
    assert_eq!(
        a.service.state.store.engine(),
        optin_server::store::Engine::Postgres
    );
    let b = a.launch_beside_with(|config| sink.configure(config)).await;
    converse(&a).await;
    let received = settled(&a, &sink).await;
    assert_each_arrived_once(&a, &received).await;
    b.service.stop().await;
    a.service.stop().await;
}

/// The outbox: B is killed while it holds the job's lease (its call in
/// flight); A, whose worker runs all along, leaves the job to B's lease,
/// then settles it by the status carrying its key. The provider got one call.
#[tokio::test]
async fn an_instance_killed_holding_a_lease_leaves_the_job_to_the_other_and_it_goes_once() {
    let b = QuietService::start().await;
    assert_eq!(b.state.store.engine(), Engine::Postgres);
    b.provider
        .hang_then_accept(std::time::Duration::from_millis(800));
    queue_request(&b).await;
    let pass = tokio::spawn({
        let state = b.state.clone();
        async move { drain(&state).await }
    });
    eventually("B calls the provider", || async {
        match b.provider.calls().len() {
            1 => Ok(()),
            n => Err(format!("{n} calls")),
        }
    })
    .await;

    // A: another instance on the same database, its worker running.
    let a_dir = tempfile::tempdir().unwrap();
    let mut config = b.config.clone();
    config.data_dir = a_dir.path().to_path_buf();
    config.witness_dir = Some(a_dir.path().join("witness"));
    let a = optin_server::launch(config).await.unwrap();
    let a_base = format!("http://{}", a.addr);

    // B dies holding the lease, before the provider's answer.
    pass.abort();
    assert!(pass.await.unwrap_err().is_cancelled());
    let (_, provider, _b_dir, _) = b.stop().await;
    let (state, attempts, _, _, key) = the_job(&a.state).await;
    assert_eq!((state.as_str(), attempts), ("claimed", 1));
    a.state.outbox_wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(provider.calls().len(), 1, "A leaves a job under B's lease");

    // The provider sent it anyway; its status reaches A.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let http = reqwest::Client::new();
    let status = status_carrying("wamid.FAKE1", "sent", &key);
    assert_eq!(signed_whatsapp(&http, &a_base, &status).await, 200);
    let (state, attempts, ..) = the_job(&a.state).await;
    assert_eq!((state.as_str(), attempts), ("done", 1));

    // Long after the lease and the grace period, A has sent nothing more.
    a.state.clock.advance(chrono::Duration::hours(1));
    a.state.outbox_wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(provider.calls().len(), 1, "{:?}", provider.calls());
    a.stop().await;
}
