//! The opt-in flow: every rule is enforced here, whatever the client does.
//! Each operation runs in one write transaction that changes consent, stores
//! the message and its outbox job, and appends the evidence; live events go
//! out and the outbox worker wakes only after the commit.

use chrono::{DateTime, Utc};
use optin_core::api::{
    render_template, template_parameters, ConsentSnapshot, Contact, OutgoingMessage, OutgoingSms,
    MAX_TEXT_CHARS,
};
use optin_core::consent::{apply, ConsentEvent, ConsentState, IllegalTransition, Transition};
use optin_core::keywords::{classify, Keyword};
use optin_core::whatsapp::{
    e164_from_wa_id, DeliveryStatus, InboundMessage, OptInAnswer, OptInPayload, SendMessage,
    StatusUpdate,
};
use optin_core::window::service_window;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::live::Published;
use crate::store::auth::AdvisorIdentity;
use crate::store::consent::{self as rows, ConsentRecord, NewMessage, Tx};
use crate::store::evidence::{self, timestamp, NewEvidence};
use crate::AppState;

/// What the outbox sends, as stored in `outbox.payload_json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum OutboundPayload {
    Whatsapp { message: SendMessage },
    Sms { to: String, body: String },
}

/// One write transaction plus what to announce after it commits.
pub struct Work {
    pub tx: Tx<'static>,
    pub now: DateTime<Utc>,
    published: Vec<Published>,
    wake_outbox: bool,
}

impl Work {
    /// Starts a write transaction at the service's current time.
    pub async fn begin(state: &AppState) -> AppResult<Self> {
        Ok(Self {
            tx: state.store.begin_write().await?,
            now: state.clock.now(),
            published: Vec::new(),
            wake_outbox: false,
        })
    }

    /// Appends to the consent record and schedules the live event.
    pub async fn record(&mut self, event: NewEvidence) -> AppResult<i64> {
        let (organization_id, kind, phone, state) = (
            event.organization_id,
            event.kind,
            event.phone.clone(),
            event.state_after.clone(),
        );
        let id = evidence::append(&mut self.tx, event).await?;
        self.published.push(Published {
            organization_id,
            event: optin_core::api::LiveEvent {
                id,
                kind: kind.to_owned(),
                phone,
                state,
            },
        });
        Ok(id)
    }

    /// Stores an outbound message and its outbox job.
    pub async fn send(
        &mut self,
        message: NewMessage<'_>,
        payload: OutboundPayload,
    ) -> AppResult<i64> {
        let id = rows::insert_message(&mut self.tx, message, self.now).await?;
        let payload = serde_json::to_value(&payload).expect("payload serializes");
        rows::enqueue(&mut self.tx, id, &payload, self.now).await?;
        self.wake_outbox = true;
        Ok(id)
    }

    /// Commits, then publishes and wakes the outbox.
    pub async fn commit(self, state: &AppState) -> AppResult<()> {
        self.tx.commit().await?;
        for published in self.published {
            state.live.publish(published);
        }
        if self.wake_outbox {
            state.outbox_wake.notify_one();
        }
        Ok(())
    }
}

fn refused(e: IllegalTransition) -> AppError {
    let code = match e {
        IllegalTransition::TooSoon { .. } => "resend_too_soon",
        IllegalTransition::ContactOptedOut => "contact_opted_out",
        IllegalTransition::AlreadyOptedIn => "already_opted_in",
        IllegalTransition::RequestInFlight => "request_in_flight",
        IllegalTransition::WrongState { .. } => "not_allowed_now",
    };
    let allowed_at = match e {
        IllegalTransition::TooSoon { allowed_at } => Some(allowed_at),
        _ => None,
    };
    let mut message = e.to_string();
    if let Some(first) = message.get(..1) {
        message = first.to_uppercase() + &message[1..] + ".";
    }
    AppError::Refused {
        code,
        message,
        allowed_at,
    }
}

