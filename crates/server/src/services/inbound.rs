//! What providers deliver to our webhooks, applied in one unit of work per
//! webhook: each item once (re-deliveries are skipped by their receipt key),
//! routed to the organization that owns the business number.
//!
//! From contacts: Yes/No taps (attributed to the request they answer), the
//! keywords of [`optin_core::keywords`] in every supported language, and
//! SMS STOP/START (the provider's lists). A consent change is confirmed to
//! the contact with the texts of [`super::texts`], in the contact's language
//! (by SMS, once per STOP). Text without a keyword that reads as a request
//! to stop is flagged for a person ([`super::revocation`]), never applied here.

use optin_core::consent::{ConsentEvent, ConsentState};
use optin_core::keywords::{classify, classify_sms, Keyword};
use optin_core::sms::{SmsInbound, SmsStatusCallback};
use optin_core::vocab::{
    Cause, Channel, Direction, ErrorCode, EvidenceKind, MessageStatus, Purpose,
};
use optin_core::whatsapp::{
    InboundKind, InboundMessage, OptInAnswer, OptInPayload, SendMessage, StatusUpdate, WebhookItems,
};
use serde_json::json;

use super::delivery::{self, StatusReport};
use super::identities;
use super::ingest::Provider;
use super::revocation::{self, FlaggedMessage};
use super::{texts, transition, ConsentStep, OutboundPayload, WebhookSource, Work};
use crate::error::AppResult;
use crate::providers::sms::SmsWebhook;
use crate::store::evidence::{NewEvidence, ReceivedWebhook};
use crate::store::messages::{MessageError, NewMessage};
use crate::store::reviews::NewReview;
use crate::AppState;

/// Applies a verified WhatsApp webhook body, in a group commit with others
/// arriving together (see [`super::ingest`]). Never refuses it: what cannot
/// be read is kept for review (with the reason) and the rest is applied.
pub async fn apply_whatsapp(state: &AppState, webhook: ReceivedWebhook) -> AppResult<()> {
    super::ingest::apply(state, Provider::WhatsApp, webhook).await
}

