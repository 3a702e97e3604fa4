//! The consent record as the advisor downloads it: one contact's record in
//! JSON, JSON lines and CSV, and the organization's export, each checked row
//! by row, field by field, against the `consent_events` table.

mod support;

use optin_core::vocab::{Cause, EvidenceKind};
use serde_json::{json, Value};
use support::extra::KERRY;
use support::{envelope, start_without_outbox_worker, TestService};

/// Events of several kinds, numbers and advisors (all written before the
/// test reads: the service runs without its outbox worker), with raw bodies that need
/// CSV quoting (commas, quotes, line breaks); and one of another organization.
async fn record_events(t: &TestService) {
    let say = |id: &str, from: &str, text: &str| {
        let body = envelope(json!({
            "messages": [{"from": from, "id": id, "timestamp": "1764080000", "type": "text", "text": {"body": text}}]
        }));
        // Pretty-printed: the raw body kept as evidence has line breaks.
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap()
    };
    for (id, from, text) in [
        ("wamid.EXP1", "447911123456", "Hello, it's \"Kerry\""),
        ("wamid.EXP2", "447911123456", "stop"),
        ("wamid.EXP3", "12025550143", "Hi Sam"),
        ("wamid.EXP4", "447911123456", "yes"),
    ] {
        assert_eq!(t.signed_whatsapp_webhook(&say(id, from, text)).await, 200);
    }
    let amara = t.contact_id(&t.jane, "Amara").await;
    assert_eq!(t.opt_in_as(&t.jane, amara, "exp").await.0, 202);

    let pool = t.service.state.store.pool();
    let other: i64 =
        sqlx::query_scalar("INSERT INTO organizations (name) VALUES ('Other Bank') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    let mut work = t.service.state.store.begin_write().await.unwrap();
    work.append_evidence(optin_server::store::evidence::NewEvidence::new(
        other,
        KERRY,
        None,
        EvidenceKind::MessageIn,
        Cause::Contact,
        json!({"text": "not Acme's"}),
        chrono::Utc::now(),
    ))
    .await
    .unwrap();
    work.commit().await.unwrap();
}

/// A row of `consent_events`, read with SQL of the test's own.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    organization_id: i64,
    seq: i64,
    phone_e164: String,
    advisor_id: Option<i64>,
    kind: String,
    cause: String,
    state_after: Option<String>,
    provider_time: Option<String>,
    received_at: String,
    detail_json: String,
    raw_body: Option<String>,
    #[sqlx(try_from = "optin_server::store::MaybeFlag")]
    signature_valid: Option<bool>,
    prev_hash: String,
    hash: String,
    mode: Option<String>,
    signature_header: Option<String>,
    signed_url: Option<String>,
    hash_form: i64,
}

/// The table's rows for the demo organization (one number, or all), by seq.
async fn table(t: &TestService, phone: Option<&str>) -> Vec<Row> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, organization_id, seq, phone_e164, advisor_id, kind, cause, state_after,
                provider_time, received_at, detail_json, raw_body, signature_valid, prev_hash, hash, mode,
                signature_header, signed_url, hash_form
         FROM consent_events WHERE organization_id = 1 AND ($1 IS NULL OR phone_e164 = $1) ORDER BY seq",
    )
    .bind(phone)
    .fetch_all(t.service.state.store.pool())
    .await
    .unwrap();
    assert!(rows.len() >= 3, "the test recorded events: {}", rows.len());
    rows
}

fn as_json(row: &Row) -> Value {
    json!({
        "id": row.id, "organization_id": row.organization_id, "seq": row.seq,
        "phone_e164": row.phone_e164, "advisor_id": row.advisor_id, "kind": row.kind,
        "cause": row.cause, "state_after": row.state_after, "provider_time": row.provider_time,
        "received_at": row.received_at, "detail_json": row.detail_json, "raw_body": row.raw_body,
        "signature_valid": row.signature_valid, "prev_hash": row.prev_hash,
        "hash": row.hash, "mode": row.mode, "signature_header": row.signature_header,
        "signed_url": row.signed_url, "hash_form": row.hash_form,
    })
}

const CSV_HEADER: [&str; 17] = [
    "seq",
    "received_at",
    "provider_time",
    "phone_e164",
    "advisor_id",
    "kind",
    "cause",
    "state_after",
    "detail_json",
    "signature_valid",
    "raw_body",
    "prev_hash",
    "hash",
    "mode",
    "signature_header",
    "signed_url",
    "hash_form",
];

fn as_csv(row: &Row) -> Vec<String> {
    vec![
        row.seq.to_string(),
        row.received_at.clone(),
        row.provider_time.clone().unwrap_or_default(),
        row.phone_e164.clone(),
        row.advisor_id.map(|a| a.to_string()).unwrap_or_default(),
        row.kind.clone(),
        row.cause.clone(),
        row.state_after.clone().unwrap_or_default(),
        row.detail_json.clone(),
        row.signature_valid
            .map(|v| v.to_string())
            .unwrap_or_default(),
        row.raw_body.clone().unwrap_or_default(),
        row.prev_hash.clone(),
        row.hash.clone(),
        row.mode.clone().unwrap_or_default(),
        row.signature_header.clone().unwrap_or_default(),
        row.signed_url.clone().unwrap_or_default(),
        row.hash_form.to_string(),
    ]
}

