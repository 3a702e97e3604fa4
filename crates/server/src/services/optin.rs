//! The opt-in request: sent (or resent) by the advisor, refused by core's
//! rules when it may not go out, and read back as a snapshot.

use optin_core::api::{render_template, ConsentSnapshot};
use optin_core::consent::ConsentEvent;
use optin_core::vocab::{Channel, Direction, EvidenceKind, MessageStatus, Purpose};
use optin_core::whatsapp::SendMessage;
use serde_json::json;

use super::{snapshot, templates, transition, ConsentStep, OutboundPayload, Work};
use crate::error::{AppError, AppResult};
use crate::store::auth::AdvisorIdentity;
use crate::store::consent::NewOptInRequest;
use crate::store::messages::NewMessage;
use crate::store::organizations::TemplateKind;
use crate::AppState;

/// Which request the advisor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// The first request (or a new one after a failure).
    First,
    /// Again, after 24 hours without an answer.
    Resend,
}

impl RequestKind {
    fn event(self) -> (ConsentEvent, EvidenceKind) {
        match self {
            RequestKind::First => (ConsentEvent::Requested, EvidenceKind::Requested),
            RequestKind::Resend => (ConsentEvent::Resent, EvidenceKind::Resent),
        }
    }
}

/// What the advisor asked for.
pub struct OptInRequest<'a> {
    pub contact_id: i64,
    pub kind: RequestKind,
    /// With a key, a repeat of the same request changes nothing and answers
    /// the current state.
    pub idempotency_key: Option<&'a str>,
}

/// Sends (or resends) the opt-in request.
pub async fn request_opt_in(
    state: &AppState,
    advisor: &AdvisorIdentity,
    request: OptInRequest<'_>,
) -> AppResult<ConsentSnapshot> {
    let mut work = Work::begin(state).await?;
    let contact = work.contact_of(advisor, request.contact_id).await?;
    let org = advisor.organization_id;
    let phone = contact.phone_e164.as_str();
    work.require_whatsapp(org).await?;
    if let Some(key) = request.idempotency_key {
        if work
            .store
            .opt_in_request_seen(advisor.advisor_id, key)
            .await?
        {
            let record = work.store.consent(org, phone).await?;
            return Ok(snapshot(phone, &record, work.now));
        }
    }
    let primary = work
        .store
        .template(org, TemplateKind::OptIn)
        .await?
        .ok_or_else(|| AppError::Refused {
            code: "no_opt_in_template",
            message: "Your organization has no opt-in template yet: ask its admin to add one."
                .into(),
            allowed_at: None,
        })?;
    let mut record = work.store.consent(org, phone).await?;
    let chosen = templates::opt_in_template(
        &mut work,
        org,
        primary,
        templates::recipient(phone, &record),
    )
    .await?;
    let template = chosen.template;
    let request_id = uuid::Uuid::new_v4().to_string();
    let parameters = vec![
        advisor.advisor_name.clone(),
        advisor.organization_name.clone(),
    ];
    let rendered = render_template(&template.body, &parameters);
    let (event, kind) = request.kind.event();
    let detail = json!({
        "request_id": request_id, "contact_name": contact.name, "channel": Channel::Whatsapp,
        "template": template.name, "language": template.language, "rendered_text": rendered,
        "buttons": ["Yes", "No"],
        "instead_of": chosen.instead_of.map(|(name, why)| json!({"template": name, "reason": why.reason()})),
    });
    transition(
        &mut work,
        ConsentStep {
            organization_id: org,
            phone,
            record: &mut record,
            event,
            kind,
            advisor_id: Some(advisor.advisor_id),
            detail,
            source: None,
        },
    )
    .await?;
    work.store
        .insert_opt_in_request(
            NewOptInRequest {
                id: &request_id,
                organization_id: org,
                phone,
                advisor_id: advisor.advisor_id,
                resend: request.kind == RequestKind::Resend,
                idempotency_key: request.idempotency_key,
            },
            work.now,
        )
        .await?;
    let message = SendMessage::opt_in_request(
        phone,
        &template.name,
        &template.language,
        parameters,
        &request_id,
    );
    work.send(
        NewMessage {
            organization_id: org,
            phone,
            channel: Channel::Whatsapp,
            direction: Direction::Out,
            purpose: Purpose::OptIn,
            advisor_id: Some(advisor.advisor_id),
            opt_in_request_id: Some(&request_id),
            template: Some((&template.name, &template.language)),
            body: &rendered,
            provider_message_id: None,
            status: MessageStatus::Queued,
        },
        OutboundPayload::Whatsapp { message },
    )
    .await?;
    let snap = snapshot(phone, &record, work.now);
    work.commit(state).await?;
    Ok(snap)
}

/// A number's consent for one of the advisor's contacts, at the service clock's now.
pub async fn contact_consent(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
) -> AppResult<ConsentSnapshot> {
    let now = state.clock.now();
    let contact = state
        .store
        .contact(advisor.advisor_id, contact_id, now)
        .await?
        .ok_or(AppError::NotFound("That contact"))?;
    let record = state
        .store
        .consent(advisor.organization_id, &contact.phone)
        .await?;
    Ok(snapshot(&contact.phone, &record, now))
}
