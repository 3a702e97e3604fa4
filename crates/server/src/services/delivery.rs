//! What providers say about our messages: the answer to a send (from the
//! outbox) and delivery statuses (from webhooks), for WhatsApp and SMS alike.
//! A status only moves a message forward, never to `failed` once delivered
//! (core's [`MessageStatus::advances_to`]); a failed opt-in request changes
//! consent with core's rules.

use optin_core::consent::ConsentEvent;
use optin_core::templates::TemplateStatus;
use optin_core::vocab::{
    Cause, Channel, ErrorCode, ErrorEffect, EvidenceKind, MessageStatus, Purpose,
};
use optin_core::whatsapp::StatusUpdate;
use serde_json::json;

use super::{transition, ConsentStep, WebhookSource, Work};
use crate::error::AppResult;
use crate::outbox;
use crate::providers::ProviderError;
use crate::store::evidence::NewEvidence;
use crate::store::messages::{MessageError, StoredMessage};
use crate::store::templates::TemplateUpdate;

/// A delivery status from either provider, in our vocabulary.
#[derive(Debug, Clone, Copy)]
pub struct StatusReport<'a> {
    pub channel: Channel,
    pub provider_message_id: &'a str,
    pub status: MessageStatus,
    pub error: Option<MessageError<'a>>,
    /// The send's `biz_opaque_callback_data` (WhatsApp): the key of the
    /// outbox job that sent it.
    pub callback_data: Option<&'a str>,
}

/// How the outbox learnt that the provider accepted a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// From the provider's answer to the call.
    Answer,
    /// From a status carrying the job's key: the answer was lost or never
    /// recorded.
    StatusCallback,
}

impl Acceptance {
    fn as_str(self) -> &'static str {
        match self {
            Acceptance::Answer => "answer",
            Acceptance::StatusCallback => "status_callback",
        }
    }
}

/// What a status's callback data says about a provider id we do not know.
enum Proof {
    /// It proved the send of a job that had no provider id: the message.
    Linked(StoredMessage),
    /// It belongs to a job whose message went out under another id: a
    /// repeat sent the message twice (recorded).
    Duplicate,
    /// Nothing (no such job, or it ended otherwise).
    Nothing,
}

/// Records a provider event about `message`: a consent transition for an
/// opt-in request when `consent_event` is given, plain evidence otherwise.
async fn record_about(
    work: &mut Work,
    message: &StoredMessage,
    kind: EvidenceKind,
    consent_event: Option<ConsentEvent>,
    detail: serde_json::Value,
    source: Option<&WebhookSource<'_>>,
) -> AppResult<()> {
    let (org, phone) = (message.organization_id, message.phone_e164.as_str());
    match consent_event {
        Some(event) if message.purpose == Purpose::OptIn => {
            let mut record = work.store.consent(org, phone).await?;
            transition(
                work,
                ConsentStep {
                    organization_id: org,
                    phone,
                    record: &mut record,
                    event,
                    kind,
                    advisor_id: message.advisor_id,
                    detail,
                    source,
                },
            )
            .await?;
        }
        _ => {
            record_provider_step(work, message, kind, detail, source).await?;
        }
    }
    Ok(())
}

/// Evidence of a step the provider reported about `message`, changing no consent state.
async fn record_provider_step(
    work: &mut Work,
    message: &StoredMessage,
    kind: EvidenceKind,
    detail: serde_json::Value,
    source: Option<&WebhookSource<'_>>,
) -> AppResult<()> {
    let evidence = NewEvidence::new(
        message.organization_id,
        &message.phone_e164,
        message.advisor_id,
        kind,
        Cause::Provider,
        detail,
        work.now,
    );
    work.record_from(evidence, source).await?;
    Ok(())
}

