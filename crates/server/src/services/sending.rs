//! Messages the advisor writes: WhatsApp (only to numbers that opted in, free
//! text only inside the service window) and SMS (refused after STOP).

use optin_core::api::{
    render_template, template_parameters, valid_text, OutgoingMessage, OutgoingSms, MAX_SMS_CHARS,
    MAX_TEXT_CHARS,
};
use optin_core::vocab::{Cause, Channel, Direction, EvidenceKind, MessageStatus, Purpose};
use optin_core::whatsapp::{Component, Parameter, SendMessage};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{snapshot, Work};
use crate::error::{AppError, AppResult};
use crate::store::auth::AdvisorIdentity;
use crate::store::evidence::NewEvidence;
use crate::store::messages::NewMessage;
use crate::store::organizations::TemplateKind;
use crate::AppState;

/// What the outbox sends, as stored with the job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum OutboundPayload {
    Whatsapp { message: SendMessage },
    Sms { to: String, body: String },
}

fn invalid_text(max: usize) -> AppError {
    AppError::Invalid {
        code: "invalid_text",
        field: "body",
        message: format!("Write a message of 1 to {max} characters."),
    }
}

/// Sends a WhatsApp message; refused unless the number opted in, and free
/// text only inside the 24-hour service window.
pub async fn send_whatsapp(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
    outgoing: OutgoingMessage,
) -> AppResult<i64> {
    let (mut work, contact, record) = Work::begin_for_contact(state, advisor, contact_id).await?;
    let org = advisor.organization_id;
    let phone = contact.phone_e164.as_str();
    work.require_whatsapp(org).await?;
    if !record.status.may_message() {
        return Err(AppError::Refused {
            code: "not_opted_in",
            message: format!(
                "{} has not opted in to WhatsApp messages, so nothing can be sent.",
                contact.name
            ),
            allowed_at: None,
        });
    }
    let (payload, body, template) = match &outgoing {
        OutgoingMessage::Text { body } => {
            let body =
                valid_text(body, MAX_TEXT_CHARS).ok_or_else(|| invalid_text(MAX_TEXT_CHARS))?;
            if !snapshot(phone, &record, work.now).free_text_open(work.now) {
                return Err(AppError::Refused {
                    code: "outside_service_window",
                    message: "The contact has not written in the last 24 hours, so only an approved template can be sent.".into(),
                    allowed_at: None,
                });
            }
            (SendMessage::text(phone, body), body.to_owned(), None)
        }
        OutgoingMessage::Template {
            name,
            language,
            parameters,
        } => {
            let template = work
                .store
                .template(org, TemplateKind::Message { name, language })
                .await?
                .ok_or_else(|| AppError::Invalid {
                    code: "unknown_template",
                    field: "name",
                    message: format!("There is no approved template “{name}” in {language}."),
                })?;
            let recipient = super::templates::recipient(phone, &record);
            super::templates::check_message_template(&mut work, org, &template, recipient).await?;
            let needed = template_parameters(&template.body);
            if parameters.len() != needed || parameters.iter().any(|p| p.trim().is_empty()) {
                return Err(AppError::Invalid {
                    code: "template_parameters",
                    field: "parameters",
                    message: format!("This template needs {needed} filled-in value(s)."),
                });
            }
            let components = vec![Component::Body {
                parameters: parameters
                    .iter()
                    .map(|text| Parameter::Text { text: text.clone() })
                    .collect(),
            }];
            (
                SendMessage::template(phone, name, language, components),
                render_template(&template.body, parameters),
                Some((name.as_str(), language.as_str())),
            )
        }
    };
    let id = work
        .send(
            NewMessage {
                organization_id: org,
                phone,
                channel: Channel::Whatsapp,
                direction: Direction::Out,
                purpose: Purpose::Message,
                advisor_id: Some(advisor.advisor_id),
                opt_in_request_id: None,
                template,
                body: &body,
                provider_message_id: None,
                status: MessageStatus::Queued,
            },
            OutboundPayload::Whatsapp { message: payload },
        )
        .await?;
    let detail = json!({"message_id": id, "channel": Channel::Whatsapp, "template": template.map(|t| t.0), "language": template.map(|t| t.1), "rendered_text": body});
    let evidence = NewEvidence::new(
        org,
        phone,
        Some(advisor.advisor_id),
        EvidenceKind::MessageOut,
        Cause::Advisor,
        detail,
        work.now,
    );
    work.record(evidence).await?;
    work.commit(state).await?;
    Ok(id)
}

/// Sends an SMS; refused after the contact sent STOP.
pub async fn send_sms(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
    sms: OutgoingSms,
) -> AppResult<i64> {
    let (mut work, contact, record) = Work::begin_for_contact(state, advisor, contact_id).await?;
    let org = advisor.organization_id;
    let phone = contact.phone_e164.as_str();
    if record.sms_opted_out {
        return Err(AppError::Refused {
            code: "sms_opted_out",
            message: format!(
                "{} opted out of SMS (replied STOP, or revoked consent), so no SMS can be sent until they reply START.",
                contact.name
            ),
            allowed_at: None,
        });
    }
    let body = valid_text(&sms.body, MAX_SMS_CHARS).ok_or_else(|| invalid_text(MAX_SMS_CHARS))?;
    let id = work
        .send(
            NewMessage {
                organization_id: org,
                phone,
                channel: Channel::Sms,
                direction: Direction::Out,
                purpose: Purpose::Message,
                advisor_id: Some(advisor.advisor_id),
                opt_in_request_id: None,
                template: None,
                body,
                provider_message_id: None,
                status: MessageStatus::Queued,
            },
            OutboundPayload::Sms {
                to: phone.to_owned(),
                body: body.to_owned(),
            },
        )
        .await?;
    let detail = json!({"message_id": id, "channel": Channel::Sms, "rendered_text": body});
    let evidence = NewEvidence::new(
        org,
        phone,
        Some(advisor.advisor_id),
        EvidenceKind::SmsOut,
        Cause::Advisor,
        detail,
        work.now,
    );
    work.record(evidence).await?;
    work.commit(state).await?;
    Ok(id)
}
