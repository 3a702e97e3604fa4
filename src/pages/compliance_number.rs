//! Compliance: one number's whole story. Its state and who holds it, every
//! step of its consent record (with raw evidence on demand), every message
//! with it (any advisor, both channels), its record as a download, and its
//! evidence bundle (a zip an auditor checks with standard tools).
//! Refetched when the live stream names the number.

use leptos::prelude::*;
use optin_core::api::ConsentView;
use optin_core::compliance::NumberTimeline;

use crate::api::{Api, ClientError, Subject};
use crate::components::consent_badge::ConsentBadge;
use crate::components::conversation::Conversation;
use crate::components::download::{DownloadButton, DownloadButtons};
use crate::components::evidence_timeline::EvidenceTimeline;
use crate::components::legal_hold::LegalHoldCard;
use crate::components::revocation::{RecordRevocation, RevocationNotice, StopFlags};
use crate::fetched::Fetched;
use crate::live::Live;
use crate::route::{Link, Route};
use crate::time::{local_now, ServerClock};

/// A 404 reads better as "not found" than as the service's generic sentence.
fn load_error_text(error: &ClientError) -> String {
    match error {
        ClientError::Refused { status: 404, .. } => {
            "This number is not in your organization's record.".to_owned()
        }
        other => other.to_string(),
    }
}

