//! Languages: a contact's language (set, or from their number's country),
//! the opt-in request in it (Meta's template language code and the text),
//! the fallback to the organization's default language, keywords and
//! confirmations in it, and numbers shown in international format.

mod support;

use optin_core::admin::KeyScope;
use serde_json::{json, Value};
use support::extra::{assert_refused, eventually, KERRY};
use support::TestService;

/// A Spanish mobile number no demo contact has.
const LUCIA: &str = "+34612345670";

async fn admin_key(t: &TestService) -> String {
    let now = t.service.state.clock.now();
    t.service
        .state
        .store
        .create_api_key(1, "Provisioning", KeyScope::Admin, None, now)
        .await
        .unwrap()
        .0
}

async fn preview(t: &TestService, contact: i64) -> Value {
    let (status, preview) = t
        .api(
            "GET",
            &format!("/contacts/{contact}/opt-in/preview"),
            &t.jane,
            None,
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    preview
}

/// The opt-in request on the contact's phone, once it arrived.
async fn request_on_phone(t: &TestService, e164: &str) -> Value {
    eventually("the request reaches the phone", || async {
        t.phone_inbox(e164, "whatsapp")
            .await
            .into_iter()
            .find(|m| m["template"].is_object())
            .ok_or_else(|| "no template yet".to_owned())
    })
    .await
}

#[tokio::test]
async fn a_spanish_number_gets_the_spanish_request_and_si_opts_it_in() {
    let t = support::start().await;
    let (status, contact) = t
        .api(
            "POST",
            "/contacts",
            &t.jane,
            Some(json!({"name": "Lucía Gómez", "phone": "+34 612 34 56 70"})),
        )
        .await;
    assert_eq!(status, 201, "{contact}");
    assert_eq!(contact["phone"], LUCIA);
    assert_eq!(contact["display_phone"], "+34 612 34 56 70");
    assert_eq!(contact["language"], "es", "from the number's country");
    let id = contact["id"].as_i64().unwrap();

    // What the dialog shows is what is sent.
    let shown = preview(&t, id).await;
    assert_eq!(shown["language"], "es");
    assert_eq!(shown["template"], "advisor_opt_in");
    assert_eq!(shown["template_language"], "es");
    assert_eq!(shown["buttons"], json!(["Sí", "No"]));
    let text = shown["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("¡Hola! Jane Smith, de Acme Wealth, desea contactarle por WhatsApp"),
        "{text}"
    );

    let (status, body) = t.opt_in_as(&t.jane, id, "lucia-1").await;
    assert_eq!(status, 202, "{body}");
    let request = request_on_phone(&t, LUCIA).await;
    assert_eq!(request["template"]["name"], "advisor_opt_in");
    assert_eq!(
        request["template"]["language"], "es",
        "Meta's language code of the Spanish template"
    );
    assert_eq!(request["text"], text.as_str(), "exactly the previewed text");
    let labels: Vec<&str> = request["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Sí", "No"]);

    // The record keeps the language and the text the contact saw.
    let (_, record) = t
        .api(
            "GET",
            &format!("/contacts/{id}/consent/record?format=json"),
            &t.jane,
            None,
        )
        .await;
    let requested = record
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "requested")
        .unwrap_or_else(|| panic!("no request in {record}"));
    let detail: Value = serde_json::from_str(requested["detail_json"].as_str().unwrap()).unwrap();
    assert_eq!(detail["language"], "es");
    assert_eq!(detail["contact_language"], "es");
    assert_eq!(detail["rendered_text"], text.as_str());

    // "sí", typed, opts in; the confirmation is in Spanish.
    t.wait_for_state(&t.jane, id, "pending").await;
    t.contact_writes(LUCIA, "whatsapp", "Sí").await;
    t.wait_for_state(&t.jane, id, "opted_in").await;
    let confirmation = eventually("the confirmation", || async {
        t.phone_inbox(LUCIA, "whatsapp")
            .await
            .into_iter()
            .find(|m| m["template"].is_null())
            .ok_or_else(|| "none yet".to_owned())
    })
    .await;
    assert_eq!(
        confirmation["text"],
        "Gracias. Ha aceptado recibir mensajes de WhatsApp de Acme Wealth (Jane Smith). \
         Responda BAJA en cualquier momento para darse de baja."
    );

    // "para" opts out again; the notice is in Spanish too.
    t.contact_writes(LUCIA, "whatsapp", "PARA").await;
    t.wait_for_state(&t.jane, id, "opted_out").await;
    t.wait_inbox(LUCIA, "whatsapp", 3).await;
    let inbox = t.phone_inbox(LUCIA, "whatsapp").await;
    assert!(
        inbox[2]["text"]
            .as_str()
            .unwrap()
            .starts_with("Se ha dado de baja de los mensajes de WhatsApp de Acme Wealth."),
        "{}",
        inbox[2]
    );
}

