//! Revocation by any reasonable means (FCC 24-18): a contact may withdraw
//! consent by phone, e-mail, in person, by letter, or in plain words in a
//! message. Each is binding for the whole organization at once: the
//! number's WhatsApp consent becomes `opted_out` (core's
//! [`ConsentEvent::RevokedByOtherMeans`], so the same rule that blocks
//! requests, templates and the composer after "stop" blocks them now) and
//! SMS is switched off too, with evidence naming who recorded it.
//!
//! Messages that read as a request to stop (core's [`stop_request`]) are
//! flagged, never applied or ignored silently: an advisor who holds the
//! number, or compliance, decides ("apply as revocation" or "not a
//! revocation"), and the decision is evidence too.
//!
//! [`stop_request`]: optin_core::stop_request

use chrono::{DateTime, Utc};
use optin_core::api::{ConsentSnapshot, NewRevocation, ResolveStopFlag};
use optin_core::consent::ConsentEvent;
use optin_core::stop_request::looks_like_stop_request;
use optin_core::vocab::{Cause, Channel, EvidenceKind, RevocationChannel, StopFlagDecision};
use serde_json::json;

use super::{snapshot, transition, ConsentStep, WebhookSource, Work};
use crate::error::{AppError, AppResult};
use crate::store::auth::AdvisorIdentity;
use crate::store::evidence::NewEvidence;
use crate::store::revocations::{NewRevocationRow, NewStopFlag};
use crate::AppState;

/// Whose number a person acts on.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One of the advisor's own contacts, by id.
    Contact(i64),
    /// Any number of the person's organization (compliance).
    Number(&'a str),
}

/// The number the person may act on, or 404.
async fn number_of(
    work: &mut Work,
    person: &AdvisorIdentity,
    target: Target<'_>,
) -> AppResult<String> {
    match target {
        Target::Contact(id) => Ok(work.contact_of(person, id).await?.phone_e164),
        Target::Number(phone) => {
            if work
                .store
                .organization_has_number(person.organization_id, phone)
                .await?
            {
                Ok(phone.to_owned())
            } else {
                Err(AppError::NotFound("That number"))
            }
        }
    }
}

/// Who recorded or decided, as kept in the evidence.
fn person_detail(person: &AdvisorIdentity) -> serde_json::Value {
    json!({"id": person.advisor_id, "name": person.advisor_name, "role": person.role})
}

/// A revocation as stored and recorded.
struct Revoke<'a> {
    phone: &'a str,
    channel: RevocationChannel,
    given_at: DateTime<Utc>,
    note: &'a str,
    kind: EvidenceKind,
    stop_flag_id: Option<i64>,
}

/// Opts the number out on WhatsApp and SMS, with evidence naming who recorded it.
async fn revoke(work: &mut Work, person: &AdvisorIdentity, r: Revoke<'_>) -> AppResult<()> {
    let org = person.organization_id;
    let id = work
        .store
        .insert_revocation(
            NewRevocationRow {
                organization_id: org,
                phone: r.phone,
                channel: r.channel,
                given_at: r.given_at,
                note: r.note,
                recorded_by: person.advisor_id,
                stop_flag_id: r.stop_flag_id,
            },
            work.now,
        )
        .await?;
    let mut record = work.store.consent(org, r.phone).await?;
    // A revocation covers every channel the firm messages on.
    record.sms_opted_out = true;
    let detail = json!({
        "revocation_id": id, "channel": r.channel, "given_at": r.given_at, "note": r.note,
        "recorded_by": person_detail(person), "stop_flag_id": r.stop_flag_id, "sms_opted_out": true,
    });
    transition(
        work,
        ConsentStep {
            organization_id: org,
            phone: r.phone,
            record: &mut record,
            event: ConsentEvent::RevokedByOtherMeans,
            kind: r.kind,
            advisor_id: Some(person.advisor_id),
            detail,
            source: None,
        },
    )
    .await?;
    Ok(())
}

/// Records a revocation the contact gave by phone, e-mail, in person, ...
pub async fn record_revocation(
    state: &AppState,
    person: &AdvisorIdentity,
    target: Target<'_>,
    new: &NewRevocation,
) -> AppResult<ConsentSnapshot> {
    let mut work = Work::begin(state).await?;
    let note = new
        .validate(work.now)
        .map_err(|(field, message)| AppError::invalid("invalid_revocation", field, message))?;
    let phone = number_of(&mut work, person, target).await?;
    revoke(
        &mut work,
        person,
        Revoke {
            phone: &phone,
            channel: new.channel,
            given_at: new.given_at,
            note,
            kind: EvidenceKind::RevocationRecorded,
            stop_flag_id: None,
        },
    )
    .await?;
    work.commit(state).await?;
    number_snapshot(state, person.organization_id, &phone).await
}

