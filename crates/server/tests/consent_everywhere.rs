//! Consent belongs to the number within the organization, not to the advisor
//! who asked: a STOP on Jane's contact binds Sam, who has the same number,
//! and the contact's YES / START frees both again.

mod support;

use support::extra::{assert_refused, meeting_reminder, KERRY};
use support::start;

#[tokio::test]
async fn a_whatsapp_stop_on_janes_contact_blocks_every_advisor_until_the_contact_says_yes() {
    let t = start().await;
    let janes = t.contact_id(&t.jane, "Kerry").await;
    let sams = t.add_contact(&t.sam, "Kerry F.", KERRY).await;

    // Kerry opts in through Jane's request; Sam may then write too.
    assert_eq!(t.opt_in_as(&t.jane, janes, "stop-1").await.0, 202);
    t.wait_for_state(&t.jane, janes, "pending").await;
    t.contact_taps(KERRY, "Yes").await;
    t.wait_for_state(&t.sam, sams, "opted_in").await;
    t.wait_inbox(KERRY, "whatsapp", 2).await; // request, confirmation
    assert_eq!(
        t.whatsapp_as(&t.sam, sams, meeting_reminder("Kerry", "Monday"))
            .await
            .0,
        202
    );
    t.wait_inbox(KERRY, "whatsapp", 3).await;

    // STOP, typed to the business number.
    t.contact_writes(KERRY, "whatsapp", "STOP").await;
    t.wait_for_state(&t.sam, sams, "opted_out").await;
    assert_eq!(t.consent(&t.jane, janes).await["state"], "opted_out");
    let queued = t.count("SELECT COUNT(*) FROM outbox").await;
    for (token, contact) in [(&t.jane, janes), (&t.sam, sams)] {
        assert_refused(
            &t.whatsapp_as(token, contact, meeting_reminder("Kerry", "Tuesday"))
                .await,
            409,
            "not_opted_in",
        );
        assert_refused(
            &t.whatsapp_as(
                token,
                contact,
                serde_json::json!({"type": "text", "body": "hi"}),
            )
            .await,
            409,
            "not_opted_in",
        );
        assert_refused(
            &t.opt_in_as(token, contact, &format!("again-{contact}"))
                .await,
            409,
            "contact_opted_out",
        );
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox").await,
        queued,
        "nothing was queued"
    );

    // YES, typed: both advisors may write again.
    t.contact_writes(KERRY, "whatsapp", "YES").await;
    t.wait_for_state(&t.jane, janes, "opted_in").await;
    assert_eq!(t.consent(&t.sam, sams).await["state"], "opted_in");
    // Request, confirmation, Sam's reminder, the opt-out notice, the new confirmation.
    t.wait_inbox(KERRY, "whatsapp", 5).await;
    assert_eq!(
        t.whatsapp_as(&t.sam, sams, meeting_reminder("Kerry", "Friday 9:00"))
            .await
            .0,
        202
    );
    assert_eq!(
        t.whatsapp_as(
            &t.jane,
            janes,
            serde_json::json!({"type": "text", "body": "Welcome back"})
        )
        .await
        .0,
        202
    );
    let inbox = t.wait_inbox(KERRY, "whatsapp", 7).await;
    let texts: Vec<&str> = inbox.iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(texts.iter().any(|m| m.contains("Friday 9:00")), "{texts:?}");
    assert!(texts.contains(&"Welcome back"), "{texts:?}");
    t.service.stop().await;
}

#[tokio::test]
async fn an_sms_stop_on_janes_contact_blocks_sms_by_every_advisor_until_start() {
    let t = start().await;
    let janes = t.contact_id(&t.jane, "Kerry").await;
    let sams = t.add_contact(&t.sam, "Kerry F.", KERRY).await;
    assert_eq!(t.sms_as(&t.sam, sams, "Hello from Sam").await.0, 202);
    t.wait_inbox(KERRY, "sms", 1).await;

    t.contact_writes(KERRY, "sms", "STOP").await;
    t.wait_consent(&t.sam, sams, "Sam sees the SMS opt-out", |c| {
        c["sms_opted_out"] == true
    })
    .await;
    assert_eq!(t.consent(&t.jane, janes).await["sms_opted_out"], true);
    let queued = t.count("SELECT COUNT(*) FROM outbox").await;
    for (token, contact) in [(&t.jane, janes), (&t.sam, sams)] {
        assert_refused(
            &t.sms_as(token, contact, "Are you there?").await,
            409,
            "sms_opted_out",
        );
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, queued);

    t.contact_writes(KERRY, "sms", "START").await;
    t.wait_consent(&t.jane, janes, "Jane sees SMS allowed again", |c| {
        c["sms_opted_out"] == false
    })
    .await;
    assert_eq!(t.consent(&t.sam, sams).await["sms_opted_out"], false);
    assert_eq!(t.sms_as(&t.sam, sams, "Welcome back, Kerry").await.0, 202);
    assert_eq!(t.sms_as(&t.jane, janes, "Hello again").await.0, 202);
    // Sam's hello, the one confirmation of the STOP, then the two after START.
    let inbox = t.wait_inbox(KERRY, "sms", 4).await;
    assert!(
        inbox[1]["text"]
            .as_str()
            .is_some_and(|text| text.contains("unsubscribed")),
        "{inbox:?}"
    );
    assert_eq!(inbox[2]["text"], "Welcome back, Kerry");
    assert_eq!(inbox[3]["text"], "Hello again");
    t.service.stop().await;
}
