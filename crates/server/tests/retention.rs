//! Retention and legal holds: messages past the organization's period are
//! purged by the maintenance pass, one consent-record step per number; a
//! hold on a number or on the whole organization stops any purge; the chain
//! stays intact; holds are compliance's to place and release.

mod support;

use optin_server::maintenance;
use serde_json::{json, Value};
use support::extra::{assert_refused, KERRY};
use support::start;

const AMARA: &str = "+447700123456";
const LUIS: &str = "+34612345678";

/// Six years (the default retention) and a day, in seconds.
const PAST_RETENTION: i64 = (6 * 366 + 1) * 24 * 3600;

async fn messages_with(t: &support::TestService, phone: &str) -> i64 {
    t.count(&format!(
        "SELECT COUNT(*) FROM messages WHERE phone_e164 = '{phone}'"
    ))
    .await
}

async fn place_hold(t: &support::TestService, hold: Value) -> (u16, Value) {
    t.api("POST", "/compliance/holds", &t.compliance, Some(hold))
        .await
}

async fn chain_intact(t: &support::TestService) {
    let (status, chain) = t.api("GET", "/compliance/chain", &t.compliance, None).await;
    assert_eq!((status, &chain["intact"]), (200, &json!(true)), "{chain}");
}

/// Asks for an opt-in, so the number has a message (the request).
async fn ask(t: &support::TestService, name: &str, phone: &str) {
    let contact = t.contact_id(&t.jane, name).await;
    let (status, body) = t.opt_in_as(&t.jane, contact, &format!("ask-{phone}")).await;
    assert_eq!(status, 202, "{body}");
    t.wait_inbox(phone, "whatsapp", 1).await;
}

#[tokio::test]
async fn past_retention_messages_are_purged_held_ones_kept_and_the_chain_stays_intact() {
    let t = start().await;
    ask(&t, "Kerry", KERRY).await;
    ask(&t, "Amara", AMARA).await;
    assert!(messages_with(&t, KERRY).await >= 1);
    let amara_before = messages_with(&t, AMARA).await;
    assert!(amara_before >= 1);
    let (status, hold) = place_hold(&t, json!({"phone": AMARA, "reason": "Matter 2026-17"})).await;
    assert_eq!(status, 201, "{hold}");
    assert_eq!(
        (&hold["phone"], &hold["placed_by"], &hold["released_at"]),
        (&json!(AMARA), &json!("Casey Morgan"), &Value::Null)
    );

    // Within the period nothing goes.
    let pass = maintenance::pass(&t.service.state).await.unwrap();
    assert_eq!(pass.messages_purged, 0);

    t.advance_seconds(PAST_RETENTION).await;
    ask(&t, "Luis", LUIS).await; // recent: kept
    let kerry_before = messages_with(&t, KERRY).await;
    let pass = maintenance::pass(&t.service.state).await.unwrap();
    assert_eq!(pass.messages_purged as i64, kerry_before);
    assert_eq!(messages_with(&t, KERRY).await, 0, "past retention: purged");
    assert_eq!(messages_with(&t, AMARA).await, amara_before, "held: kept");
    assert!(messages_with(&t, LUIS).await >= 1, "recent: kept");
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM archive_feed f WHERE f.message_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = f.message_id)"
        )
        .await,
        0,
        "a purged message is no longer an archive item"
    );

    // The purge is a step of the number's record, and the chain holds.
    let purges: Vec<(String, String)> = sqlx::query_as(
        "SELECT phone_e164, detail_json FROM consent_events WHERE kind = 'messages_purged'",
    )
    .fetch_all(t.service.state.store.pool())
    .await
    .unwrap();
    assert_eq!(purges.len(), 1, "{purges:?}");
    assert_eq!(purges[0].0, KERRY);
    let detail: Value = serde_json::from_str(&purges[0].1).unwrap();
    assert_eq!(detail["messages"], json!(kerry_before));
    assert_eq!(detail["retention_months"], 72);
    chain_intact(&t).await;
    let (_, timeline) = t
        .api(
            "GET",
            &format!("/compliance/numbers/{}", KERRY.replace('+', "%2B")),
            &t.compliance,
            None,
        )
        .await;
    let last = timeline["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["kind"], &last["cause"]),
        (&json!("messages_purged"), &json!("service"))
    );
    assert_eq!(timeline["messages"], json!([]));

    // A second pass finds nothing more.
    assert_eq!(
        maintenance::pass(&t.service.state)
            .await
            .unwrap()
            .messages_purged,
        0
    );

    // A hold on the whole organization stops every purge, even once the
    // number's own hold is released.
    let (status, firm) = place_hold(&t, json!({"reason": "Regulator's request"})).await;
    assert_eq!((status, &firm["phone"]), (201, &Value::Null));
    let release = format!("/compliance/holds/{}/release", hold["id"]);
    let (status, released) = t.api("POST", &release, &t.compliance, None).await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["released_by"], "Casey Morgan");
    assert_eq!(
        maintenance::pass(&t.service.state)
            .await
            .unwrap()
            .messages_purged,
        0
    );
    assert_eq!(messages_with(&t, AMARA).await, amara_before);

    // Released: Amara's old messages go; Luis's recent one stays.
    let release_firm = format!("/compliance/holds/{}/release", firm["id"]);
    assert_eq!(
        t.api("POST", &release_firm, &t.compliance, None).await.0,
        200
    );
    let pass = maintenance::pass(&t.service.state).await.unwrap();
    assert_eq!(pass.messages_purged as i64, amara_before);
    assert_eq!(messages_with(&t, AMARA).await, 0);
    assert!(messages_with(&t, LUIS).await >= 1);
    chain_intact(&t).await;

    // The list shows the period and both holds, released, newest first.
    let (status, listed) = t.api("GET", "/compliance/holds", &t.compliance, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["retention_months"], 72);
    let ids: Vec<&Value> = listed["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["id"])
        .collect();
    assert_eq!(ids, [&firm["id"], &hold["id"]]);
}