/// Applies one delivery status to the message it names. Returns false when
/// the message id is not known yet (the send's answer has not been stored),
/// so the caller can park it.
pub async fn apply_status(
    work: &mut Work,
    report: StatusReport<'_>,
    source: &WebhookSource<'_>,
) -> AppResult<bool> {
    let message = match work
        .store
        .message_by_provider_id(report.provider_message_id)
        .await?
    {
        Some(message) => message,
        None => match report.callback_data {
            Some(key) => match prove_send(work, key, report.provider_message_id, source).await? {
                Proof::Linked(message) => message,
                Proof::Duplicate => return Ok(true),
                Proof::Nothing => return Ok(false),
            },
            None => return Ok(false),
        },
    };
    let Some(kind) = EvidenceKind::of_delivery(report.channel, report.status) else {
        return Ok(true);
    };
    let applied = message.status.advances_to(report.status);
    let code = report.error.and_then(|e| e.code);
    if report.status == MessageStatus::Failed
        && applied
        && code.is_some_and(ErrorCode::is_retryable)
    {
        if let Some(attempts) = work.store.done_job_attempts(message.id).await? {
            if attempts < outbox::MAX_ATTEMPTS {
                retry_failed_send(work, &message, report, attempts, source).await?;
                return Ok(true);
            }
        }
    }
    if applied {
        work.store
            .set_message_status(message.id, report.status, report.error, work.now)
            .await?;
    }
    let detail = json!({
        "message_id": message.id, "provider_message_id": report.provider_message_id,
        "status": report.status, "purpose": message.purpose, "error_code": code,
        "error_title": report.error.map(|e| e.title), "applied": applied,
    });
    let failed_request =
        (report.status == MessageStatus::Failed && applied).then(|| ConsentEvent::ProviderFailed {
            message_id: Some(report.provider_message_id.to_owned()),
            code,
        });
    record_about(work, &message, kind, failed_request, detail, Some(source)).await?;
    if applied {
        apply_consent_effect(work, &message, code, Some(source)).await?;
    }
    Ok(true)
}

/// A status for a provider id we have not recorded, carrying a job's key.
/// When that job has no provider id yet (its answer timed out, the process
/// died, or recording the answer failed), the status proves the send: the id
/// is linked and the job is done, so it is never sent again.
async fn prove_send(
    work: &mut Work,
    key: &str,
    provider_id: &str,
    source: &WebhookSource<'_>,
) -> AppResult<Proof> {
    let Some(job) = work.store.job_by_key(key).await? else {
        return Ok(Proof::Nothing);
    };
    let Some(message) = work.store.message(job.message_id).await? else {
        return Ok(Proof::Nothing);
    };
    match message.provider_message_id.as_deref() {
        None if work.store.prove_job(job.id).await? => {
            tracing::info!(
                job = job.id,
                was = %job.state,
                "a status carrying the job's key proved its send"
            );
            provider_accepted(
                work,
                &message,
                provider_id,
                job.attempts,
                Acceptance::StatusCallback,
            )
            .await?;
            Box::pin(apply_parked(work, provider_id)).await?;
            let linked = work.store.message(message.id).await?;
            Ok(linked.map_or(Proof::Nothing, Proof::Linked))
        }
        Some(recorded) if recorded != provider_id => {
            duplicate_sent(
                work,
                &message,
                recorded,
                provider_id,
                job.attempts,
                Some(source),
            )
            .await?;
            Ok(Proof::Duplicate)
        }
        _ => Ok(Proof::Nothing),
    }
}

/// Two provider ids for one message: a send repeated after its outcome was
/// unknown had gone out the first time too. Recorded once per extra id, so
/// the record never hides that the contact received it twice.
pub async fn duplicate_sent(
    work: &mut Work,
    message: &StoredMessage,
    recorded: &str,
    duplicate: &str,
    attempts: i64,
    source: Option<&WebhookSource<'_>>,
) -> AppResult<()> {
    if !work
        .store
        .first_receipt(&format!("outbox:duplicate:{duplicate}"), work.now)
        .await?
    {
        return Ok(());
    }
    tracing::error!(
        message = message.id,
        recorded,
        duplicate,
        "the provider sent a message twice"
    );
    let detail = json!({
        "message_id": message.id, "provider_message_id": recorded,
        "duplicate_provider_message_id": duplicate, "channel": message.channel,
        "purpose": message.purpose, "attempts": attempts,
    });
    record_provider_step(work, message, EvidenceKind::DuplicateSent, detail, source).await
}