/// Applies a signed WhatsApp body, read as `items`, within `work` (a
/// batch's transaction or savepoint).
pub(super) async fn apply_whatsapp_in(
    work: &mut Work,
    webhook: &ReceivedWebhook,
    items: &WebhookItems,
) -> AppResult<()> {
    // When the body names one business number, its unreadable parts are that
    // organization's (its compliance reviews them); otherwise the operator's.
    let owner = match only_business_number(items) {
        Some(number) => work.store.organization_by_whatsapp_number(number).await?,
        None => None,
    };
    for part in &items.unreadable {
        keep_for_review(
            work,
            Channel::Whatsapp,
            owner,
            None,
            &part.reason,
            &part.item.to_string(),
            webhook,
        )
        .await?;
    }
    for signal in &items.signals {
        super::signals::apply(work, signal, webhook).await?;
    }
    for change in &items.changes {
        let phone_number_id = &change.metadata.phone_number_id;
        let Some(org) = work
            .store
            .organization_by_whatsapp_number(phone_number_id)
            .await?
        else {
            let item = serde_json::json!({
                "metadata": change.metadata, "messages": change.messages, "statuses": change.statuses,
            });
            let reason =
                format!("the business number {phone_number_id} belongs to no organization");
            keep_for_review(
                work,
                Channel::Whatsapp,
                None,
                Some(phone_number_id),
                &reason,
                &item.to_string(),
                webhook,
            )
            .await?;
            continue;
        };
        // Every number seen with its BSUID teaches the identity first, so
        // that a BSUID-only item of the same body is matched.
        let pairs = change
            .contacts
            .iter()
            .filter_map(|c| c.number_and_user_id())
            .chain(
                change
                    .statuses
                    .iter()
                    .filter_map(|s| s.recipient_number_and_user_id()),
            );
        for (number, user_id) in pairs {
            identities::learn(work, org, &number, user_id).await?;
        }
        for status in &change.statuses {
            if !work
                .store
                .first_receipt(&status_key(status), work.now)
                .await?
            {
                continue;
            }
            let source = WebhookSource {
                webhook,
                provider_time: status.at(),
            };
            let known = match delivery::whatsapp_report(status) {
                Some(report) => delivery::apply_status(work, report, &source).await?,
                None => true,
            };
            if !known {
                let json = serde_json::to_string(status).expect("statuses serialize");
                work.store
                    .park_status(&status.id, &json, webhook, work.now)
                    .await?;
            }
        }
        for message in &change.messages {
            if !work
                .store
                .first_receipt(&message_key(message), work.now)
                .await?
            {
                continue;
            }
            let source = WebhookSource {
                webhook,
                provider_time: message.sent_at(),
            };
            // A sender that is not a number or a BSUID is never stored as one.
            let applied = if let Some(reason) = message.unusable_sender() {
                Err(reason)
            } else if message.kind == InboundKind::System {
                identities::apply_system(work, org, message, &source).await?
            } else {
                match identities::sender(work, org, message).await? {
                    Ok(phone) => {
                        apply_whatsapp_message(work, org, &phone, message, &source).await?;
                        Ok(())
                    }
                    Err(reason) => Err(reason),
                }
            };
            if let Err(reason) = applied {
                let item = serde_json::to_string(message).expect("messages serialize");
                keep_for_review(
                    work,
                    Channel::Whatsapp,
                    Some(org),
                    None,
                    &reason,
                    &item,
                    webhook,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// The receipt keys of a body's statuses and messages, by which each is
/// applied once (a batch claims them together: see `ingest`).
pub(super) fn receipt_keys(items: &WebhookItems) -> impl Iterator<Item = String> + '_ {
    items.changes.iter().flat_map(|change| {
        let statuses = change.statuses.iter().map(status_key);
        statuses.chain(change.messages.iter().map(message_key))
    })
}

/// Adds to `senders` the organization and number of each message of a
/// body, as far as they can be told before applying it: a batch reads
/// their consents ahead (one it misses is read when its message applies).
pub(super) async fn senders(
    work: &mut Work,
    items: &WebhookItems,
    senders: &mut Vec<(i64, String)>,
) -> AppResult<()> {
    for change in &items.changes {
        let number = &change.metadata.phone_number_id;
        let Some(org) = work.store.organization_by_whatsapp_number(number).await? else {
            continue;
        };
        let numbers = change
            .messages
            .iter()
            .filter_map(InboundMessage::sender_number);
        senders.extend(numbers.map(|number| (org, number)));
    }
    Ok(())
}

/// A status is applied once per message and status (Meta sends each again).
fn status_key(status: &StatusUpdate) -> String {
    format!("wa:status:{}:{}", status.id, status.status.as_str())
}

fn message_key(message: &InboundMessage) -> String {
    format!("wa:msg:{}", message.id)
}

/// The business number (phone number id) of every readable change of a
/// body, when they all name the same one.
fn only_business_number(items: &WebhookItems) -> Option<&str> {
    let mut numbers = items
        .changes
        .iter()
        .map(|change| change.metadata.phone_number_id.as_str());
    let first = numbers.next()?;
    numbers.all(|number| number == first).then_some(first)
}

/// Keeps a part of a signed webhook that was not understood, once (the
/// provider retries whole bodies), and says so in the log.
pub(super) async fn keep_for_review(
    work: &mut Work,
    provider: Channel,
    organization_id: Option<i64>,
    business_number: Option<&str>,
    reason: &str,
    item: &str,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    use sha2::{Digest, Sha256};
    let key = format!(
        "review:{provider}:{}",
        hex::encode(Sha256::digest(item.as_bytes()))
    );
    if !work.store.first_receipt(&key, work.now).await? {
        return Ok(());
    }
    let id = work
        .store
        .keep_for_review(
            NewReview {
                provider,
                organization_id,
                reason,
                business_number,
                item,
                webhook,
            },
            work.now,
        )
        .await?;
    tracing::warn!(review = id, %provider, reason, "webhook part kept for review");
    Ok(())
}

/// Applies one inbound WhatsApp message from the contact of
/// `organization_id` whose consent is keyed by `phone`.
async fn apply_whatsapp_message(
    work: &mut Work,
    organization_id: i64,
    phone: &str,
    message: &InboundMessage,
    source: &WebhookSource<'_>,
) -> AppResult<()> {
    let phone = phone.to_owned();
    let org = organization_id;
    // Any message from the contact, a button tap included, opens the 24-hour window.
    let sent_at = source.provider_time.unwrap_or(work.now);
    let (mut record, last_requesting_advisor) = work
        .store
        .note_inbound(org, &phone, sent_at, work.now)
        .await?;

    let payload = message.button_payload().and_then(OptInPayload::parse);
    // What the advisor reads; keywords only from what the contact typed or tapped.
    let text = message.display_text();
    let words = message.words().unwrap_or_default();
    // Taps are attributed to the request they answer (and its advisor).
    let request = match &payload {
        Some(p) => work
            .store
            .opt_in_request_advisor(&p.request_id, org, &phone)
            .await?
            .map(|advisor| (p.request_id.as_str(), advisor)),
        None => None,
    };
    let advisor_id = match request {
        Some((_, advisor)) => Some(advisor),
        None => last_requesting_advisor,
    };
    let message_id = work
        .store
        .insert_message(
            NewMessage {
                organization_id: org,
                phone: &phone,
                channel: Channel::Whatsapp,
                direction: Direction::In,
                purpose: Purpose::Message,
                advisor_id,
                opt_in_request_id: request.map(|r| r.0),
                template: None,
                body: &text,
                provider_message_id: Some(&message.id),
                status: MessageStatus::Received,
            },
            work.now,
        )
        .await?;
    let detail = json!({
        "provider_message_id": message.id, "type": message.kind, "text": text,
        "button_payload": message.button_payload(), "context_message_id": message.context.as_ref().map(|c| c.id.clone()),
        "request_id": request.map(|r| r.0),
    });
    let consent_event = match (&payload, request) {
        (Some(p), Some(_)) => Some(match p.answer {
            OptInAnswer::Yes => (ConsentEvent::TappedYes, EvidenceKind::Accepted),
            OptInAnswer::No => (ConsentEvent::TappedNo, EvidenceKind::Rejected),
        }),
        // A tap on a button we did not send (unknown request): evidence only.
        (Some(_), None) => None,
        (None, _) => classify(words).and_then(|k| {
            let kind = match k {
                Keyword::OptIn => EvidenceKind::KeywordOptIn,
                Keyword::OptOut => EvidenceKind::KeywordOptOut,
                Keyword::Decline => EvidenceKind::KeywordDecline,
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
            EvidenceKind::MessageIn,
            Cause::Contact,
            detail,
            work.now,
        );
        work.record(source.mark(evidence)).await?;
        // Plain words may still ask to stop: flagged for a person, never applied here.
        if payload.is_none() {
            let message = FlaggedMessage {
                organization_id: org,
                phone: &phone,
                channel: Channel::Whatsapp,
                message_id,
                text: words,
                advisor_id,
            };
            revocation::flag_if_stop_request(work, message, source).await?;
        }
        return Ok(());
    };
    let t = transition(
        work,
        ConsentStep {
            organization_id: org,
            phone: &phone,
            record: &mut record,
            event,
            kind,
            advisor_id,
            detail,
            source: Some(source),
        },
    )
    .await?;
    if t.state_changed() {
        let (org_name, advisor_name) = work.store.sender_names(org, advisor_id).await?;
        let language = work.store.number_language(org, &phone, advisor_id).await?;
        let (purpose, body) = match t.status.state {
            ConsentState::OptedIn => (
                Purpose::Confirmation,
                texts::opt_in_confirmation(language, &org_name, advisor_name.as_deref()),
            ),
            ConsentState::OptedOut => (
                Purpose::OptOutNotice,
                texts::opt_out_notice(language, &org_name),
            ),
            _ => return Ok(()),
        };
        work.send(
            NewMessage {
                organization_id: org,
                phone: &phone,
                channel: Channel::Whatsapp,
                direction: Direction::Out,
                purpose,
                advisor_id,
                opt_in_request_id: None,
                template: None,
                body: &body,
                provider_message_id: None,
                status: MessageStatus::Queued,
            },
            OutboundPayload::Whatsapp {
                message: SendMessage::text(&phone, body.clone()),
            },
        )
        .await?;
    }
    Ok(())
}

/// Applies a verified SMS webhook (a status callback or an inbound SMS);
/// a form that is neither is kept for review, never refused.
pub async fn apply_sms(state: &AppState, webhook: ReceivedWebhook) -> AppResult<()> {
    super::ingest::apply(state, Provider::Sms, webhook).await
}

/// Applies a signed SMS form within `work` (a batch's savepoint).
pub(super) async fn apply_sms_in(work: &mut Work, webhook: &ReceivedWebhook) -> AppResult<()> {
    let body = webhook.body.as_bytes();
    match SmsWebhook::parse(body) {
        Ok((SmsWebhook::Status(status), _)) => apply_sms_status(work, &status, webhook).await?,
        Ok((SmsWebhook::Inbound(inbound), _)) => {
            let key = format!("sms:msg:{}", inbound.message_sid);
            match work.store.organization_by_sms_number(&inbound.to).await? {
                // A sender that is not a phone number is never stored as one.
                Some(org) if !inbound.from_is_e164() => {
                    let reason = format!(
                        "the sender {:?} is not a phone number in E.164 form",
                        inbound.from
                    );
                    keep_for_review(
                        work,
                        Channel::Sms,
                        Some(org),
                        None,
                        &reason,
                        &webhook.body,
                        webhook,
                    )
                    .await?;
                }
                Some(org) => {
                    if work.store.first_receipt(&key, work.now).await? {
                        apply_sms_inbound(work, org, &inbound, webhook).await?;
                    }
                }
                None => {
                    let reason = format!("the number {} belongs to no organization", inbound.to);
                    let to = Some(inbound.to.as_str());
                    keep_for_review(
                        work,
                        Channel::Sms,
                        None,
                        to,
                        &reason,
                        &webhook.body,
                        webhook,
                    )
                    .await?;
                }
            }
        }
        Err(e) => {
            let reason = format!("not an SMS webhook: {e}");
            // Sent to an organization's number: its compliance reviews it.
            let to = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .ok()
                .and_then(|pairs| pairs.into_iter().find(|(name, _)| name == "To"))
                .map(|(_, to)| to);
            let owner = match to {
                Some(to) => work.store.organization_by_sms_number(&to).await?,
                None => None,
            };
            keep_for_review(
                work,
                Channel::Sms,
                owner,
                None,
                &reason,
                &webhook.body,
                webhook,
            )
            .await?;
        }
    }
    Ok(())
}

async fn apply_sms_status(
    work: &mut Work,
    status: &SmsStatusCallback,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    let key = format!(
        "sms:status:{}:{}",
        status.message_sid,
        status.message_status.as_str()
    );
    if !work.store.first_receipt(&key, work.now).await? {
        return Ok(());
    }
    let Some(new_status) = status.message_status.message_status() else {
        return Ok(());
    };
    let code = status.error_code.and_then(ErrorCode::from_provider);
    let report = StatusReport {
        channel: Channel::Sms,
        provider_message_id: &status.message_sid,
        status: new_status,
        error: status.error_code.map(|_| MessageError {
            code,
            title: code
                .and_then(ErrorCode::title)
                .unwrap_or("SMS not delivered"),
        }),
        callback_data: None,
    };
    let source = WebhookSource {
        webhook,
        provider_time: None,
    };
    // An unknown SMS id is not parked: SMS answers the send before any status.
    delivery::apply_status(work, report, &source).await?;
    Ok(())
}

/// Inbound SMS: the provider's opt-out and opt-in keywords switch SMS off and on.
async fn apply_sms_inbound(
    work: &mut Work,
    org: i64,
    inbound: &SmsInbound,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    let phone = inbound.from.as_str();
    let mut record = work.store.consent(org, phone).await?;
    let was_opted_out = record.sms_opted_out;
    // Twilio's keyword lists, not WhatsApp's: see `classify_sms`.
    let keyword = classify_sms(&inbound.body);
    let kind = match keyword {
        Some(Keyword::OptOut) => {
            record.sms_opted_out = true;
            EvidenceKind::SmsOptOut
        }
        Some(Keyword::OptIn) => {
            record.sms_opted_out = false;
            EvidenceKind::SmsOptIn
        }
        _ => EvidenceKind::SmsIn,
    };
    work.store
        .save_consent(org, phone, &record, work.now)
        .await?;
    let message_id = work
        .store
        .insert_message(
            NewMessage {
                organization_id: org,
                phone,
                channel: Channel::Sms,
                direction: Direction::In,
                purpose: Purpose::Message,
                advisor_id: None,
                opt_in_request_id: None,
                template: None,
                body: &inbound.body,
                provider_message_id: Some(&inbound.message_sid),
                status: MessageStatus::Received,
            },
            work.now,
        )
        .await?;
    let detail = json!({"provider_message_id": inbound.message_sid, "text": inbound.body, "sms_opted_out": record.sms_opted_out});
    let evidence = NewEvidence::new(org, phone, None, kind, Cause::Contact, detail, work.now);
    work.record(evidence.from_webhook(webhook, None)).await?;
    match keyword {
        Some(Keyword::Help) if !record.sms_opted_out => send_sms_help(work, org, phone).await?,
        // One confirmation, only when STOP changed something (not on a repeat).
        Some(Keyword::OptOut) if !was_opted_out => {
            send_sms_opt_out_confirmation(work, org, phone, webhook).await?
        }
        None => {
            let source = WebhookSource {
                webhook,
                provider_time: None,
            };
            let message = FlaggedMessage {
                organization_id: org,
                phone,
                channel: Channel::Sms,
                message_id,
                text: &inbound.body,
                advisor_id: None,
            };
            revocation::flag_if_stop_request(work, message, &source).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The one confirmation SMS after STOP (no marketing: who, and how to come
/// back), recorded as evidence. Carriers allow it within 5 minutes.
async fn send_sms_opt_out_confirmation(
    work: &mut Work,
    org: i64,
    phone: &str,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    let body = texts::sms_opt_out_confirmation(&work.store.sender_names(org, None).await?.0);
    let id = work
        .send(
            NewMessage {
                organization_id: org,
                phone,
                channel: Channel::Sms,
                direction: Direction::Out,
                purpose: Purpose::OptOutNotice,
                advisor_id: None,
                opt_in_request_id: None,
                template: None,
                body: &body,
                provider_message_id: None,
                status: MessageStatus::Queued,
            },
            OutboundPayload::Sms {
                to: phone.to_owned(),
                body: body.clone(),
            },
        )
        .await?;
    let detail = json!({"message_id": id, "channel": Channel::Sms, "purpose": Purpose::OptOutNotice, "rendered_text": body});
    let evidence = NewEvidence::new(
        org,
        phone,
        None,
        EvidenceKind::SmsOptOutConfirmation,
        Cause::Contact,
        detail,
        work.now,
    );
    work.record(evidence.from_webhook(webhook, None)).await?;
    Ok(())
}

/// Answers HELP / INFO by SMS with the organization's text (or the standard one).
async fn send_sms_help(work: &mut Work, org: i64, phone: &str) -> AppResult<()> {
    let body = match work.store.sms_help_text(org).await? {
        Some(text) => text,
        None => texts::sms_help(&work.store.sender_names(org, None).await?.0),
    };
    work.send(
        NewMessage {
            organization_id: org,
            phone,
            channel: Channel::Sms,
            direction: Direction::Out,
            purpose: Purpose::HelpReply,
            advisor_id: None,
            opt_in_request_id: None,
            template: None,
            body: &body,
            provider_message_id: None,
            status: MessageStatus::Queued,
        },
        OutboundPayload::Sms {
            to: phone.to_owned(),
            body: body.clone(),
        },
    )
    .await?;
    Ok(())
}
