//! WhatsApp identities: who a webhook is about when WhatsApp names a person
//! by number, by business-scoped user id (BSUID), or both.
//!
//! - Learning: every webhook item that carries a number and a BSUID together
//!   (`contacts[]`, a message's `from` + `from_user_id`, a status's
//!   `recipient_id` + `recipient_user_id`) binds the BSUID to the identity
//!   keyed by that number. A BSUID already bound is never rebound silently.
//! - Matching: a message is matched by its BSUID first, then by its number.
//!   A BSUID-only message from a BSUID no identity holds, and a message whose
//!   number is bound to another BSUID (the number may have been passed to
//!   someone else), are not applied: the caller keeps them for review.
//! - `user_changed_number`: the person moved their WhatsApp account to a new
//!   number. Consent was given by the person, so their identity and consent
//!   record move to the new number (an opt-out already recorded at the new
//!   number stays), the old number returns to "never asked" (a carrier may
//!   give it to someone else, who never consented), contacts and open
//!   opt-in requests follow (a tap on the old request still answers it), and
//!   both numbers get a chained step with the old and new number, the BSUIDs,
//!   the provider time and the raw body.
//! - `user_changed_user_id`: the BSUID is replaced (the old one is kept in
//!   the step). WhatsApp shares no number with this change, so sends go to
//!   the BSUID from then on, never to a number that may no longer be theirs.
//! - Sends: `to` with the number WhatsApp shares, else `recipient` with the
//!   BSUID ([`addressee`]).

use optin_core::consent::ConsentState;
use optin_core::vocab::{Cause, EvidenceKind};
use optin_core::whatsapp::{Addressee, InboundMessage, SystemChange, SystemEvent};
use serde_json::json;

use super::{WebhookSource, Work};
use crate::error::AppResult;
use crate::store::consent::ConsentRecord;
use crate::store::evidence::NewEvidence;
use crate::store::identities::WhatsAppIdentity;

/// Why a webhook item could not be applied to an identity (kept for review).
pub type Unmatched = String;

/// Binds `user_id` to the identity keyed by `number` when neither is bound
/// elsewhere; a conflicting pair changes nothing (and is logged).
pub async fn learn(work: &mut Work, org: i64, number: &str, user_id: &str) -> AppResult<()> {
    if let Err(conflict) = match_pair(work, org, number, Some(user_id)).await? {
        tracing::warn!(organization = org, %conflict, "WhatsApp identity not learned");
    }
    Ok(())
}

/// The number (consent key) an ordinary message from a contact is about,
/// learning its BSUID on the way; `Err` with the reason when it matches no
/// identity safely.
pub async fn sender(
    work: &mut Work,
    org: i64,
    message: &InboundMessage,
) -> AppResult<Result<String, Unmatched>> {
    let user_id = message.sender_user_id();
    if let Some(user_id) = user_id {
        if let Some(mut identity) = work.store.identity_by_user_id(org, user_id).await? {
            // WhatsApp shares the number again after it withheld it.
            if identity.wa_number.is_none() {
                if let Some(number) = message.sender_number() {
                    identity.wa_number = Some(number);
                    work.store.save_identity(org, &identity, work.now).await?;
                }
            }
            return Ok(Ok(identity.phone_e164));
        }
    }
    match (message.sender_number(), user_id) {
        (Some(number), user_id) => match_pair(work, org, &number, user_id).await,
        (None, Some(user_id)) => Ok(Err(format!(
            "a message from a WhatsApp user known only by the business-scoped user id {user_id}, \
             whom no contact's WhatsApp identity matches"
        ))),
        (None, None) => Ok(Err(
            "a message that names no sender (neither `from` nor `from_user_id`)".to_owned(),
        )),
    }
}

