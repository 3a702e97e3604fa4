//! The README's production quick start, run as written: its provisioning
//! block, command by command, on an empty data folder, then the service in
//! production mode against a stand-in provider, up to an accepted opt-in.
//! If the README's commands stop working, this fails.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use optin_server::providers::signature::meta_signature;
use serde_json::{json, Value};
use support::extra::{eventually, FakeProvider};

/// The block between the quick-start markers, without its fences.
fn quickstart_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let start = readme
        .find("<!-- quickstart:begin -->")
        .expect("the quick-start begins");
    let end = readme
        .find("<!-- quickstart:end -->")
        .expect("the quick-start ends");
    readme[start..end]
        .lines()
        .skip(1)
        .filter(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The production settings, pointed at the stand-in provider, with a
/// checkpoint key made for the test.
fn environment(dir: &std::path::Path, provider: &FakeProvider) -> Vec<(&'static str, String)> {
    let key = dir.join("keys").join("checkpoint-key.pem");
    optin_server::checkpoints::generate_key_file(&key).unwrap();
    vec![
        ("OPTIN_CHECKPOINT_KEY_FILE", key.display().to_string()),
        (
            "OPTIN_WITNESS_DIR",
            dir.join("witness").display().to_string(),
        ),
        ("OPTIN_DATA_DIR", dir.display().to_string()),
        ("OPTIN_ADDR", "127.0.0.1:0".into()),
        ("OPTIN_PUBLIC_URL", "https://optin.example.com".into()),
        ("OPTIN_WA_ACCESS_TOKEN", "system-user-token".into()),
        ("OPTIN_WA_APP_SECRET", "app-secret".into()),
        ("OPTIN_WA_VERIFY_TOKEN", "verify-token".into()),
        ("OPTIN_WA_GRAPH_BASE", provider.base()),
        ("OPTIN_SMS_BASE", provider.base()),
        ("OPTIN_SMS_ACCOUNT_SID", "ACquickstart".into()),
        ("OPTIN_SMS_AUTH_TOKEN", "sms-token".into()),
    ]
}

fn command(program: &str, env: &[(&'static str, String)]) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars() {
        if key.starts_with("OPTIN_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

/// Stops the service however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_readme_production_quick_start_reaches_an_accepted_opt_in() {
    let provider = FakeProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = environment(dir.path(), &provider);
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_optin-server"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The README's block, as an operator's shell runs it; then what it kept.
    let script = format!(
        "set -euo pipefail\n{}\necho \"ORG=$ORG\"\necho \"CRM_KEY=$CRM_KEY\"\n",
        quickstart_block()
    );
    let output = command("bash", &env)
        .env("PATH", path)
        .args(["-c", &script])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the quick start failed:\n{said}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("chain intact"), "{said}");
    let kept = |name: &str| {
        said.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {said}"))
            .to_owned()
    };
    let crm_key = kept("CRM_KEY");
    assert!(
        !dir.path().join("demo-advisors.json").exists(),
        "no token on disk"
    );

    // Step 5: the service, in production mode.
    let mut child = command(binary.to_str().unwrap(), &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    // Log lines may come first; the service then says where it listens.
    let base = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.trim().strip_prefix("Listening on ").map(str::to_owned))
        .expect("the service says where it listens");
    let http = reqwest::Client::new();

    // Step 8: the CRM backend mints Jane's token by her CRM id.
    let issued: Value = http
        .post(format!("{base}/api/v1/integrations/advisor-tokens"))
        .bearer_auth(&crm_key)
        .json(&json!({"advisor_external_id": "0058d000001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().expect("a token").to_owned();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}/api/v1{path}"))
            .bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    };
    let contact: Value = call(
        reqwest::Method::POST,
        "/contacts",
        Some(json!({"name": "Kerry Fisher", "phone": "+44 7911 123456"})),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = contact["id"].as_i64().expect("a contact");
    let status = call(
        reqwest::Method::POST,
        &format!("/contacts/{id}/opt-in"),
        None,
    )
    .send()
    .await
    .unwrap()
    .status();
    assert_eq!(status, 202);

    // The request went out from the organization's own number, with the service's token.
    let sent = eventually("the opt-in request reaches the provider", || async {
        provider
            .calls()
            .into_iter()
            .next()
            .ok_or_else(|| "no call yet".to_owned())
    })
    .await;
    assert_eq!(sent.path, "/v21.0/106540352242922/messages");
    let body: Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(body["template"]["name"], "advisor_opt_in");
    let yes = body["template"]["components"][1]["parameters"][0]["payload"]
        .as_str()
        .unwrap()
        .to_owned();

    // Kerry taps Yes: Meta's webhook, signed with the app secret, to the org's number.
    let tap = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "12127365000", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Kerry"}, "wa_id": "447911123456"}],
            "messages": [{"from": "447911123456", "id": "wamid.QUICKSTART-YES", "timestamp": "1764080000",
                "type": "button", "button": {"payload": yes, "text": "Yes"},
                "context": {"from": "12127365000", "id": "wamid.FAKE1"}}]}}]}]})
    .to_string();
    let status = http
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            meta_signature("app-secret", tap.as_bytes()),
        )
        .body(tap)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    eventually("the contact is opted in", || async {
        let consent: Value = call(
            reqwest::Method::GET,
            &format!("/contacts/{id}/consent"),
            None,
        )
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
        match consent["state"].as_str() {
            Some("opted_in") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    drop(running);
}
