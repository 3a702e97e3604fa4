//! The Graph API stand-in: `POST /graph/{version}/{phone_number_id}/messages`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use optin_core::language::Language;
use optin_core::sandbox::{
    sandbox_user_id, sandbox_user_id_number, Channel, Direction, PhoneButton, TemplateView,
};
use optin_core::whatsapp::{
    wa_id_from_e164, Addressee, GraphErrorBody, MessageContent, OptInPayload, SendContact,
    SendMessage, SendResponse, SentMessage, Template, MESSAGING_PRODUCT,
};

use super::emit::{self, Fate};
use super::store::{self, Inserted, NewMessage};
use super::IDEMPOTENCY_KEY_HEADER;
use super::{e164, new_wamid, random_id, SandboxState};

/// Longest text body the Cloud API accepts.
const MAX_TEXT_CHARS: usize = 4096;

/// A Graph API error answer.
fn graph_error(
    status: StatusCode,
    code: i64,
    kind: &str,
    message: impl Into<String>,
    subcode: Option<i64>,
) -> Response {
    let mut body = GraphErrorBody::new(code, kind, message);
    body.error.error_subcode = subcode;
    body.error.fbtrace_id = Some(random_id(15));
    (status, Json(body)).into_response()
}

fn invalid(details: impl Into<String>) -> Response {
    let mut body = GraphErrorBody::new(100, "OAuthException", "(#100) Invalid parameter");
    body.error.error_data = Some(optin_core::whatsapp::ErrorData {
        details: details.into(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn internal() -> Response {
    graph_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        131000,
        "OAuthException",
        "Something went wrong",
        None,
    )
}

pub(super) async fn send(
    State(state): State<SandboxState>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(state.access_token.as_str()) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            190,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
            None,
        );
    }
    if phone_number_id != state.settings.phone_number_id {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "GraphMethodException",
            format!(
                "Unsupported post request. Object with ID '{phone_number_id}' does not exist, \
                 cannot be loaded due to missing permissions, or does not support this operation."
            ),
            Some(33),
        );
    }
    let message: SendMessage = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => return invalid(format!("The request body is not a supported message: {e}")),
    };
    let phone = match validate(&message) {
        Ok(phone) => phone,
        Err(details) => return invalid(details),
    };
    let wa_id = wa_id_from_e164(&phone);
    // A user addressed by BSUID is answered by BSUID: their number stays private.
    let by_user_id = matches!(message.address(), Some(Addressee::User(_)));
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());
    match accept(&state, &message, &phone, key).await {
        Ok((id, fate)) => {
            if let Some(fate) = fate {
                state.emitting.spawn(emit::whatsapp_fate(
                    state.clone(),
                    id.clone(),
                    wa_id.clone(),
                    fate,
                ));
            }
            let answer = SendResponse {
                messaging_product: MESSAGING_PRODUCT.to_owned(),
                contacts: vec![SendContact {
                    input: match message.address() {
                        Some(Addressee::Number(to) | Addressee::User(to)) => to,
                        None => String::new(),
                    },
                    wa_id: (!by_user_id).then_some(wa_id),
                    user_id: Some(sandbox_user_id(&phone)),
                }],
                messages: vec![SentMessage {
                    id,
                    message_status: message.as_template().map(|_| "accepted".to_owned()),
                }],
            };
            Json(answer).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "sandbox could not store a WhatsApp send");
            internal()
        }
    }
}