/// `number`, binding `user_id` to its identity when it has none yet; `Err`
/// when the number or the BSUID is bound to someone else.
async fn match_pair(
    work: &mut Work,
    org: i64,
    number: &str,
    user_id: Option<&str>,
) -> AppResult<Result<String, Unmatched>> {
    let Some(user_id) = user_id else {
        return Ok(Ok(number.to_owned()));
    };
    if let Some(bound) = work.store.identity_by_user_id(org, user_id).await? {
        return Ok(if bound.phone_e164 == number {
            Ok(number.to_owned())
        } else {
            Err(format!(
                "the business-scoped user id {user_id} came with the number {number}, \
                 but it belongs to the WhatsApp identity of {}",
                bound.phone_e164
            ))
        });
    }
    let identity = match work.store.identity(org, number).await? {
        Some(identity) => match &identity.user_id {
            Some(other) => {
                return Ok(Err(format!(
                    "the number {number} came with the business-scoped user id {user_id}, \
                     but its WhatsApp identity holds {other}: the number may now be someone else's"
                )))
            }
            None => WhatsAppIdentity {
                user_id: Some(user_id.to_owned()),
                ..identity
            },
        },
        None => WhatsAppIdentity::learned(number, user_id),
    };
    work.store.save_identity(org, &identity, work.now).await?;
    Ok(Ok(number.to_owned()))
}

/// How sends to the person keyed by `phone` reach them; `None` when no
/// identity is known (the number itself is used).
pub async fn addressee(work: &mut Work, org: i64, phone: &str) -> AppResult<Option<Addressee>> {
    Ok(work
        .store
        .identity(org, phone)
        .await?
        .map(|identity| identity.addressee()))
}

/// Applies a `system` message; `Err` with the reason when it cannot be
/// applied (an unknown type, an identity nobody holds).
pub async fn apply_system(
    work: &mut Work,
    org: i64,
    message: &InboundMessage,
    source: &WebhookSource<'_>,
) -> AppResult<Result<(), Unmatched>> {
    let Some(system) = &message.system else {
        return Ok(Err(
            "a system message without its `system` object".to_owned()
        ));
    };
    match system.change() {
        SystemChange::NumberChanged => number_changed(work, org, message, system, source).await,
        SystemChange::UserIdChanged => user_id_changed(work, org, message, system, source).await,
        SystemChange::Other => Ok(Err(format!(
            "a system message of type `{}` is not handled",
            system.kind
        ))),
    }
}

/// The identity a system message is about: by its previous BSUID, by the
/// sender's BSUID, then by the sender's number.
async fn subject(
    work: &mut Work,
    org: i64,
    message: &InboundMessage,
    system: &SystemEvent,
) -> AppResult<Option<WhatsAppIdentity>> {
    for user_id in [system.previous_user_id(), message.sender_user_id()]
        .into_iter()
        .flatten()
    {
        if let Some(identity) = work.store.identity_by_user_id(org, user_id).await? {
            return Ok(Some(identity));
        }
    }
    match message.sender_number() {
        Some(number) => Ok(work.store.identity(org, &number).await?),
        None => Ok(None),
    }
}

