//! The opt-in request: sent (or resent) by the advisor in the contact's
//! language, refused by core's rules when it may not go out, previewed
//! exactly as it will be sent, and read back as a snapshot.

use optin_core::api::{render_template, ConsentSnapshot, OptInPreview};
use optin_core::consent::ConsentEvent;
use optin_core::language::Language;
use optin_core::templates::TemplateBlock;
use optin_core::vocab::{Channel, Direction, EvidenceKind, MessageStatus, Purpose};
use optin_core::whatsapp::SendMessage;
use serde_json::json;

use super::{snapshot, templates, transition, ConsentStep, OutboundPayload, Work};
use crate::error::{AppError, AppResult};
use crate::store::auth::AdvisorIdentity;
use crate::store::consent::{ConsentRecord, NewOptInRequest};
use crate::store::messages::NewMessage;
use crate::store::organizations::TemplateRow;
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
    let mut record = work.store.consent(org, phone).await?;
    let Rendered {
        template,
        language,
        parameters,
        text: rendered,
        instead_of,
    } = choose(&mut work, advisor, contact.language()?, phone, &record).await?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let (event, kind) = request.kind.event();
    let (yes, no) = language.yes_no();
    // What the contact was shown, as Meta approved it: enough to prove the
    // wording of the request without the template table (which changes).
    let detail = json!({
        "request_id": request_id, "contact_name": contact.name, "channel": Channel::Whatsapp,
        "template": template.name, "language": template.language, "category": template.category,
        "rendered_text": rendered,
        "contact_language": language, "buttons": [yes, no],
        "instead_of": instead_of.map(|(name, why)| json!({"template": name, "reason": why.reason()})),
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

/// The opt-in request as it goes out to a contact now.
struct Rendered {
    template: TemplateRow,
    /// The language it is written in.
    language: Language,
    /// The template's parameters: the advisor's and the organization's names.
    parameters: Vec<String>,
    /// The text the contact reads.
    text: String,
    /// The template it replaces (Meta would not send that one now), and why.
    instead_of: Option<(String, TemplateBlock)>,
}

/// The request a contact gets now: the organization's opt-in template in
/// their language, else in its default language (core picks), replaced by
/// the alternate when Meta would not send it, rendered.
async fn choose(
    work: &mut Work,
    advisor: &AdvisorIdentity,
    contact_language: Language,
    phone: &str,
    record: &ConsentRecord,
) -> AppResult<Rendered> {
    let org = advisor.organization_id;
    let available = work.store.opt_in_templates(org).await?;
    let primary = contact_language
        .pick(&available.templates, available.default_language, |t| {
            &t.language
        })
        .cloned()
        .ok_or_else(|| AppError::Refused {
            code: "no_opt_in_template",
            message: "Your organization has no opt-in template yet: ask its admin to add one."
                .into(),
            allowed_at: None,
        })?;
    let chosen =
        templates::opt_in_template(work, org, primary, templates::recipient(phone, record)).await?;
    let template = chosen.template;
    let parameters = vec![
        advisor.advisor_name.clone(),
        advisor.organization_name.clone(),
    ];
    // A template in a language the service does not write in is read as
    // the default's (it was picked as the fallback or the only one).
    let language = Language::of_template(&template.language).unwrap_or(available.default_language);
    Ok(Rendered {
        text: render_template(&template.body, &parameters),
        template,
        language,
        parameters,
        instead_of: chosen.instead_of,
    })
}

/// The request one of the advisor's contacts would receive if the advisor
/// confirmed now, exactly as it would be sent: chosen by the same code in a
/// unit of work that is never committed.
pub async fn preview_opt_in(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
) -> AppResult<OptInPreview> {
    let mut work = Work::begin(state).await?;
    let contact = work.contact_of(advisor, contact_id).await?;
    let phone = contact.phone_e164.as_str();
    let record = work.store.consent(advisor.organization_id, phone).await?;
    let rendered = choose(&mut work, advisor, contact.language()?, phone, &record).await?;
    let (yes, no) = rendered.language.yes_no();
    Ok(OptInPreview {
        language: rendered.language,
        template: rendered.template.name,
        template_language: rendered.template.language,
        text: rendered.text,
        buttons: vec![yes.to_owned(), no.to_owned()],
    })
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
    let mut snapshot = snapshot(&contact.phone, &record, now);
    super::revocation::annotate(state, advisor.organization_id, &mut snapshot).await?;
    Ok(snapshot)
}
