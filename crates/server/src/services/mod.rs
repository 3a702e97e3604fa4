//! The service layer, by job: [`optin`] (requests and resends), [`sending`]
//! (messages the advisor writes), [`inbound`] (what contacts send) and
//! [`delivery`] (what providers say about our messages); [`evidence_bundle`]
//! writes a number's evidence bundle. Each operation
//! loads through one [`Work`], decides with `optin_core`, saves, and commits
//! once; live events go out and the outbox wakes only after the commit.

pub mod delivery;
pub mod evidence_bundle;
pub mod identities;
pub mod inbound;
pub mod ingest;
pub mod optin;
pub mod provisioning;
pub mod retention;
pub mod revocation;
pub mod sending;
pub mod signals;
pub mod templates;
pub mod texts;

use chrono::{DateTime, Utc};
use optin_core::api::ConsentSnapshot;
use optin_core::consent::{apply, ConsentEvent, IllegalTransition, Transition};
use optin_core::vocab::EvidenceKind;
use optin_core::window::service_window;

use crate::error::{AppError, AppResult};
use crate::live::Published;
use crate::store::auth::AdvisorIdentity;
use crate::store::consent::ConsentRecord;
use crate::store::contacts::ContactRef;
use crate::store::evidence::{NewEvidence, ReceivedWebhook};
use crate::store::messages::NewMessage;
use crate::store::UnitOfWork;
use crate::AppState;

pub use sending::OutboundPayload;

/// What a [`Work`] had announced at a savepoint.
pub(crate) struct Mark {
    published: usize,
    wake_outbox: bool,
}

/// One unit of work at one instant, plus what to announce after it commits.
pub struct Work {
    pub store: UnitOfWork,
    pub now: DateTime<Utc>,
    published: Vec<Published>,
    wake_outbox: bool,
}

impl Work {
    /// Starts a write transaction at the service clock's current time.
    pub async fn begin(state: &AppState) -> AppResult<Self> {
        Ok(Self {
            store: state.store.begin_write().await?,
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
            event.state_after,
        );
        let id = self.store.append_evidence(event).await?;
        self.published.push(Published {
            organization_id,
            event: optin_core::api::LiveEvent {
                id,
                kind,
                phone,
                state,
            },
        });
        Ok(id)
    }

    /// Appends a step, marked with the webhook it came from when there is one.
    pub(crate) async fn record_from(
        &mut self,
        evidence: NewEvidence,
        source: Option<&WebhookSource<'_>>,
    ) -> AppResult<i64> {
        self.record(match source {
            Some(source) => source.mark(evidence),
            None => evidence,
        })
        .await
    }

    /// Stores an outbound message and its outbox job. A WhatsApp send goes
    /// to the person's WhatsApp identity as Meta documents it (by number, or
    /// by BSUID when WhatsApp withholds the number).
    pub async fn send(
        &mut self,
        message: NewMessage<'_>,
        payload: OutboundPayload,
    ) -> AppResult<i64> {
        let payload = match payload {
            OutboundPayload::Whatsapp { message: send } => {
                let (org, phone) = (message.organization_id, message.phone);
                OutboundPayload::Whatsapp {
                    message: match identities::addressee(self, org, phone).await? {
                        Some(addressee) => send.addressed_to(&addressee),
                        None => send,
                    },
                }
            }
            other => other,
        };
        let id = self.store.insert_message(message, self.now).await?;
        let payload = serde_json::to_string(&payload).expect("payload serializes");
        self.store.enqueue(id, &payload, self.now).await?;
        self.wake_outbox = true;
        Ok(id)
    }

    /// Marks the point [`Work::undo`] returns to (a savepoint), for one
    /// webhook of a batch.
    pub(crate) async fn mark(&mut self) -> AppResult<Mark> {
        self.store.savepoint().await?;
        Ok(Mark {
            published: self.published.len(),
            wake_outbox: self.wake_outbox,
        })
    }

    /// Keeps what was done since `mark`.
    pub(crate) async fn keep(&mut self, _mark: Mark) -> AppResult<()> {
        Ok(self.store.release_savepoint().await?)
    }

    /// Undoes what was done since `mark`, its announcements included. An
    /// error means the transaction itself is gone.
    pub(crate) async fn undo(&mut self, mark: Mark) -> AppResult<()> {
        self.store.rollback_to_savepoint().await?;
        self.published.truncate(mark.published);
        self.wake_outbox = mark.wake_outbox;
        Ok(())
    }

    /// Commits, then publishes and wakes the outbox. With several
    /// instances (PostgreSQL) the events are announced in the transaction
    /// instead: every instance's relay publishes them once it commits.
    pub async fn commit(mut self, state: &AppState) -> AppResult<()> {
        let relayed = state.store.relays_live();
        if relayed {
            for published in &self.published {
                let payload = serde_json::to_string(published).expect("live events serialize");
                self.store.announce_live(&payload).await?;
            }
        }
        self.store.commit().await?;
        if !relayed {
            for published in self.published {
                state.live.publish(published);
            }
        }
        if self.wake_outbox {
            state.outbox_wake.notify_one();
        }
        Ok(())
    }

    /// A unit of work on one of the advisor's contacts and its number's consent.
    async fn begin_for_contact(
        state: &AppState,
        advisor: &AdvisorIdentity,
        contact_id: i64,
    ) -> AppResult<(Self, ContactRef, ConsentRecord)> {
        let mut work = Self::begin(state).await?;
        let contact = work.contact_of(advisor, contact_id).await?;
        let record = work
            .store
            .consent(advisor.organization_id, &contact.phone_e164)
            .await?;
        Ok((work, contact, record))
    }

    /// One of the advisor's contacts (a 404 for anyone else's).
    async fn contact_of(
        &mut self,
        advisor: &AdvisorIdentity,
        contact_id: i64,
    ) -> AppResult<ContactRef> {
        self.store
            .advisor_contact(advisor.advisor_id, contact_id)
            .await?
            .ok_or(AppError::NotFound("That contact"))
    }

    /// Refuses unless the organization allows WhatsApp.
    async fn require_whatsapp(&mut self, organization_id: i64) -> AppResult<()> {
        if self.store.whatsapp_enabled(organization_id).await? {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                code: "whatsapp_disabled",
                message: "WhatsApp messaging is turned off for your organization.".into(),
            })
        }
    }
}