#[tokio::test]
async fn each_language_has_its_template_and_a_language_without_one_falls_back_to_the_default() {
    let t = support::start().await;
    let pool = t.service.state.store.pool();
    let key = admin_key(&t).await;
    let tom = t.contact_id(&t.jane, "Tom Becker").await; // +49
    let sofia = t.contact_id(&t.jane, "Sofia Rossi").await; // +39
    let mateo = t.contact_id(&t.jane, "Mateo Silva").await; // +55
    let emma = t.contact_id(&t.jane, "Emma Dubois").await; // +33
    let kerry = t.contact_id(&t.jane, "Kerry Fisher").await; // +44
    for (contact, language, code, opening) in [
        (tom, "de", "de", "Hallo! Jane Smith von Acme Wealth"),
        (sofia, "it", "it", "Salve! Jane Smith di Acme Wealth"),
        (mateo, "pt", "pt_BR", "Olá! Jane Smith, de Acme Wealth"),
        (emma, "fr", "fr", "Bonjour ! Jane Smith, de Acme Wealth"),
        (kerry, "en", "en_US", "Hello! Jane Smith from Acme Wealth"),
    ] {
        let shown = preview(&t, contact).await;
        assert_eq!(shown["language"], language, "{shown}");
        assert_eq!(shown["template_language"], code, "{shown}");
        assert!(
            shown["text"].as_str().unwrap().starts_with(opening),
            "{shown}"
        );
    }

    // Without a German template, German contacts get the default's.
    sqlx::query("DELETE FROM templates WHERE language = 'de'")
        .execute(pool)
        .await
        .unwrap();
    let shown = preview(&t, tom).await;
    assert_eq!(
        (&shown["language"], &shown["template_language"]),
        (&json!("en"), &json!("en_US"))
    );
    let (status, organization) = t
        .api(
            "PATCH",
            "/admin/organization",
            &key,
            Some(json!({"default_language": "fr"})),
        )
        .await;
    assert_eq!(status, 200, "{organization}");
    assert_eq!(organization["default_language"], "fr");
    let shown = preview(&t, tom).await;
    assert_eq!(
        (&shown["language"], &shown["template_language"]),
        (&json!("fr"), &json!("fr"))
    );
    assert_eq!(shown["buttons"], json!(["Oui", "Non"]));
    // ... and the request goes out with that template.
    let (status, body) = t.opt_in_as(&t.jane, tom, "tom-1").await;
    assert_eq!(status, 202, "{body}");
    let request = request_on_phone(&t, "+4915112345678").await;
    assert_eq!(request["template"]["language"], "fr");
    assert_eq!(request["text"], shown["text"]);

    // An admin adds a German template: German contacts get it.
    let (status, template) = t
        .api(
            "POST",
            "/admin/templates",
            &key,
            Some(json!({"name": "advisor_opt_in", "language": "de", "purpose": "opt_in",
                        "body": "Guten Tag! {{1}} von {{2}} möchte Ihnen schreiben. Einverstanden?"})),
        )
        .await;
    assert_eq!(status, 201, "{template}");
    assert_eq!(template["language"], "de");
    assert_eq!(template["parameters"], 2);
    let shown = preview(&t, tom).await;
    assert_eq!(
        shown["text"],
        "Guten Tag! Jane Smith von Acme Wealth möchte Ihnen schreiben. Einverstanden?"
    );
    let bad = t
        .api(
            "POST",
            "/admin/templates",
            &key,
            Some(json!({"name": "advisor_opt_in", "language": "Deutsch", "purpose": "opt_in", "body": "x"})),
        )
        .await;
    assert_refused(&bad, 422, "invalid_language");
    let bad = t
        .api(
            "POST",
            "/admin/templates",
            &key,
            Some(json!({"name": "advisor_opt_in", "language": "de", "purpose": "greeting", "body": "x"})),
        )
        .await;
    assert_refused(&bad, 422, "invalid_purpose");

    // With no opt-in template at all, the preview says so as the request would.
    sqlx::query("DELETE FROM templates WHERE purpose = 'opt_in'")
        .execute(pool)
        .await
        .unwrap();
    let none = t
        .api(
            "GET",
            &format!("/contacts/{kerry}/opt-in/preview"),
            &t.jane,
            None,
        )
        .await;
    assert_refused(&none, 409, "no_opt_in_template");
}