/// Parses RFC 4180 CSV (CRLF records, quoted fields with doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the CSV ends with a line break"
    );
    records
}

/// GET as Jane: status, content type, content disposition, body.
/// Downloads as Jane, or as compliance for the organization's export.
async fn download(t: &TestService, path: &str) -> (u16, String, String, String) {
    let token = if path.starts_with("/consent/export") {
        &t.compliance
    } else {
        &t.jane
    };
    let response = t
        .http
        .get(format!("{}/api/v1{path}", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status().as_u16();
    (
        status,
        content_type,
        disposition,
        response.text().await.unwrap(),
    )
}

#[track_caller]
fn assert_json_rows(got: &[Value], rows: &[Row], what: &str) {
    assert_eq!(got.len(), rows.len(), "{what}: number of rows");
    for (got, row) in got.iter().zip(rows) {
        assert_eq!(got, &as_json(row), "{what}: event {}", row.id);
    }
}

#[track_caller]
fn assert_csv_rows(body: &str, rows: &[Row], what: &str) {
    let records = parse_csv(body);
    assert_eq!(records[0], CSV_HEADER, "{what}: header");
    assert_eq!(records.len() - 1, rows.len(), "{what}: number of rows");
    for (got, row) in records[1..].iter().zip(rows) {
        assert_eq!(got, &as_csv(row), "{what}: event {}", row.id);
    }
}

#[tokio::test]
async fn a_contacts_record_in_each_format_is_exactly_that_numbers_rows() {
    // No outbox worker: nothing is sent, so no provider event lands while the test reads.
    let t = start_without_outbox_worker().await;
    record_events(&t).await;
    let kerry = t.contact_id(&t.jane, "Kerry").await;
    let rows = table(&t, Some(KERRY)).await;
    assert!(
        rows.iter()
            .any(|r| r.raw_body.as_deref().is_some_and(|raw| raw.contains('\n'))),
        "a raw body with line breaks is among them"
    );
    let path = format!("/contacts/{kerry}/consent/record");

    for query in ["", "?format=json"] {
        let (status, content_type, _, body) = download(&t, &format!("{path}{query}")).await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let items: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert_json_rows(&items, &rows, &format!("json{query}"));
    }

    let (status, content_type, disposition, body) =
        download(&t, &format!("{path}?format=jsonl")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/x-ndjson");
    assert_eq!(
        disposition,
        "attachment; filename=\"consent-record-447911123456.jsonl\""
    );
    assert!(body.ends_with('\n'));
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_json_rows(&lines, &rows, "jsonl");

    let (status, content_type, disposition, body) =
        download(&t, &format!("{path}?format=csv")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(
        disposition,
        "attachment; filename=\"consent-record-447911123456.csv\""
    );
    assert_csv_rows(&body, &rows, "csv");

    let (status, _, _, body) = download(&t, &format!("{path}?format=xml")).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_format"))
    );
    t.service.stop().await;
}

#[tokio::test]
async fn the_organization_export_is_exactly_the_organizations_rows() {
    // No outbox worker: nothing is sent, so no provider event lands while the test reads.
    let t = start_without_outbox_worker().await;
    record_events(&t).await;
    let rows = table(&t, None).await;
    assert!(
        rows.iter()
            .map(|r| &r.phone_e164)
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= 3,
        "several numbers"
    );
    let total = t.count("SELECT COUNT(*) FROM consent_events").await as usize;
    assert_eq!(
        total,
        rows.len() + 1,
        "one event belongs to another organization"
    );

    for query in ["", "?format=jsonl"] {
        let (status, content_type, disposition, body) =
            download(&t, &format!("/consent/export{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/x-ndjson");
        assert_eq!(disposition, "attachment; filename=\"consent-record.jsonl\"");
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_json_rows(&lines, &rows, &format!("export{query}"));
    }
    let (status, _, disposition, body) = download(&t, "/consent/export?format=csv").await;
    assert_eq!(status, 200);
    assert_eq!(disposition, "attachment; filename=\"consent-record.csv\"");
    assert_csv_rows(&body, &rows, "export csv");
    t.service.stop().await;
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised() {
    let t = start_without_outbox_worker().await;
    // A kept raw body that a spreadsheet would run (OWASP's CSV injection).
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let mut work = t.service.state.store.begin_write().await.unwrap();
    let evidence = optin_server::store::evidence::NewEvidence::new(
        1,
        KERRY,
        None,
        EvidenceKind::MessageIn,
        Cause::Contact,
        json!({"text": "hello"}),
        chrono::Utc::now(),
    )
    .from_webhook(
        &optin_server::store::evidence::ReceivedWebhook {
            body: formula.into(),
            ..Default::default()
        },
        None,
    );
    work.append_evidence(evidence).await.unwrap();
    work.commit().await.unwrap();

    let (status, _, _, body) = download(&t, "/consent/export?format=csv").await;
    assert_eq!(status, 200);
    assert!(!body.contains(",=HYPERLINK"), "{body}");
    let records = parse_csv(&body);
    let header = &records[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = records
        .iter()
        .find(|r| r[column("raw_body")].contains("HYPERLINK"))
        .expect("the row is exported");
    assert_eq!(row[column("raw_body")], format!("'{formula}"));
    assert_eq!(row[column("phone_e164")], KERRY, "numbers stay as stored");
    t.service.stop().await;
}