/// The checks the Cloud API makes before accepting a send; the recipient's
/// number when they pass. Like Meta, a send names the user by `to` (their
/// number, which wins when both are given) or by `recipient` (their BSUID).
fn validate(message: &SendMessage) -> Result<String, String> {
    if message.messaging_product != MESSAGING_PRODUCT {
        return Err(format!(
            "messaging_product must be \"{MESSAGING_PRODUCT}\", not \"{}\"",
            message.messaging_product
        ));
    }
    let phone = match message.address() {
        None => return Err("\"to\" or \"recipient\" is required".to_owned()),
        Some(Addressee::Number(to)) => e164(&to).ok_or_else(|| {
            format!("\"to\" must be a phone number of 7 to 15 digits, not \"{to}\"")
        })?,
        Some(Addressee::User(user_id)) => sandbox_user_id_number(&user_id)
            .and_then(|n| e164(&n))
            .ok_or_else(|| {
            format!("\"recipient\" must be a business-scoped user id, not \"{user_id}\"")
        })?,
    };
    match &message.content {
        MessageContent::Template { template } => {
            if template.name.trim().is_empty() {
                return Err("template.name is required".to_owned());
            }
            if template.language.code.trim().is_empty() {
                return Err("template.language.code is required".to_owned());
            }
        }
        MessageContent::Text { text } => {
            if text.body.trim().is_empty() {
                return Err("text.body is required".to_owned());
            }
            if text.body.chars().count() > MAX_TEXT_CHARS {
                return Err(format!(
                    "text.body is longer than {MAX_TEXT_CHARS} characters"
                ));
            }
        }
    }
    Ok(phone)
}

/// Stores the send; its id and what will happen to it (`None` for a repeat
/// of an earlier send, which emits nothing again).
async fn accept(
    state: &SandboxState,
    message: &SendMessage,
    phone: &str,
    key: Option<&str>,
) -> Result<(String, Option<Fate>), sqlx::Error> {
    let now = state.clock.now();
    let recipient = store::phone(&state.db, phone, now).await?;
    let fate = if !recipient.on_whatsapp {
        Fate::Failed(emit::UNDELIVERABLE)
    } else if message.as_text().is_some() {
        let last = store::last_written_at(&state.db, phone, Channel::Whatsapp).await?;
        if optin_core::window::service_window(last, now).allows_free_text() {
            Fate::Delivered
        } else {
            Fate::Failed(emit::REENGAGEMENT)
        }
    } else {
        Fate::Delivered
    };
    let (text, template, buttons) = match &message.content {
        MessageContent::Text { text } => (text.body.clone(), None, Vec::new()),
        MessageContent::Template { template } => {
            let body = state
                .template_body(&template.name, &template.language.code)
                .await;
            let (view, buttons) = template_view(template);
            (render(body.as_deref(), &view), Some(view), buttons)
        }
    };
    let id = new_wamid();
    let raw = serde_json::to_string(message).expect("plain data serializes");
    let inserted = store::insert(
        &state.db,
        NewMessage {
            id: &id,
            phone,
            channel: Channel::Whatsapp,
            direction: Direction::In,
            text: &text,
            template: template.as_ref(),
            buttons: &buttons,
            context_id: None,
            raw: &raw,
            status: "accepted",
            idempotency_key: key,
            at: now,
        },
    )
    .await?;
    Ok(match inserted {
        Inserted::Created => (id, Some(fate)),
        Inserted::Existing(earlier) => (earlier.id, None),
    })
}

/// Name, language and body parameters of a template, and its quick replies
/// labelled as the contact sees them.
fn template_view(template: &Template) -> (TemplateView, Vec<PhoneButton>) {
    let language = Language::of_template(&template.language.code).unwrap_or_default();
    let view = TemplateView {
        name: template.name.clone(),
        language: template.language.code.clone(),
        parameters: template
            .body_texts()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };
    let buttons = template
        .quick_replies()
        .into_iter()
        .map(|reply| PhoneButton {
            // The approved template's buttons are in its language.
            text: OptInPayload::parse(&reply.payload)
                .map(|p| p.answer.button_text_in(language).to_owned())
                .unwrap_or_else(|| reply.payload.clone()),
            payload: reply.payload,
        })
        .collect();
    (view, buttons)
}

