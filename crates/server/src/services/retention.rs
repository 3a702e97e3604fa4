//! Retention: messages older than the organization's period are purged,
//! except what a legal hold covers. Each purge is a step in the consent
//! record (per number: how many messages, created before when, under which
//! period), so the chain stays whole and says what was removed and why.
//!
//! The record's own steps are kept: they are the consent evidence, and the
//! chain cannot lose a link without breaking.

use chrono::{DateTime, Months, Utc};
use optin_core::compliance::{LegalHold, NewLegalHold};
use optin_core::vocab::{Cause, EvidenceKind};
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::services::Work;
use crate::store::auth::AdvisorIdentity;
use crate::store::evidence::NewEvidence;
use crate::store::StoreResult;
use crate::AppState;

/// What one purge of one organization removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Purged {
    /// Numbers whose old messages went.
    pub numbers: u64,
    pub messages: u64,
}

/// The oldest a message may be and still be kept, `months` before `now`.
pub fn retention_cutoff(now: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Purges the organization's messages past its retention period that no
/// legal hold covers, one consent-record step per number, in one transaction.
pub async fn purge(state: &AppState, organization_id: i64) -> AppResult<Purged> {
    let months = state.store.retention_months(organization_id).await?;
    let mut work = Work::begin(state).await?;
    let before = retention_cutoff(work.now, months);
    let numbers = work
        .store
        .purgeable_messages(organization_id, before)
        .await?;
    let mut purged = Purged::default();
    for (phone, _) in numbers {
        let messages = work
            .store
            .purge_messages(organization_id, &phone, before)
            .await?;
        let detail = json!({
            "messages": messages, "created_before": before, "retention_months": months,
        });
        work.record(NewEvidence::new(
            organization_id,
            phone,
            None,
            EvidenceKind::MessagesPurged,
            Cause::Service,
            detail,
            work.now,
        ))
        .await?;
        purged.numbers += 1;
        purged.messages += messages;
    }
    work.commit(state).await?;
    Ok(purged)
}

/// Purges every organization; one that fails is logged and left for the
/// next pass.
pub async fn purge_all(state: &AppState) -> StoreResult<Purged> {
    let mut total = Purged::default();
    for organization_id in state.store.organization_ids().await? {
        match purge(state, organization_id).await {
            Ok(done) => {
                total.numbers += done.numbers;
                total.messages += done.messages;
            }
            Err(e) => {
                tracing::warn!(organization_id, error = %e, "retention purge failed")
            }
        }
    }
    Ok(total)
}

/// Places a legal hold on a number of the organization or on all of it.
pub async fn place_hold(
    state: &AppState,
    person: &AdvisorIdentity,
    hold: &NewLegalHold,
) -> AppResult<LegalHold> {
    let reason = hold
        .checked_reason()
        .map_err(|message| AppError::invalid("invalid_reason", "reason", message))?;
    let phone = hold
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            optin_core::phone::to_e164(p, None)
                .map_err(|e| AppError::invalid("invalid_phone", "phone", e.to_string()))
        })
        .transpose()?;
    let id = state
        .store
        .place_legal_hold(
            person.organization_id,
            phone.as_deref(),
            reason,
            person.advisor_id,
            state.clock.now(),
        )
        .await?;
    state
        .store
        .legal_hold(person.organization_id, id)
        .await?
        .ok_or(AppError::NotFound("That hold"))
}

/// Releases an active hold; a released one is a conflict.
pub async fn release_hold(
    state: &AppState,
    person: &AdvisorIdentity,
    id: i64,
) -> AppResult<LegalHold> {
    let org = person.organization_id;
    state
        .store
        .legal_hold(org, id)
        .await?
        .ok_or(AppError::NotFound("That hold"))?;
    if !state
        .store
        .release_legal_hold(org, id, person.advisor_id, state.clock.now())
        .await?
    {
        return Err(AppError::Conflict {
            code: "hold_already_released",
            field: None,
            message: "Someone already released this hold.".into(),
        });
    }
    state
        .store
        .legal_hold(org, id)
        .await?
        .ok_or(AppError::NotFound("That hold"))
}