/// Where a webhook item came from, kept as evidence.
pub struct WebhookSource<'a> {
    pub webhook: &'a ReceivedWebhook,
    pub provider_time: Option<DateTime<Utc>>,
}

impl WebhookSource<'_> {
    /// Marks a step as coming from this (verified) webhook.
    pub fn mark(&self, evidence: NewEvidence) -> NewEvidence {
        evidence.from_webhook(self.webhook, self.provider_time)
    }
}

/// A consent change: the number, its record (updated in place) and what is
/// kept as evidence.
pub(crate) struct ConsentStep<'a, 'b> {
    pub organization_id: i64,
    pub phone: &'a str,
    pub record: &'a mut ConsentRecord,
    pub event: ConsentEvent,
    pub kind: EvidenceKind,
    pub advisor_id: Option<i64>,
    pub detail: serde_json::Value,
    pub source: Option<&'a WebhookSource<'b>>,
}

/// Applies a consent event with core's rules, saves the result and records it.
pub(crate) async fn transition(
    work: &mut Work,
    step: ConsentStep<'_, '_>,
) -> AppResult<Transition> {
    let t = apply(&step.record.status, &step.event, work.now).map_err(refused)?;
    step.record.status = t.status.clone();
    work.store
        .save_consent(step.organization_id, step.phone, step.record, work.now)
        .await?;
    let evidence = NewEvidence::new(
        step.organization_id,
        step.phone,
        step.advisor_id,
        step.kind,
        t.cause,
        step.detail,
        work.now,
    )
    .with_state(t.status.state);
    work.record_from(evidence, step.source).await?;
    Ok(t)
}

/// An advisor action the consent rules refuse, as an API error.
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

/// The advisor's view of a number's consent at `now`.
/// Logs that `person` read or took away records, before they are handed
/// over: an access that cannot be logged is refused (503), never served
/// without its trace.
pub async fn log_access(
    state: &AppState,
    person: &AdvisorIdentity,
    kind: optin_core::vocab::AccessKind,
    phone: Option<&str>,
    detail: Option<String>,
) -> AppResult<()> {
    let access = crate::store::access::NewAccess {
        person,
        kind,
        phone,
        detail,
    };
    Ok(state.store.log_access(access, state.clock.now()).await?)
}

pub fn snapshot(phone: &str, record: &ConsentRecord, now: DateTime<Utc>) -> ConsentSnapshot {
    let status = &record.status;
    ConsentSnapshot {
        phone: phone.to_owned(),
        state: status.view(now),
        requested_at: status.requested_at,
        last_request_at: status.last_request_at,
        resend_allowed_at: status.resend_allowed_at(),
        answered_at: status.answered_at,
        failure_code: status.last_failure.and_then(|f| f.code),
        service_window_closes_at: service_window(record.last_inbound_at, now).closes_at(),
        sms_opted_out: record.sms_opted_out,
        marketing_stopped_at: record.marketing_stopped_at,
        now,
        // Filled by `revocation::annotate` where the screens need them.
        revocation: None,
        stop_flags: Vec::new(),
    }
}