/// The outbox sends a message again because its previous attempt's outcome
/// stayed unknown for the whole grace period: recorded before the call, so
/// a duplicate can never be invisible.
pub async fn send_repeated(
    work: &mut Work,
    message: &StoredMessage,
    attempt: i64,
    previous_error: Option<&str>,
    grace_seconds: u64,
) -> AppResult<()> {
    let detail = json!({
        "message_id": message.id, "channel": message.channel, "purpose": message.purpose,
        "attempt": attempt, "previous_attempt": attempt - 1,
        "previous_outcome": "unknown",
        "previous_error": previous_error.unwrap_or("the service stopped during the call"),
        "grace_seconds": grace_seconds,
    });
    record_provider_step(work, message, EvidenceKind::SendRepeated, detail, None).await
}

/// WhatsApp failed a message it had accepted, for a reason that passes
/// (130429, say): the outbox sends it again after its back-off, with nothing
/// for the advisor to do, and an opt-in request is in flight again rather
/// than left pending an answer that cannot come.
async fn retry_failed_send(
    work: &mut Work,
    message: &StoredMessage,
    report: StatusReport<'_>,
    attempts: i64,
    source: &WebhookSource<'_>,
) -> AppResult<()> {
    let next = work.now + outbox::backoff(attempts);
    let code = report.error.and_then(|e| e.code);
    let title = report.error.map_or("", |e| e.title);
    work.store
        .requeue_sent_message(message.id, next, title, work.now)
        .await?;
    tracing::warn!(
        message = message.id,
        ?code,
        "the provider failed a sent message; retrying"
    );
    let detail = json!({
        "message_id": message.id, "provider_message_id": report.provider_message_id,
        "error_code": code, "error_title": title, "attempts": attempts, "next_attempt_at": next,
    });
    let event = ConsentEvent::ProviderRetrying {
        message_id: report.provider_message_id.to_owned(),
    };
    record_about(
        work,
        message,
        EvidenceKind::RetryScheduled,
        Some(event),
        detail,
        Some(source),
    )
    .await
}

/// What a provider error code means beyond the message itself (core's
/// table): an SMS recipient unsubscribed or blocked at the carrier (21610,
/// 30004) is opted out of SMS for the whole organization; a contact who stopped marketing
/// messages (131050) is marked so; a template Meta will not send (132001,
/// 132015, 132016) is marked so, and the next request uses the alternate.
async fn apply_consent_effect(
    work: &mut Work,
    message: &StoredMessage,
    code: Option<ErrorCode>,
    source: Option<&WebhookSource<'_>>,
) -> AppResult<()> {
    let Some(code) = code else {
        return Ok(());
    };
    let (org, phone) = (message.organization_id, message.phone_e164.as_str());
    match code.effect() {
        ErrorEffect::SmsUnsubscribed => {
            let mut record = work.store.consent(org, phone).await?;
            if record.sms_opted_out {
                return Ok(());
            }
            record.sms_opted_out = true;
            work.store
                .save_consent(org, phone, &record, work.now)
                .await?;
            let detail =
                json!({"message_id": message.id, "error_code": code, "sms_opted_out": true});
            record_provider_step(work, message, EvidenceKind::SmsOptOut, detail, source).await
        }
        ErrorEffect::MarketingStopped => {
            let mut record = work.store.consent(org, phone).await?;
            if record.marketing_stopped_at.is_some() {
                return Ok(());
            }
            record.marketing_stopped_at = Some(work.now);
            work.store
                .save_consent(org, phone, &record, work.now)
                .await?;
            let detail =
                json!({"message_id": message.id, "error_code": code, "marketing_stopped": true});
            record_provider_step(
                work,
                message,
                EvidenceKind::MarketingStopped,
                detail,
                source,
            )
            .await
        }
        ErrorEffect::TemplateUnavailable => {
            let (Some((name, language)), Some(status)) =
                (&message.template, TemplateStatus::from_send_error(code))
            else {
                return Ok(());
            };
            let reason = code.title().unwrap_or_default();
            work.store
                .set_template_status(org, name, language, status, Some(reason), work.now)
                .await?;
            let update = TemplateUpdate {
                organization_id: org,
                name,
                language,
                detail: json!({"status": status.as_str(), "error_code": code, "message_id": message.id}),
                raw_body: source.map_or("", |s| &s.webhook.body),
            };
            tracing::warn!(template = %name, %language, status = status.as_str(), "a send proved the template unavailable");
            Ok(work.store.record_template_update(update, work.now).await?)
        }
        ErrorEffect::Retryable | ErrorEffect::Final | ErrorEffect::NotOnWhatsapp => Ok(()),
    }
}