/// Applies a consent event, saves the result and records it.
#[allow(clippy::too_many_arguments)]
async fn transition(
    work: &mut Work,
    organization_id: i64,
    phone: &str,
    record: &mut ConsentRecord,
    event: ConsentEvent,
    kind: &'static str,
    advisor_id: Option<i64>,
    detail: serde_json::Value,
    source: Option<&WebhookSource<'_>>,
) -> AppResult<Transition> {
    let t = apply(&record.status, &event, work.now).map_err(refused)?;
    record.status = t.status.clone();
    rows::save(&mut work.tx, organization_id, phone, record, work.now).await?;
    let evidence = NewEvidence::new(
        organization_id,
        phone,
        advisor_id,
        kind,
        cause_name(t.cause),
        detail,
        work.now,
    )
    .with_state(t.status.state.as_str());
    work.record(match source {
        Some(source) => source.mark(evidence),
        None => evidence,
    })
    .await?;
    Ok(t)
}

/// Records the provider's answer to a send: a consent transition for an
/// opt-in request, plain evidence for any other message.
pub async fn record_provider_answer(
    work: &mut Work,
    message: &rows::SentMessage,
    event: ConsentEvent,
    kind: &'static str,
    detail: serde_json::Value,
) -> AppResult<()> {
    let (org, phone) = (message.organization_id, message.phone_e164.as_str());
    if message.purpose == "opt_in" {
        let mut record = rows::load(&mut work.tx, org, phone).await?;
        transition(
            work,
            org,
            phone,
            &mut record,
            event,
            kind,
            message.advisor_id,
            detail,
            None,
        )
        .await?;
    } else {
        let evidence = NewEvidence::new(
            org,
            phone,
            message.advisor_id,
            kind,
            "provider",
            detail,
            work.now,
        );
        work.record(evidence).await?;
    }
    Ok(())
}

fn cause_name(cause: optin_core::consent::Cause) -> &'static str {
    match cause {
        optin_core::consent::Cause::Advisor => "advisor",
        optin_core::consent::Cause::Provider => "provider",
        optin_core::consent::Cause::Contact => "contact",
    }
}

/// The advisor's view of a number's consent at `now`.
pub fn snapshot(phone: &str, record: &ConsentRecord, now: DateTime<Utc>) -> ConsentSnapshot {
    let status = &record.status;
    ConsentSnapshot {
        phone: phone.to_owned(),
        state: status.view(now),
        requested_at: status.requested_at,
        last_request_at: status.last_request_at,
        resend_allowed_at: status.resend_allowed_at(),
        answered_at: status.answered_at,
        failure_code: status.last_failure.map(|f| f.code),
        service_window_closes_at: service_window(record.last_inbound_at, now).closes_at(),
        sms_opted_out: record.sms_opted_out,
        now,
    }
}

async fn contact_in(
    work: &mut Work,
    advisor: &AdvisorIdentity,
    contact_id: i64,
) -> AppResult<Contact> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT id, name, phone_e164 FROM contacts WHERE advisor_id = $1 AND id = $2",
    )
    .bind(advisor.advisor_id)
    .bind(contact_id)
    .fetch_optional(&mut *work.tx)
    .await?;
    let (id, name, phone) = row.ok_or(AppError::NotFound("That contact"))?;
    Ok(Contact {
        id,
        name,
        phone,
        consent: optin_core::consent::ConsentView::None,
    })
}

async fn whatsapp_enabled(work: &mut Work, organization_id: i64) -> AppResult<()> {
    let enabled: bool =
        sqlx::query_scalar("SELECT whatsapp_enabled FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_one(&mut *work.tx)
            .await?;
    if enabled {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "whatsapp_disabled",
            message: "WhatsApp messaging is turned off for your organization.".into(),
        })
    }
}