#[tokio::test]
async fn the_advisor_sets_a_contacts_language_on_creation_and_later() {
    let t = support::start().await;
    // A UK number written to in Portuguese from the start.
    let (status, contact) = t
        .api(
            "POST",
            "/contacts",
            &t.jane,
            Some(json!({"name": "Rui Costa", "phone": "+44 7700 100123", "language": "pt"})),
        )
        .await;
    assert_eq!(status, 201, "{contact}");
    assert_eq!(contact["language"], "pt");
    assert_eq!(contact["display_phone"], "+44 7700 100123");
    let rui = contact["id"].as_i64().unwrap();
    assert_eq!(preview(&t, rui).await["template_language"], "pt_BR");

    // Luis (+34) follows his number until Jane changes it.
    let luis = t.contact_id(&t.jane, "Luis").await;
    let (_, shown) = t
        .api("GET", &format!("/contacts/{luis}"), &t.jane, None)
        .await;
    assert_eq!(shown["language"], "es");
    let (status, changed) = t
        .api(
            "PATCH",
            &format!("/contacts/{luis}"),
            &t.jane,
            Some(json!({"language": "en"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["language"], "en");
    assert_eq!(changed["display_phone"], "+34 612 34 56 78");
    assert_eq!(preview(&t, luis).await["template_language"], "en_US");
    let (_, page) = t.api("GET", "/contacts?q=Luis", &t.jane, None).await;
    assert_eq!(page["items"][0]["language"], "en", "the list agrees");
    assert_eq!(page["items"][0]["display_phone"], "+34 612 34 56 78");

    // Refusals.
    let unknown = t
        .api(
            "PATCH",
            &format!("/contacts/{luis}"),
            &t.jane,
            Some(json!({"language": "nl"})),
        )
        .await;
    assert_refused(&unknown, 400, "malformed_body");
    let not_hers = t
        .api(
            "PATCH",
            &format!("/contacts/{luis}"),
            &t.sam,
            Some(json!({"language": "fr"})),
        )
        .await;
    assert_refused(&not_hers, 404, "not_found");
    let (_, shown) = t
        .api("GET", &format!("/contacts/{luis}"), &t.jane, None)
        .await;
    assert_eq!(shown["language"], "en", "a refused change changes nothing");
}

#[tokio::test]
async fn the_confirmation_follows_the_language_set_on_the_contact() {
    let t = support::start().await;
    let kerry = t.contact_id(&t.jane, "Kerry Fisher").await;
    let (status, _) = t
        .api(
            "PATCH",
            &format!("/contacts/{kerry}"),
            &t.jane,
            Some(json!({"language": "de"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = t.opt_in_as(&t.jane, kerry, "kerry-de").await;
    assert_eq!(status, 202, "{body}");
    let request = request_on_phone(&t, KERRY).await;
    assert_eq!(request["template"]["language"], "de");
    t.wait_for_state(&t.jane, kerry, "pending").await;
    // The German button, tapped.
    t.contact_taps(KERRY, "Ja").await;
    t.wait_for_state(&t.jane, kerry, "opted_in").await;
    let inbox = t.wait_inbox(KERRY, "whatsapp", 2).await;
    assert!(
        inbox[1]["text"]
            .as_str()
            .unwrap()
            .starts_with("Vielen Dank. Sie haben zugestimmt, WhatsApp-Nachrichten von Acme Wealth"),
        "{}",
        inbox[1]
    );
}

#[tokio::test]
async fn sms_keywords_are_twilios_and_stop_words_of_every_language() {
    let t = support::start().await;
    let kerry = t.contact_id(&t.jane, "Kerry Fisher").await;
    let sms_opted_out = || async { t.consent(&t.jane, kerry).await["sms_opted_out"].clone() };

    // Another language's stop word stops SMS ...
    t.contact_writes(KERRY, "sms", "Para").await;
    eventually("PARA stops SMS", || async {
        match sms_opted_out().await {
            Value::Bool(true) => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
    // ... but only Twilio's own words start it again (Twilio keeps blocking otherwise).
    t.contact_writes(KERRY, "sms", "sí").await;
    eventually("the reply is stored", || async {
        let n = t
            .count("SELECT COUNT(*) FROM messages WHERE channel = 'sms' AND body = 'sí'")
            .await;
        if n == 1 {
            Ok(())
        } else {
            Err(n.to_string())
        }
    })
    .await;
    assert_eq!(
        sms_opted_out().await,
        json!(true),
        "sí is not an SMS opt-in"
    );
    t.contact_writes(KERRY, "sms", "UNSTOP").await;
    eventually("UNSTOP starts SMS", || async {
        match sms_opted_out().await {
            Value::Bool(false) => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
}