/// A WhatsApp status webhook item as a report.
pub fn whatsapp_report(update: &StatusUpdate) -> Option<StatusReport<'_>> {
    let error = update.errors.first();
    Some(StatusReport {
        channel: Channel::Whatsapp,
        provider_message_id: &update.id,
        status: update.status.message_status()?,
        error: error.map(|e| MessageError {
            code: ErrorCode::from_provider(e.code),
            title: &e.title,
        }),
        callback_data: update.biz_opaque_callback_data.as_deref(),
    })
}

/// The provider accepted a send (attempt `attempt`): the message gets its
/// provider id and the request moves to `pending`. Statuses that arrived
/// early are applied apart ([`apply_parked`]), so that nothing they do can
/// undo the record of the acceptance.
pub async fn provider_accepted(
    work: &mut Work,
    message: &StoredMessage,
    provider_id: &str,
    attempt: i64,
    how: Acceptance,
) -> AppResult<()> {
    work.store
        .set_message_accepted(message.id, provider_id, work.now)
        .await?;
    let detail = json!({"message_id": message.id, "provider_message_id": provider_id, "channel": message.channel, "purpose": message.purpose, "attempt": attempt, "proved_by": how.as_str()});
    let event = ConsentEvent::ProviderAccepted {
        message_id: provider_id.to_owned(),
    };
    record_about(
        work,
        message,
        EvidenceKind::ProviderAccepted,
        Some(event),
        detail,
        None,
    )
    .await
}

/// The provider refused a send for good.
pub async fn provider_refused(
    work: &mut Work,
    message: &StoredMessage,
    error: &ProviderError,
    attempts: i64,
) -> AppResult<()> {
    let code = error.code();
    work.store
        .set_message_status(
            message.id,
            MessageStatus::Failed,
            Some(MessageError {
                code,
                title: error.message(),
            }),
            work.now,
        )
        .await?;
    let detail = json!({"message_id": message.id, "channel": message.channel, "purpose": message.purpose, "error_code": code, "http_status": error.status(), "error": error.message(), "attempts": attempts});
    let event = ConsentEvent::ProviderFailed {
        message_id: None,
        code,
    };
    record_about(
        work,
        message,
        EvidenceKind::Failed,
        Some(event),
        detail,
        None,
    )
    .await?;
    apply_consent_effect(work, message, code, None).await
}

/// Applies statuses that arrived before the message id was known.
pub async fn apply_parked(work: &mut Work, provider_id: &str) -> AppResult<()> {
    for parked in work.store.take_parked_statuses(provider_id).await? {
        let Ok(update) = serde_json::from_str::<StatusUpdate>(&parked.status_json) else {
            tracing::error!(
                parked = parked.id,
                "a parked status cannot be read; dropped"
            );
            continue;
        };
        let webhook = parked.webhook();
        let source = WebhookSource {
            webhook: &webhook,
            provider_time: update.at(),
        };
        if let Some(report) = whatsapp_report(&update) {
            apply_status(work, report, &source).await?;
        }
    }
    Ok(())
}