/// Sends (or resends) the opt-in request. With an idempotency key, a repeat
/// of the same request changes nothing and answers the current state.
pub async fn request_opt_in(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
    idempotency_key: Option<&str>,
    resend: bool,
) -> AppResult<ConsentSnapshot> {
    let mut work = Work::begin(state).await?;
    let contact = contact_in(&mut work, advisor, contact_id).await?;
    let org = advisor.organization_id;
    whatsapp_enabled(&mut work, org).await?;
    if let Some(key) = idempotency_key {
        let seen: Option<String> = sqlx::query_scalar(
            "SELECT id FROM opt_in_requests WHERE advisor_id = $1 AND idempotency_key = $2",
        )
        .bind(advisor.advisor_id)
        .bind(key)
        .fetch_optional(&mut *work.tx)
        .await?;
        if seen.is_some() {
            let record = rows::load(&mut work.tx, org, &contact.phone).await?;
            return Ok(snapshot(&contact.phone, &record, work.now));
        }
    }
    let template = sqlx::query_as::<_, (String, String, String)>(
        "SELECT name, language, body FROM templates WHERE organization_id = $1 AND purpose = 'opt_in'
         ORDER BY id LIMIT 1",
    )
    .bind(org)
    .fetch_optional(&mut *work.tx)
    .await?
    .ok_or_else(|| AppError::from("no opt-in template is configured for the organization"))?;
    let (template_name, language, body) = template;

    let mut record = rows::load(&mut work.tx, org, &contact.phone).await?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let parameters = vec![
        advisor.advisor_name.clone(),
        advisor.organization_name.clone(),
    ];
    let rendered = render_template(&body, &parameters);
    let (event, kind) = if resend {
        (ConsentEvent::Resent, "resent")
    } else {
        (ConsentEvent::Requested, "requested")
    };
    let detail = json!({
        "request_id": request_id, "contact_name": contact.name, "channel": "whatsapp",
        "template": template_name, "language": language, "rendered_text": rendered,
        "buttons": ["Yes", "No"],
    });
    transition(
        &mut work,
        org,
        &contact.phone,
        &mut record,
        event,
        kind,
        Some(advisor.advisor_id),
        detail,
        None,
    )
    .await?;
    sqlx::query(
        "INSERT INTO opt_in_requests (id, organization_id, phone_e164, advisor_id, kind, idempotency_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&request_id)
    .bind(org)
    .bind(&contact.phone)
    .bind(advisor.advisor_id)
    .bind(if resend { "resend" } else { "request" })
    .bind(idempotency_key)
    .bind(timestamp(work.now))
    .execute(&mut *work.tx)
    .await?;
    let message = SendMessage::opt_in_request(
        &contact.phone,
        &template_name,
        &language,
        parameters,
        &request_id,
    );
    work.send(
        NewMessage {
            organization_id: org,
            phone: &contact.phone,
            channel: "whatsapp",
            direction: "out",
            purpose: "opt_in",
            advisor_id: Some(advisor.advisor_id),
            opt_in_request_id: Some(&request_id),
            template: Some((&template_name, &language)),
            body: &rendered,
            provider_message_id: None,
            status: "queued",
        },
        OutboundPayload::Whatsapp { message },
    )
    .await?;
    let snap = snapshot(&contact.phone, &record, work.now);
    work.commit(state).await?;
    Ok(snap)
}

/// A number's consent for one of the advisor's contacts.
pub async fn contact_consent(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
) -> AppResult<ConsentSnapshot> {
    let contact = state
        .store
        .contact(advisor.advisor_id, contact_id)
        .await?
        .ok_or(AppError::NotFound("That contact"))?;
    let record = state
        .store
        .consent(advisor.organization_id, &contact.phone)
        .await?;
    Ok(snapshot(&contact.phone, &record, state.clock.now()))
}

/// A write transaction on one of the advisor's contacts and its number's consent.
async fn begin_for_contact(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
) -> AppResult<(Work, Contact, ConsentRecord)> {
    let mut work = Work::begin(state).await?;
    let contact = contact_in(&mut work, advisor, contact_id).await?;
    let record = rows::load(&mut work.tx, advisor.organization_id, &contact.phone).await?;
    Ok((work, contact, record))
}

/// Sends a WhatsApp message; refused unless the number opted in, and free
/// text only inside the 24-hour service window.
pub async fn send_whatsapp(
    state: &AppState,
    advisor: &AdvisorIdentity,
    contact_id: i64,
    outgoing: OutgoingMessage,
) -> AppResult<i64> {
    let (mut work, contact, record) = begin_for_contact(state, advisor, contact_id).await?;
    let org = advisor.organization_id;
    whatsapp_enabled(&mut work, org).await?;
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
            let body = body.trim();
            if body.is_empty() || body.chars().count() > MAX_TEXT_CHARS {
                return Err(AppError::Invalid {
                    code: "invalid_text",
                    field: "body",
                    message: format!("Write a message of 1 to {MAX_TEXT_CHARS} characters."),
                });
            }
            if !service_window(record.last_inbound_at, work.now).allows_free_text() {
                return Err(AppError::Refused {
                    code: "outside_service_window",
                    message: "The contact has not written in the last 24 hours, so only an approved template can be sent.".into(),
                    allowed_at: None,
                });
            }
            (
                SendMessage::text(&contact.phone, body),
                body.to_owned(),
                None,
            )
        }
        OutgoingMessage::Template {
            name,
            language,
            parameters,
        } => {
            let body: Option<String> = sqlx::query_scalar(
                "SELECT body FROM templates WHERE organization_id = $1 AND name = $2 AND language = $3 AND purpose = 'message'",
            )
            .bind(org)
            .bind(name)
            .bind(language)
            .fetch_optional(&mut *work.tx)
            .await?;
            let body = body.ok_or_else(|| AppError::Invalid {
                code: "unknown_template",
                field: "name",
                message: format!("There is no approved template “{name}” in {language}."),
            })?;
            let needed = template_parameters(&body);
            if parameters.len() != needed || parameters.iter().any(|p| p.trim().is_empty()) {
                return Err(AppError::Invalid {
                    code: "template_parameters",
                    field: "parameters",
                    message: format!("This template needs {needed} filled-in value(s)."),
                });
            }
            let components = vec![optin_core::whatsapp::Component::Body {
                parameters: parameters
                    .iter()
                    .map(|text| optin_core::whatsapp::Parameter::Text { text: text.clone() })
                    .collect(),
            }];
            let message = SendMessage::template(&contact.phone, name, language, components);
            (
                message,
                render_template(&body, parameters),
                Some((name.as_str(), language.as_str())),
            )
        }
    };
    let id = work
        .send(
            NewMessage {
                organization_id: org,
                phone: &contact.phone,
                channel: "whatsapp",
                direction: "out",
                purpose: "message",
                advisor_id: Some(advisor.advisor_id),
                opt_in_request_id: None,
                template,
                body: &body,
                provider_message_id: None,
                status: "queued",
            },
            OutboundPayload::Whatsapp { message: payload },
        )
        .await?;
    let detail = json!({"message_id": id, "channel": "whatsapp", "template": template.map(|t| t.0), "language": template.map(|t| t.1), "rendered_text": body});
    let evidence = NewEvidence::new(
        org,
        &contact.phone,
        Some(advisor.advisor_id),
        "message_out",
        "advisor",
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
    let (mut work, contact, record) = begin_for_contact(state, advisor, contact_id).await?;
    let org = advisor.organization_id;
    if record.sms_opted_out {
        return Err(AppError::Refused {
            code: "sms_opted_out",
            message: format!(
                "{} replied STOP to SMS, so no SMS can be sent until they reply START.",
                contact.name
            ),
            allowed_at: None,
        });
    }
    let body = sms.body.trim();
    if body.is_empty() || body.chars().count() > 1600 {
        return Err(AppError::Invalid {
            code: "invalid_text",
            field: "body",
            message: "Write a message of 1 to 1600 characters.".into(),
        });
    }
    let id = work
        .send(
            NewMessage {
                organization_id: org,
                phone: &contact.phone,
                channel: "sms",
                direction: "out",
                purpose: "message",
                advisor_id: Some(advisor.advisor_id),
                opt_in_request_id: None,
                template: None,
                body,
                provider_message_id: None,
                status: "queued",
            },
            OutboundPayload::Sms {
                to: contact.phone.clone(),
                body: body.to_owned(),
            },
        )
        .await?;
    let detail = json!({"message_id": id, "channel": "sms", "rendered_text": body});
    let evidence = NewEvidence::new(
        org,
        &contact.phone,
        Some(advisor.advisor_id),
        "sms_out",
        "advisor",
        detail,
        work.now,
    );
    work.record(evidence).await?;
    work.commit(state).await?;
    Ok(id)
}