#[tokio::test]
async fn holds_are_compliances_to_place_and_release_with_a_reason() {
    let t = start().await;
    let reply = t
        .api(
            "POST",
            "/compliance/holds",
            &t.jane,
            Some(json!({"reason": "mine"})),
        )
        .await;
    assert_refused(&reply, 403, "compliance_role_required");
    assert_refused(
        &t.api("GET", "/compliance/holds", &t.jane, None).await,
        403,
        "compliance_role_required",
    );
    assert_refused(
        &place_hold(&t, json!({"reason": "  "})).await,
        422,
        "invalid_reason",
    );
    assert_refused(
        &place_hold(&t, json!({"reason": "x".repeat(501)})).await,
        422,
        "invalid_reason",
    );
    assert_refused(
        &place_hold(&t, json!({"phone": "not a number", "reason": "Matter"})).await,
        422,
        "invalid_phone",
    );
    let (status, hold) =
        place_hold(&t, json!({"phone": "+44 7911 123456", "reason": "Matter"})).await;
    assert_eq!(
        (status, &hold["phone"]),
        (201, &json!(KERRY)),
        "stored in E.164"
    );
    let release = format!("/compliance/holds/{}/release", hold["id"]);
    assert_eq!(t.api("POST", &release, &t.compliance, None).await.0, 200);
    assert_refused(
        &t.api("POST", &release, &t.compliance, None).await,
        409,
        "hold_already_released",
    );
    assert_refused(
        &t.api("POST", "/compliance/holds/999/release", &t.compliance, None)
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn the_period_is_the_organizations_setting_within_the_rules_minimum() {
    use optin_core::admin::OrganizationSettings;
    use optin_server::services::provisioning::update_organization;
    let t = start().await;
    let store = &t.service.state.store;
    assert_eq!(
        store
            .organization(1)
            .await
            .unwrap()
            .unwrap()
            .retention_months,
        72
    );
    for months in [35, 1201] {
        let settings = OrganizationSettings {
            retention_months: Some(months),
            ..Default::default()
        };
        let refused = update_organization(store, 1, &settings, None).await;
        assert!(
            matches!(
                refused,
                Err(optin_server::error::AppError::Invalid {
                    code: "invalid_retention",
                    ..
                })
            ),
            "{months}: {refused:?}"
        );
    }
    let seven_years = OrganizationSettings {
        retention_months: Some(84),
        ..Default::default()
    };
    update_organization(store, 1, &seven_years, None)
        .await
        .unwrap();
    let (_, listed) = t.api("GET", "/compliance/holds", &t.compliance, None).await;
    assert_eq!(listed["retention_months"], 84);

    // Six years and a day on, a message is still inside seven years.
    ask(&t, "Kerry", KERRY).await;
    t.advance_seconds(PAST_RETENTION).await;
    assert_eq!(
        maintenance::pass(&t.service.state)
            .await
            .unwrap()
            .messages_purged,
        0
    );
    assert!(messages_with(&t, KERRY).await >= 1);
}
