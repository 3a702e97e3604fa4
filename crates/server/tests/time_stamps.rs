//! RFC 3161 time-stamps of the checkpoints: with `OPTIN_TSA_URL` set, each
//! signed checkpoint is time-stamped by the authority and its reply kept
//! beside the witness, where `openssl ts -verify` checks it with the
//! authority's CA alone. The authority here is a real one: `openssl ts
//! -reply` behind HTTP, with a CA and a time-stamping certificate made by
//! the test. An authority that cannot be reached costs the time-stamp only.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use optin_server::checkpoints::{Checkpoint, Due};
use support::extra::{run_binary, KERRY};
use support::{launch_in, TestService};

/// Runs openssl in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (cargo xtask test installs Debian's openssl)")
}

/// A CA, a time-stamping certificate it issued, and `openssl ts`'s
/// configuration for them, in `dir`.
fn make_authority(dir: &Path) {
    let ok = |args: &[&str]| {
        let output = openssl(dir, args);
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    };
    ok(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=Test TSA CA",
        "-days",
        "2",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    ok(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
        "-subj",
        "/CN=Test TSA",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    ok(&[
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tsa.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let config = format!(
        "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\ndir = {}\nserial = $dir/serial\n\
         crypto_device = builtin\nsigner_cert = $dir/tsa.crt\ncerts = $dir/ca.crt\n\
         signer_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
         other_policies = 1.2.3.4.2\ndigests = sha256\naccuracy = secs:1\nordering = yes\n\
         tsa_name = yes\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n",
        dir.display()
    );
    std::fs::write(dir.join("tsa.cnf"), config).unwrap();
}

#[derive(Clone)]
struct Authority {
    dir: PathBuf,
    requests: Arc<AtomicUsize>,
}

/// RFC 3161 over HTTP: a query in, `openssl ts -reply`'s answer out.
async fn answer(State(authority): State<Authority>, query: Bytes) -> axum::response::Response {
    let n = authority.requests.fetch_add(1, Ordering::SeqCst);
    let (query_file, reply_file) = (format!("q{n}.tsq"), format!("r{n}.tsr"));
    std::fs::write(authority.dir.join(&query_file), &query).unwrap();
    let output = openssl(
        &authority.dir,
        &[
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            &query_file,
            "-out",
            &reply_file,
        ],
    );
    assert!(output.status.success(), "openssl ts -reply: {output:?}");
    let reply = std::fs::read(authority.dir.join(&reply_file)).unwrap();
    ([(CONTENT_TYPE, "application/timestamp-reply")], reply).into_response()
}

/// Starts the authority; answers its URL.
async fn start_authority(authority: Authority) -> String {
    let app = axum::Router::new()
        .route("/tsa", axum::routing::post(answer))
        .with_state(authority);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// An opt-in asked for Kerry, then a checkpoint signed now. (The services
/// here run no outbox worker, so no status arrives to move the record on.)
async fn checkpoint_after_an_opt_in(t: &TestService) -> Checkpoint {
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    assert_eq!(t.opt_in_as(&t.jane, kerry, "stamped").await.0, 202);
    let state = &t.service.state;
    let signed = state
        .checkpoints
        .pass(&state.store, state.clock.now(), Due::Now)
        .await
        .unwrap();
    assert_eq!(signed.len(), 1, "one organization moved: {signed:?}");
    signed[0].clone()
}

#[tokio::test]
async fn each_checkpoint_is_time_stamped_and_the_reply_verifies_with_openssl_alone() {
    let tsa = tempfile::tempdir().unwrap();
    make_authority(tsa.path());
    let requests = Arc::new(AtomicUsize::new(0));
    let url = start_authority(Authority {
        dir: tsa.path().to_path_buf(),
        requests: requests.clone(),
    })
    .await;
    let t = launch_in(tempfile::tempdir().unwrap(), false, |config| {
        config.tsa_url = Some(url)
    })
    .await;
    let checkpoint = checkpoint_after_an_opt_in(&t).await;
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    let witness = t.service.state.checkpoints.witness();
    let reply = witness.time_stamp_file(1, checkpoint.seq);
    assert!(reply.exists(), "{} is kept", reply.display());
    // The checkpoint's exact text verifies against the reply with the CA…
    let data = tsa.path().join("checkpoint.txt");
    std::fs::write(&data, checkpoint.message()).unwrap();
    let verify = |data: &Path| {
        openssl(
            tsa.path(),
            &[
                "ts",
                "-verify",
                "-data",
                data.to_str().unwrap(),
                "-in",
                reply.to_str().unwrap(),
                "-CAfile",
                "ca.crt",
            ],
        )
    };
    let verified = verify(&data);
    assert!(verified.status.success(), "{verified:?}");
    assert!(String::from_utf8_lossy(&verified.stdout).contains("Verification: OK"));
    // …and any other text does not.
    let other = tsa.path().join("other.txt");
    std::fs::write(&other, checkpoint.message().replace("sequence", "sequenc")).unwrap();
    assert!(
        !verify(&other).status.success(),
        "another text does not verify"
    );

    // The number's evidence bundle carries the reply and says how to check it.
    let bundle = t
        .http
        .get(format!(
            "{}/api/v1/compliance/numbers/{}/bundle",
            t.base,
            support::extra::phone_path(KERRY)
        ))
        .bearer_auth(&t.compliance)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // optin-server verify-bundle takes it, the reply listed among the sums.
    let zip_path = tsa.path().join("bundle.zip");
    std::fs::write(&zip_path, &bundle).unwrap();
    let checked = run_binary(
        tsa.path(),
        &[],
        &["verify-bundle", zip_path.to_str().unwrap()],
    );
    assert!(checked.status.success(), "{checked:?}");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle.to_vec())).unwrap();
    let mut file = |name: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut bytes).unwrap();
        bytes
    };
    assert_eq!(file("checkpoint.tsr"), std::fs::read(&reply).unwrap());
    assert_eq!(file("checkpoint.txt"), checkpoint.message().into_bytes());
    let guide = String::from_utf8(file("VERIFY.md")).unwrap();
    assert!(
        guide.contains("openssl ts -verify -data checkpoint.txt -in checkpoint.tsr"),
        "{guide}"
    );
    assert!(String::from_utf8(file("SHA256SUMS"))
        .unwrap()
        .contains("  checkpoint.tsr\n"));

    // Nothing moved: no checkpoint, no time-stamp.
    let state = &t.service.state;
    let signed = state
        .checkpoints
        .pass(&state.store, state.clock.now(), Due::Now)
        .await
        .unwrap();
    assert!(signed.is_empty());
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    t.service.stop().await;
}

#[tokio::test]
async fn an_unreachable_authority_costs_the_time_stamp_only() {
    // Nothing listens on the discard port.
    let t = launch_in(tempfile::tempdir().unwrap(), false, |config| {
        config.tsa_url = Some("http://127.0.0.1:9/tsa".into())
    })
    .await;
    let checkpoint = checkpoint_after_an_opt_in(&t).await;
    let witness = t.service.state.checkpoints.witness();
    let witnessed = std::fs::read_to_string(witness.file(1)).unwrap();
    assert!(
        witnessed.contains(&serde_json::to_string(&checkpoint.message()).unwrap()),
        "the checkpoint is signed and witnessed: {witnessed}"
    );
    assert!(!witness.time_stamp_file(1, checkpoint.seq).exists());
    t.service.stop().await;
}

#[tokio::test]
async fn a_time_stamp_authority_must_be_a_url() {
    let mut config = optin_server::config::Config::for_tests(std::env::temp_dir());
    config.tsa_url = Some("tsa.example.com".into());
    let refused = config.validate().expect_err("not a URL");
    assert!(refused.contains("OPTIN_TSA_URL"), "{refused}");
}