/// Where a webhook item came from, kept as evidence.
pub struct WebhookSource<'a> {
    pub raw_body: &'a str,
    pub provider_time: Option<DateTime<Utc>>,
}

impl WebhookSource<'_> {
    /// Marks a step as coming from this (verified) webhook.
    pub fn mark(&self, evidence: NewEvidence) -> NewEvidence {
        evidence.from_webhook(self.raw_body, self.provider_time)
    }
}

/// Order of delivery statuses; a status never moves a message backwards.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "accepted" => 1,
        "sent" => 2,
        "delivered" => 3,
        "read" => 4,
        "failed" | "cancelled" => 5,
        _ => 0,
    }
}

/// Applies one WhatsApp status to the message it names. Returns false when
/// the message id is not known yet (the send's response has not been stored).
pub async fn apply_status(
    work: &mut Work,
    update: &StatusUpdate,
    source: &WebhookSource<'_>,
) -> AppResult<bool> {
    let Some(message) = rows::message_by_provider_id(&mut work.tx, &update.id).await? else {
        return Ok(false);
    };
    let status = update.status.as_str();
    if update.status == DeliveryStatus::Other {
        return Ok(true);
    }
    let error = update.errors.first();
    let code = error.map(|e| e.code);
    let forward = status_rank(status) > status_rank(&message.status);
    // A failure after delivery would contradict what we know; keep the later truth.
    let fails_undelivered =
        update.status == DeliveryStatus::Failed && status_rank(&message.status) < 3;
    if forward && (update.status != DeliveryStatus::Failed || fails_undelivered) {
        rows::set_message_status(
            &mut work.tx,
            message.id,
            status,
            error.map(|e| (e.code, e.title.as_str())),
            work.now,
        )
        .await?;
    }
    let detail = json!({
        "message_id": message.id, "provider_message_id": update.id, "status": status,
        "purpose": message.purpose, "error_code": code, "error_title": error.map(|e| e.title.clone()),
        "applied": forward,
    });
    let org = message.organization_id;
    if message.purpose == "opt_in" && update.status == DeliveryStatus::Failed && fails_undelivered {
        let mut record = rows::load(&mut work.tx, org, &message.phone_e164).await?;
        let event = ConsentEvent::ProviderFailed {
            message_id: Some(update.id.clone()),
            code: code.and_then(|c| u32::try_from(c).ok()).unwrap_or(0),
        };
        transition(
            work,
            org,
            &message.phone_e164,
            &mut record,
            event,
            "failed",
            message.advisor_id,
            detail,
            Some(source),
        )
        .await?;
    } else {
        let kind = status_kind(update.status);
        let evidence = NewEvidence::new(
            org,
            &message.phone_e164,
            message.advisor_id,
            kind,
            "provider",
            detail,
            work.now,
        );
        work.record(source.mark(evidence)).await?;
    }
    Ok(true)
}