/// The text the contact sees: the template body with `{{n}}` replaced by the
/// n-th parameter, or, without a known body, the name and the parameters.
fn render(body: Option<&str>, template: &TemplateView) -> String {
    match body {
        Some(body) => template
            .parameters
            .iter()
            .enumerate()
            .fold(body.to_owned(), |text, (i, value)| {
                text.replace(&format!("{{{{{}}}}}", i + 1), value)
            }),
        None if template.parameters.is_empty() => format!("[{}]", template.name),
        None => format!("[{}] {}", template.name, template.parameters.join(" | ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(parameters: &[&str]) -> TemplateView {
        TemplateView {
            name: "advisor_opt_in".into(),
            language: "en_US".into(),
            parameters: parameters.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn templates_render_with_their_parameters() {
        let body = "Hello! {{1}} from {{2}} asks. Agree to {{2}}? {{3}}";
        assert_eq!(
            render(Some(body), &view(&["Jane", "Acme", "x"])),
            "Hello! Jane from Acme asks. Agree to Acme? x"
        );
        // {{1}} must not eat the start of {{10}}.
        let many: Vec<String> = (1..=10).map(|n| format!("p{n}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(render(Some("{{1}}-{{10}}"), &view(&refs)), "p1-p10");
    }

    #[test]
    fn unknown_templates_show_name_and_parameters() {
        assert_eq!(
            render(None, &view(&["Jane", "Acme"])),
            "[advisor_opt_in] Jane | Acme"
        );
        assert_eq!(render(None, &view(&[])), "[advisor_opt_in]");
    }

    #[test]
    fn opt_in_buttons_are_labelled_in_the_templates_language() {
        let message = SendMessage::opt_in_request("+34612345678", "t", "es", vec![], "r1");
        let (_, buttons) = template_view(message.as_template().unwrap());
        let labels: Vec<_> = buttons.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(labels, ["Sí", "No"]);
        let message = SendMessage::opt_in_request("+5511912345678", "t", "pt_BR", vec![], "r2");
        let (_, buttons) = template_view(message.as_template().unwrap());
        let labels: Vec<_> = buttons.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(labels, ["Sim", "Não"]);
    }

    #[test]
    fn opt_in_buttons_are_labelled_yes_and_no() {
        let message = SendMessage::opt_in_request("+15551234567", "t", "en", vec![], "r1");
        let (_, buttons) = template_view(message.as_template().unwrap());
        assert_eq!(
            buttons,
            [
                PhoneButton {
                    text: "Yes".into(),
                    payload: "OPTIN_YES:r1".into()
                },
                PhoneButton {
                    text: "No".into(),
                    payload: "OPTIN_NO:r1".into()
                }
            ]
        );
    }

    #[test]
    fn sends_are_validated_like_the_cloud_api() {
        assert!(validate(&SendMessage::text("+15551234567", "hi")).is_ok());
        assert!(validate(&SendMessage::text("+15551234567", "  ")).is_err());
        assert!(validate(&SendMessage::text("+1555", "hi")).is_err());
        assert!(validate(&SendMessage::text("+1555abc4567", "hi")).is_err());
        assert!(validate(&SendMessage::text("+15551234567", "x".repeat(4097))).is_err());
        let mut wrong = SendMessage::text("+15551234567", "hi");
        wrong.messaging_product = "sms".into();
        assert!(validate(&wrong).is_err());
        assert!(validate(&SendMessage::template("+15551234567", "", "en", vec![])).is_err());
        // Addressed by BSUID, as Meta allows for users whose number is not known.
        let by_user = SendMessage::text("+15551234567", "hi")
            .addressed_to(&Addressee::User(sandbox_user_id("+15551234567")));
        assert_eq!(validate(&by_user).as_deref(), Ok("+15551234567"));
        let stranger = by_user
            .clone()
            .addressed_to(&Addressee::User("US.13491208655302741918".into()));
        assert!(validate(&stranger).is_err());
        let mut neither = by_user;
        neither.recipient = None;
        assert!(validate(&neither).is_err());
    }
}