/// The timeline screen of `phone` (E.164).
#[component]
pub fn ComplianceNumberPage(
    /// The number, E.164.
    phone: String,
    /// The person is compliance: may record a revocation and decide flagged messages.
    #[prop(optional)]
    can_act: bool,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let live = expect_context::<Live>();
    let refresh = RwSignal::new(0u64);
    let timeline = Fetched::new({
        let api = api.clone();
        let phone = phone.clone();
        move || {
            live.revision_of(&phone);
            refresh.track();
            let (api, phone) = (api.clone(), phone.clone());
            async move { api.compliance_number(&phone).await }
        }
    });
    // Keep the last good answer on screen while a refetch runs or fails.
    let shown = RwSignal::new(None::<(NumberTimeline, ServerClock)>);
    let error = RwSignal::new(None::<ClientError>);
    Effect::new(move |_| match timeline.get() {
        Some(Ok(t)) => {
            let clock = ServerClock::read(t.snapshot.now);
            shown.set(Some((t, clock)));
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let now = Memo::new(move |_| {
        shown
            .with(|s| s.as_ref().map(|(_, clock)| clock.now()))
            .unwrap_or_else(local_now)
    });
    let with = move |f: fn(&NumberTimeline) -> String| {
        move || shown.with(|s| s.as_ref().map(|(t, _)| f(t)).unwrap_or_default())
    };
    let state = Signal::derive(move || {
        shown
            .with(|s| s.as_ref().map(|(t, _)| t.summary.state))
            .unwrap_or(ConsentView::None)
    });
    let events = Signal::derive(move || {
        shown
            .with(|s| s.as_ref().map(|(t, _)| t.events.clone()))
            .unwrap_or_default()
    });
    let messages = Signal::derive(move || {
        shown
            .with(|s| s.as_ref().map(|(t, _)| t.messages.clone()))
            .unwrap_or_default()
    });
    let holders = move || {
        shown.with(|s| {
            s.as_ref()
                .map(|(t, _)| t.summary.holders.clone())
                .unwrap_or_default()
        })
    };
    let loaded = Memo::new(move |_| shown.with(Option::is_some));
    let title = {
        let phone = phone.clone();
        move || {
            shown.with(|s| {
                s.as_ref()
                    .map(|(t, _)| t.summary.display_phone.clone())
                    .unwrap_or_else(|| phone.clone())
            })
        }
    };
    let downloads = {
        let (api, phone) = (api.clone(), phone.clone());
        move |format| {
            let (api, phone) = (api.clone(), phone.clone());
            async move { api.compliance_record(&phone, format).await }
        }
    };
    let bundle = {
        let phone = phone.clone();
        move || {
            let (api, phone) = (api.clone(), phone.clone());
            async move { api.compliance_bundle(&phone).await }
        }
    };

    view! {
        <article class="screen" aria-labelledby="screen-title">
            <header class="screen-head screen-head--number">
                <Link to=Route::Compliance class="back-link" label="Back to all numbers">
                    <span aria-hidden="true">"←"</span>
                    <span class="back-link__text">"Numbers"</span>
                </Link>
                <div class="screen-head__text">
                    <h2 id="screen-title" tabindex="-1" data-page-title>{title}</h2>
                    <span class="screen-head__phone">{with(|t| t.summary.phone.clone())}</span>
                </div>
                <Show when=move || loaded.get()>
                    <ConsentBadge state=state/>
                </Show>
            </header>
            <div class="live-slot" role="status">
                {move || (!loaded.get() && error.with(Option::is_none)).then(|| view! { <p class="muted">"Loading…"</p> })}
            </div>
            <p class="error" role="alert">{move || error.get().map(|e| load_error_text(&e))}</p>
            <Show when=move || loaded.get()>
                <section class="card holders" aria-labelledby="holders-title">
                    <h3 id="holders-title" class="card__title">"Held by"</h3>
                    {move || {
                        let holders = holders();
                        if holders.is_empty() {
                            view! { <p class="muted">"No advisor has this number in their contacts."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="holders__list">
                                    {holders.into_iter().map(|h| view! {
                                        <li><span class="holders__contact">{h.contact_name}</span>" · "{h.advisor_name}</li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }}
                    {move || shown.with(|s| s.as_ref().is_some_and(|(t, _)| t.summary.sms_opted_out && t.snapshot.revocation.is_none())).then(|| view! {
                        <p class="holders__note">"The contact sent STOP by SMS: no SMS may be sent."</p>
                    })}
                    {move || shown.with(|s| s.as_ref().and_then(|(t, _)| t.snapshot.revocation.clone())).map(|revocation| view! {
                        <div class="holders__note">
                            <p>"Consent revoked: no advisor may message this number."</p>
                            <RevocationNotice revocation now/>
                        </div>
                    })}
                    <DownloadButtons prefix="Download record" fetch=downloads.clone()/>
                </section>
                <section class="card bundle" aria-labelledby="bundle-title">
                    <h3 id="bundle-title" class="card__title">"Evidence bundle"</h3>
                    <p id="bundle-intro" class="muted card__intro">
                        "One zip for an auditor: this number's record, the raw webhooks with their signatures, the signed checkpoint that covers them and the public key, with VERIFY.md saying how to check it with sha256sum and openssl."
                    </p>
                    <DownloadButton label="Download evidence bundle" described_by="bundle-intro" fetch=bundle.clone()/>
                </section>
                {can_act.then(|| {
                    let changed = Callback::new(move |_| refresh.update(|n| *n += 1));
                    view! {
                        <StopFlags
                            subject=Subject::Number(phone.clone())
                            flags=Signal::derive(move || shown.with(|s| s.as_ref().map(|(t, _)| t.snapshot.stop_flags.clone()).unwrap_or_default()))
                            now=now
                            on_changed=changed
                        />
                        <RecordRevocation subject=Subject::Number(phone.clone()) now=now on_recorded=changed/>
                    }
                })}
                <LegalHoldCard phone=phone.clone() can_act=can_act now=now/>
                <section class="card timeline-card" aria-labelledby="timeline-title">
                    <h3 id="timeline-title" class="card__title">"Evidence timeline"</h3>
                    <p class="muted card__intro">"Every step of the consent record, oldest first, as the hash chain keeps it."</p>
                    <EvidenceTimeline events now=now/>
                </section>
                <section class="card thread" aria-labelledby="messages-title">
                    <h3 id="messages-title" class="thread__title">"Messages (every advisor, WhatsApp and SMS)"</h3>
                    <Conversation messages now=now empty_text="No messages with this number." label="Messages" outgoing_who="Advisor"/>
                </section>
            </Show>
        </article>
    }
}