fn status_kind(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Sent => "sent",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Read => "read",
        DeliveryStatus::Failed => "failed",
        DeliveryStatus::Other => "status",
    }
}

/// Names used in the texts sent to the contact.
async fn sender_names(
    work: &mut Work,
    organization_id: i64,
    advisor_id: Option<i64>,
) -> AppResult<(String, Option<String>)> {
    let org: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
        .bind(organization_id)
        .fetch_one(&mut *work.tx)
        .await?;
    let advisor: Option<String> = match advisor_id {
        Some(id) => {
            sqlx::query_scalar("SELECT name FROM advisors WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *work.tx)
                .await?
        }
        None => None,
    };
    Ok((org, advisor))
}

/// Applies one inbound WhatsApp message from a contact of `organization_id`.
pub async fn apply_inbound(
    work: &mut Work,
    organization_id: i64,
    message: &InboundMessage,
    source: &WebhookSource<'_>,
) -> AppResult<()> {
    let phone = e164_from_wa_id(&message.from);
    let org = organization_id;
    let mut record = rows::load(&mut work.tx, org, &phone).await?;
    // Any message from the contact, a button tap included, opens the 24-hour window.
    let sent_at = source.provider_time.unwrap_or(work.now);
    record.last_inbound_at = Some(record.last_inbound_at.map_or(sent_at, |t| t.max(sent_at)));
    rows::save(&mut work.tx, org, &phone, &record, work.now).await?;

    let payload = message.button_payload().and_then(OptInPayload::parse);
    let text = message
        .text_body()
        .map(str::to_owned)
        .or_else(|| message.button.as_ref().map(|b| b.text.clone()))
        .unwrap_or_default();
    // Taps are attributed to the request they answer (and its advisor).
    let request: Option<(String, i64)> = match &payload {
        Some(p) => sqlx::query_as(
            "SELECT id, advisor_id FROM opt_in_requests WHERE id = $1 AND organization_id = $2 AND phone_e164 = $3",
        )
        .bind(&p.request_id)
        .bind(org)
        .bind(&phone)
        .fetch_optional(&mut *work.tx)
        .await?,
        None => None,
    };
    let last_advisor: Option<i64> = sqlx::query_scalar(
        "SELECT advisor_id FROM opt_in_requests WHERE organization_id = $1 AND phone_e164 = $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(org)
    .bind(&phone)
    .fetch_optional(&mut *work.tx)
    .await?;
    let advisor_id = request.as_ref().map(|r| r.1).or(last_advisor);
    rows::insert_message(
        &mut work.tx,
        NewMessage {
            organization_id: org,
            phone: &phone,
            channel: "whatsapp",
            direction: "in",
            purpose: "message",
            advisor_id,
            opt_in_request_id: request.as_ref().map(|r| r.0.as_str()),
            template: None,
            body: &text,
            provider_message_id: Some(&message.id),
            status: "received",
        },
        work.now,
    )
    .await?;
    let detail = json!({
        "provider_message_id": message.id, "type": message.kind, "text": text,
        "button_payload": message.button_payload(), "context_message_id": message.context.as_ref().map(|c| c.id.clone()),
        "request_id": request.as_ref().map(|r| r.0.clone()),
    });
    let consent_event = match (&payload, &request) {
        (Some(p), Some(_)) => Some(match p.answer {
            OptInAnswer::Yes => (ConsentEvent::TappedYes, "accepted"),
            OptInAnswer::No => (ConsentEvent::TappedNo, "rejected"),
        }),
        // A tap on a button we did not send (unknown request): evidence only.
        (Some(_), None) => None,
        (None, _) => classify(&text).and_then(|k| {
            let kind = match k {
                Keyword::OptIn => "keyword_opt_in",
                Keyword::OptOut => "keyword_opt_out",
                Keyword::Decline => "keyword_decline",
                Keyword::Help => return None,
            };
            ConsentEvent::from_keyword(k).map(|e| (e, kind))
        }),
    };
    let Some((event, kind)) = consent_event else {
        let evidence = NewEvidence::new(
            org,
            &phone,
            advisor_id,
            "message_in",
            "contact",
            detail,
            work.now,
        );
        work.record(source.mark(evidence)).await?;
        return Ok(());
    };
    let t = transition(
        work,
        org,
        &phone,
        &mut record,
        event,
        kind,
        advisor_id,
        detail,
        Some(source),
    )
    .await?;
    if t.state_changed() {
        let (org_name, advisor_name) = sender_names(work, org, advisor_id).await?;
        let (purpose, body) = match t.status.state {
            ConsentState::OptedIn => (
                "confirmation",
                format!(
                    "Thank you. You have opted in to WhatsApp messages from {org_name}{}. Reply STOP at any time to opt out.",
                    advisor_name.map(|a| format!(" ({a})")).unwrap_or_default()
                ),
            ),
            ConsentState::OptedOut => (
                "opt_out_notice",
                format!("You have opted out of WhatsApp messages from {org_name}. You can opt in at any time by replying \"yes\"."),
            ),
            _ => return Ok(()),
        };
        work.send(
            NewMessage {
                organization_id: org,
                phone: &phone,
                channel: "whatsapp",
                direction: "out",
                purpose,
                advisor_id,
                opt_in_request_id: None,
                template: None,
                body: &body,
                provider_message_id: None,
                status: "queued",
            },
            OutboundPayload::Whatsapp {
                message: SendMessage::text(&phone, body.clone()),
            },
        )
        .await?;
    }
    Ok(())
}
