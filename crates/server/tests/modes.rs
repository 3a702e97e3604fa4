//! Modes that cannot be confused: production is the default and will not
//! start without every provider setting (naming what is missing); the sandbox
//! is asked for and listens on loopback only; a database keeps the mode it
//! was created in; production has no sandbox routes, no demo data and writes
//! no token to disk. The binary itself is run, as an operator would.

mod support;

use optin_core::vocab::Mode;
use optin_server::launch;
use optin_server::store::StoreError;
use support::extra::{run_binary as run, stderr, FakeProvider, PRODUCTION};

#[test]
fn production_without_a_provider_setting_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let without_sms_token: Vec<_> = PRODUCTION
        .iter()
        .copied()
        .filter(|(key, _)| *key != "OPTIN_SMS_AUTH_TOKEN")
        .collect();
    let output = run(dir.path(), &without_sms_token, &[]);
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains("production mode needs OPTIN_SMS_AUTH_TOKEN"),
        "{said}"
    );
    assert!(
        !said.contains("OPTIN_WA_APP_SECRET"),
        "only what is missing: {said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");

    // Nothing set at all: every one is named, and nothing was created.
    let said = stderr(&run(dir.path(), &[], &[]));
    for (key, _) in PRODUCTION {
        assert!(said.contains(key), "{key} named in {said}");
    }
    assert!(!dir.path().join("optin.sqlite3").exists());
    assert!(!dir.path().join("demo-advisors.json").exists());
}

#[test]
fn the_sandbox_refuses_an_address_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--sandbox", "--addr", "0.0.0.0:0"][..],
        &[
            "--sandbox",
            "--addr",
            "127.0.0.1:0",
            "--demo-crm-addr",
            "0.0.0.0:0",
        ][..],
    ] {
        let output = run(dir.path(), &[], args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains("loopback addresses only"),
            "{}",
            stderr(&output)
        );
    }
    let output = run(
        dir.path(),
        &[("OPTIN_SANDBOX", "1"), ("OPTIN_ADDR", "0.0.0.0:0")],
        &[],
    );
    assert!(stderr(&output).contains("loopback addresses only"));
}

#[tokio::test]
async fn a_database_keeps_the_mode_it_was_created_in() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox_db = dir.path().join("sandbox.sqlite3");
    drop(
        support::open_store(&sandbox_db, Mode::Sandbox)
            .await
            .unwrap(),
    );
    match support::open_store(&sandbox_db, Mode::Production).await {
        Err(StoreError::WrongMode {
            database,
            requested,
            ..
        }) => {
            assert_eq!((database, requested), (Mode::Sandbox, Mode::Production))
        }
        Err(other) => panic!("expected WrongMode, got {other}"),
        Ok(_) => panic!("a sandbox database opened in production"),
    }
    let production_db = dir.path().join("production.sqlite3");
    drop(
        support::open_store(&production_db, Mode::Production)
            .await
            .unwrap(),
    );
    assert!(support::open_store(&production_db, Mode::Sandbox)
        .await
        .is_err());
    assert!(support::open_store(&production_db, Mode::Production)
        .await
        .is_ok());

    // The binary says so in one line, naming the way out.
    let data = tempfile::tempdir().unwrap();
    let created = run(data.path(), &[], &["--sandbox", "list-organizations"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let refused = run(data.path(), &PRODUCTION, &["list-organizations"]);
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(said.contains("created in sandbox mode"), "{said}");
    assert!(said.contains("--sandbox"), "{said}");
}

#[tokio::test]
async fn production_has_no_sandbox_routes_no_demo_data_and_no_token_on_disk() {
    let provider = FakeProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::test_config(dir.path().to_path_buf());
    provider.configure(&mut config);
    let service = launch(config).await.unwrap();
    let base = format!("http://{}", service.addr);
    let http = reqwest::Client::new();
    for path in [
        "/sandbox/clock",
        "/sandbox/phones",
        "/phone/%2B447911123456",
    ] {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "GET {path}");
    }
    let status = http
        .post(format!("{base}/sandbox/clock/advance"))
        .json(&serde_json::json!({"seconds": 86400}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(
        status == 404 || status == 405,
        "POST /sandbox/clock/advance: {status}"
    );
    let pool = service.state.store.pool();
    for table in [
        "organizations",
        "advisors",
        "contacts",
        "advisor_tokens",
        "api_keys",
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(count, 0, "no demo data in {table}");
    }
    assert!(!dir.path().join("demo-advisors.json").exists());
    assert!(!dir.path().join("sandbox.sqlite3").exists());
    assert_eq!(service.state.store.mode(), Mode::Production);
    service.stop().await;
}

#[test]
fn an_organizations_own_token_stays_in_the_environment_and_production_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(
        dir.path(),
        &PRODUCTION,
        &[
            "create-organization",
            "--name",
            "Own Account Bank",
            "--whatsapp-phone-number-id",
            "5555",
            "--whatsapp-access-token-env",
            "OWN_ACCOUNT_BANK_WA_TOKEN",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let listed = run(dir.path(), &PRODUCTION, &["list-organizations"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("\"whatsapp_access_token_env\": \"OWN_ACCOUNT_BANK_WA_TOKEN\""),
        "{listed}"
    );

    let refused = run(dir.path(), &PRODUCTION, &[]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("access token variable OWN_ACCOUNT_BANK_WA_TOKEN is not set"),
        "{}",
        stderr(&refused)
    );
    let bad = run(
        dir.path(),
        &PRODUCTION,
        &[
            "update-organization",
            "--organization",
            "1",
            "--whatsapp-access-token-env",
            "not a name",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("not an environment variable name"),
        "{}",
        stderr(&bad)
    );
}
