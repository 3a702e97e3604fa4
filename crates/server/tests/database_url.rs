//! A database the service cannot use stops it at start with one clear line
//! (where it looked: host, port and database; the driver's reason), never
//! a panic, and never with the URL's password.

mod support;

use support::extra::{run_binary, stderr};

const PASSWORD: &str = "s3cret-Passw0rd";

/// Runs the service on `url`; its exit status and what it printed.
fn start_on(url: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = run_binary(
        dir.path(),
        &[("OPTIN_SANDBOX", "1"), ("OPTIN_DATABASE_URL", url)],
        &[],
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    (output.status.success(), printed)
}

fn assert_one_clear_line(printed: &str, wanted: &[&str]) {
    assert!(
        !printed.contains(PASSWORD),
        "the password is shown: {printed}"
    );
    assert!(!printed.contains("panicked"), "{printed}");
    let lines: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {printed}");
    for part in wanted {
        assert!(lines[0].contains(part), "{part:?} missing from {printed}");
    }
}

#[test]
fn an_unreachable_postgresql_is_named_with_the_drivers_reason_and_no_password() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://optin:{PASSWORD}@127.0.0.1:{port}/advice");
    let (started, printed) = start_on(&url);
    assert!(!started);
    assert_one_clear_line(
        &printed,
        &[
            "cannot open the database",
            &format!("127.0.0.1:{port}"),
            "database advice",
            "refused",
        ],
    );
}

#[test]
fn a_url_of_another_kind_or_a_malformed_one_is_refused_by_name() {
    let (started, printed) = start_on(&format!("mysql://optin:{PASSWORD}@db/advice"));
    assert!(!started);
    assert_one_clear_line(
        &printed,
        &["OPTIN_DATABASE_URL", "postgres://", "sqlite://"],
    );

    let (started, printed) = start_on(&format!("postgres://optin:{PASSWORD}@db:port/advice"));
    assert!(!started);
    assert_one_clear_line(&printed, &["OPTIN_DATABASE_URL is not a PostgreSQL URL"]);
}