/// Decides a flagged message: applied as a revocation, or not one.
pub async fn resolve_stop_flag(
    state: &AppState,
    person: &AdvisorIdentity,
    target: Target<'_>,
    resolve: &ResolveStopFlag,
) -> AppResult<ConsentSnapshot> {
    let mut work = Work::begin(state).await?;
    let phone = number_of(&mut work, person, target).await?;
    let org = person.organization_id;
    let flag = work
        .store
        .stop_flag(org, &phone, resolve.flag_id)
        .await?
        .ok_or(AppError::NotFound("That flagged message"))?;
    if flag.decision.is_some()
        || !work
            .store
            .decide_stop_flag(flag.flag.id, resolve.decision, person.advisor_id, work.now)
            .await?
    {
        return Err(AppError::Conflict {
            code: "flag_already_resolved",
            field: Some("flag_id"),
            message: "Someone already decided about this message.".into(),
        });
    }
    let flag = flag.flag;
    match resolve.decision {
        StopFlagDecision::Revocation => {
            revoke(
                &mut work,
                person,
                Revoke {
                    phone: &phone,
                    channel: RevocationChannel::of_message(flag.channel),
                    given_at: flag.flagged_at,
                    note: &flag.text,
                    kind: EvidenceKind::StopRequestApplied,
                    stop_flag_id: Some(flag.id),
                },
            )
            .await?;
        }
        StopFlagDecision::NotARevocation => {
            let detail = json!({
                "stop_flag_id": flag.id, "channel": flag.channel, "text": flag.text,
                "decision": resolve.decision, "decided_by": person_detail(person),
            });
            let evidence = NewEvidence::new(
                org,
                &phone,
                Some(person.advisor_id),
                EvidenceKind::StopRequestDismissed,
                person.role()?.cause(),
                detail,
                work.now,
            );
            work.record(evidence).await?;
        }
    }
    work.commit(state).await?;
    number_snapshot(state, org, &phone).await
}

/// Flags an inbound free-text message (no keyword) that reads as a request
/// to stop, with evidence from the webhook it came in.
pub(crate) async fn flag_if_stop_request(
    work: &mut Work,
    message: FlaggedMessage<'_>,
    source: &WebhookSource<'_>,
) -> AppResult<()> {
    if !looks_like_stop_request(message.text) {
        return Ok(());
    }
    let id = work
        .store
        .insert_stop_flag(
            NewStopFlag {
                organization_id: message.organization_id,
                phone: message.phone,
                channel: message.channel,
                message_id: message.message_id,
                text: message.text,
            },
            work.now,
        )
        .await?;
    let detail = json!({
        "stop_flag_id": id, "message_id": message.message_id, "channel": message.channel,
        "text": message.text,
    });
    let evidence = NewEvidence::new(
        message.organization_id,
        message.phone,
        message.advisor_id,
        EvidenceKind::StopRequestFlagged,
        Cause::Contact,
        detail,
        work.now,
    );
    work.record(source.mark(evidence)).await?;
    tracing::info!(flag = id, channel = %message.channel, "message flagged as a possible stop request");
    Ok(())
}

/// An inbound message that may be flagged.
pub(crate) struct FlaggedMessage<'a> {
    pub organization_id: i64,
    pub phone: &'a str,
    pub channel: Channel,
    pub message_id: i64,
    pub text: &'a str,
    pub advisor_id: Option<i64>,
}

/// Fills what the contact's screen shows beyond consent itself: the
/// revocation that opted the number out (until the contact opts in again)
/// and the flags waiting for a decision.
pub async fn annotate(
    state: &AppState,
    organization_id: i64,
    snapshot: &mut ConsentSnapshot,
) -> AppResult<()> {
    let phone = snapshot.phone.clone();
    snapshot.revocation = match state
        .store
        .latest_revocation(organization_id, &phone)
        .await?
    {
        // Shown while it is what holds the number opted out: an opt-in after
        // it (the contact replied "yes") moves `answered_at` past it.
        Some(r)
            if snapshot.state == optin_core::api::ConsentView::OptedOut
                && snapshot.answered_at.is_none_or(|at| at <= r.recorded_at) =>
        {
            Some(r)
        }
        _ => None,
    };
    snapshot.stop_flags = state
        .store
        .open_stop_flags(organization_id, Some(&phone))
        .await?;
    Ok(())
}

/// A number's snapshot, annotated, at the service's clock.
pub async fn number_snapshot(
    state: &AppState,
    organization_id: i64,
    phone: &str,
) -> AppResult<ConsentSnapshot> {
    let record = state.store.consent(organization_id, phone).await?;
    let mut snapshot = snapshot(phone, &record, state.clock.now());
    annotate(state, organization_id, &mut snapshot).await?;
    Ok(snapshot)
}