async fn number_changed(
    work: &mut Work,
    org: i64,
    message: &InboundMessage,
    system: &SystemEvent,
    source: &WebhookSource<'_>,
) -> AppResult<Result<(), Unmatched>> {
    let Some(new) = system.new_number() else {
        return Ok(Err(
            "a `user_changed_number` system message without the new number (`wa_id`)".to_owned(),
        ));
    };
    // Consent may be keyed by the old number before any BSUID was learned.
    let old = match subject(work, org, message, system).await? {
        Some(identity) => identity,
        None => match message.sender_number() {
            Some(number) => WhatsAppIdentity {
                phone_e164: number.clone(),
                wa_number: Some(number),
                user_id: None,
            },
            None => {
                return Ok(Err(
                    "a `user_changed_number` system message for a WhatsApp user no identity \
                     matches (no `from`, and its previous business-scoped user id is unknown)"
                        .to_owned(),
                ))
            }
        },
    };
    let user_id = system
        .new_user_id()
        .map(str::to_owned)
        .or(old.user_id.clone());
    let moved = WhatsAppIdentity {
        phone_e164: new.clone(),
        wa_number: Some(new.clone()),
        user_id: user_id.clone(),
    };
    if old.phone_e164 == new {
        work.store.save_identity(org, &moved, work.now).await?;
        return Ok(Ok(()));
    }
    let from = work.store.consent(org, &old.phone_e164).await?;
    let at_new = work.store.consent(org, &new).await?;
    let kept_opt_out = at_new.status.state == ConsentState::OptedOut
        && from.status.state != ConsentState::OptedOut;
    let record = ConsentRecord {
        status: if kept_opt_out {
            at_new.status.clone()
        } else {
            from.status.clone()
        },
        last_inbound_at: from.last_inbound_at.max(at_new.last_inbound_at),
        sms_opted_out: from.sms_opted_out || at_new.sms_opted_out,
        // The person's "Stop promotions" travels with them.
        marketing_stopped_at: from.marketing_stopped_at.or(at_new.marketing_stopped_at),
    };
    let store = &mut work.store;
    store.save_consent(org, &new, &record, work.now).await?;
    store
        .save_consent(org, &old.phone_e164, &ConsentRecord::default(), work.now)
        .await?;
    let contacts_moved = store
        .move_contacts_number(org, &old.phone_e164, &new)
        .await?;
    store
        .move_opt_in_requests(org, &old.phone_e164, &new)
        .await?;
    // Whoever held the new number before (in this organization) is not this person.
    store.delete_identity(org, &new).await?;
    store.delete_identity(org, &old.phone_e164).await?;
    store.save_identity(org, &moved, work.now).await?;

    let detail = json!({
        "old_number": old.phone_e164, "new_number": new,
        "previous_user_id": system.previous_user_id().or(old.user_id.as_deref()),
        "user_id": user_id,
        "state_moved": from.status.state, "opt_out_kept_at_new_number": kept_opt_out,
        "contacts_moved": contacts_moved,
        "provider_message_id": message.id, "system_body": system.body,
    });
    for (phone, state) in [
        (old.phone_e164.as_str(), ConsentState::None),
        (new.as_str(), record.status.state),
    ] {
        let step = NewEvidence::new(
            org,
            phone,
            None,
            EvidenceKind::NumberChanged,
            Cause::Contact,
            detail.clone(),
            work.now,
        )
        .with_state(state);
        work.record(source.mark(step)).await?;
    }
    Ok(Ok(()))
}

async fn user_id_changed(
    work: &mut Work,
    org: i64,
    message: &InboundMessage,
    system: &SystemEvent,
    source: &WebhookSource<'_>,
) -> AppResult<Result<(), Unmatched>> {
    let Some(new) = system.new_user_id() else {
        return Ok(Err(
            "a `user_changed_user_id` system message without the new `user_id`".to_owned(),
        ));
    };
    let Some(identity) = subject(work, org, message, system).await? else {
        return Ok(Err(
            "a `user_changed_user_id` system message for a WhatsApp user no identity matches \
             (no `from`, and its previous business-scoped user id is unknown)"
                .to_owned(),
        ));
    };
    if let Some(holder) = work.store.identity_by_user_id(org, new).await? {
        if holder.phone_e164 != identity.phone_e164 {
            return Ok(Err(format!(
                "the new business-scoped user id {new} already belongs to the WhatsApp identity of {}",
                holder.phone_e164
            )));
        }
    }
    let changed = WhatsAppIdentity {
        phone_e164: identity.phone_e164.clone(),
        // No number comes with this change: the old one may no longer be theirs.
        wa_number: message.sender_number(),
        user_id: Some(new.to_owned()),
    };
    work.store.save_identity(org, &changed, work.now).await?;
    let detail = json!({
        "previous_user_id": system.previous_user_id().or(identity.user_id.as_deref()),
        "user_id": new,
        "previous_number": identity.wa_number, "number": changed.wa_number,
        "provider_message_id": message.id, "system_body": system.body,
    });
    let step = NewEvidence::new(
        org,
        &identity.phone_e164,
        None,
        EvidenceKind::UserIdChanged,
        Cause::Contact,
        detail,
        work.now,
    );
    work.record(source.mark(step)).await?;
    Ok(Ok(()))
}
