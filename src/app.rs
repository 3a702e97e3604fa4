use leptos::prelude::*;

use crate::api::Api;
use crate::components::session_notice::SessionNotice;
use crate::fetched::Fetched;
use crate::live::{Live, LiveIndicator};
use crate::pages::compliance::{ComplianceFilters, CompliancePage};
use crate::pages::compliance_number::ComplianceNumberPage;
use crate::pages::contact::ContactPage;
use crate::pages::contacts::{ContactsPage, FirstContactsPage, KeptContacts};
use crate::pages::sms::SmsPage;
use crate::pages::SandboxMode;
use crate::route::{use_router, Link, Route, Router};
use crate::session;
use crate::{bridge, bridge::Bridge};
use optin_core::api::Role;
use optin_core::embed::{AppMessage, ContactRef, HostMessage, PROTOCOL_VERSION};

/// The whole app: the advisor's screens with the token it was handed. (The
/// sandbox's phone page is a separate app, `crates/phone-app`, that the
/// service serves at `Route::Phone`'s address in sandbox builds only.)
#[component]
pub fn App() -> impl IntoView {
    let router = Router::from_location();
    provide_context(router);
    // Moving between the advisor's screens keeps the shell (and its live connection).
    let session = session::load_session();
    // No session, or one with a choice to make, was drawn early
    // (`first_screen.js` chooses as `session::choose` does).
    if session.as_ref().is_none_or(|s| s.unused_link.is_some()) {
        crate::first_screen::hand_over();
    }
    match session {
        Some(session) => {
            provide_context(Api::new(session.token));
            let notice = session.unused_link.map(|link| {
                let on_switch = Callback::new(|token: String| session::switch_to(&token));
                view! { <SessionNotice link on_switch/> }
            });
            view! { {notice} <Shell/> }.into_any()
        }
        None if bridge::is_framed() => view! { <Embedded/> }.into_any(),
        None => view! { <SignedOut/> }.into_any(),
    }
}

/// Inside a CRM: waits for the host's session over `postMessage`, then shows
/// the advisor's screens; later sessions renew the token in place.
#[component]
fn Embedded() -> impl IntoView {
    let api = RwSignal::new(None::<Api>);
    let refused = RwSignal::new(false);
    let router = use_router();
    let on_message = move |message: HostMessage| match message {
        HostMessage::Session {
            token,
            expires_at,
            contact,
            theme,
            ..
        } => {
            match api.get_untracked() {
                Some(current) => current.set_token(token),
                None => api.set(Some(Api::new(token))),
            }
            bridge::schedule_renewal(expires_at);
            if let Some(theme) = theme {
                bridge::apply_theme(theme);
            }
            if let Some(contact) = contact {
                open_contact(api, router, contact);
            }
        }
        HostMessage::OpenContact { contact, .. } => open_contact(api, router, contact),
        HostMessage::SetTheme { theme, .. } => bridge::apply_theme(theme),
    };
    leptos::task::spawn_local(async move {
        match Bridge::connect(on_message).await {
            Some(connected) => bridge::install(connected),
            None => {
                let _ = refused.try_set(true);
            }
        }
    });
    move || match api.get() {
        Some(api) => {
            provide_context(api);
            view! { <Shell/> }.into_any()
        }
        None if refused.get() => view! {
            <main class="page page--center">
                <div class="notice" role="alert">
                    <h1>"This page cannot show the app"</h1>
                    <p>"Only your organization's CRM may embed it. Open the app from your CRM."</p>
                </div>
            </main>
        }
        .into_any(),
        None => view! {
            <main class="page page--center">
                <p class="muted" role="status">"Connecting to your CRM…"</p>
            </main>
        }
        .into_any(),
    }
}

/// Opens (or creates) the contact the host names, once signed in.
fn open_contact(api: RwSignal<Option<Api>>, router: crate::route::Router, contact: ContactRef) {
    let Some(api) = api.get_untracked() else {
        return;
    };
    leptos::task::spawn_local(async move {
        match api.open_contact(&contact).await {
            Ok(found) => router.go(Route::Contact(found.id)),
            Err(error) => web_sys::console::warn_1(
                &format!("could not open the CRM's contact: {error}").into(),
            ),
        }
    });
}

/// Header with the advisor's name and the live status, and the current screen.
#[component]
fn Shell() -> impl IntoView {
    let api = expect_context::<Api>();
    let router = use_router();
    let me = Fetched::new({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.me().await }
        }
    });
    provide_context(crate::pages::WhatsAppEnabled(Signal::derive(move || {
        me.get()
            .and_then(Result::ok)
            .is_none_or(|me| me.whatsapp_enabled)
    })));
    provide_context(SandboxMode(Signal::derive(move || {
        me.get().and_then(Result::ok).is_some_and(|me| me.sandbox)
    })));
    let live = Live::new();
    provide_context(live);
    // The contact list is an advisor's first screen: its first page is asked
    // for now, beside `GET /me`. (For compliance, whose first screen it is
    // not, the service refuses it and nothing uses the answer.)
    let first_page = (router.route_untracked() == Route::Contacts).then(|| {
        let first = FirstContactsPage::ask(api.clone(), untrack(|| live.revision()));
        provide_context(first);
        first
    });
    live.connect(api);
    // Tell an embedding CRM when a contact's consent changes.
    Effect::new(move |_| {
        if let Some(event) = live.latest() {
            if let Some(state) = event.state {
                bridge::send(&AppMessage::ConsentChanged {
                    version: PROTOCOL_VERSION,
                    phone: event.phone,
                    state,
                });
            }
        }
    });
    let who = move || {
        me.get().and_then(Result::ok).map(|me| match me.role {
            Role::Advisor => format!("{} · {}", me.advisor_name, me.organization_name),
            Role::Compliance | Role::Admin => format!(
                "{} · {} · {}",
                me.advisor_name,
                me.organization_name,
                crate::labels::role(me.role)
            ),
        })
    };
    // Which screens this person has: nothing is shown until the service says,
    // so an advisor never sees the compliance view, nor compliance an
    // advisor's screens.
    // The contact list is served to advisors only, so its first page, when it
    // answers before `GET /me`, already says this is an advisor: the list
    // is drawn then, and the header's name follows.
    let role = Memo::new(move |_| match me.get() {
        Some(me) => Some(me.map(|me| me.role)),
        None => first_page
            .filter(FirstContactsPage::answered)
            .map(|_| Ok(Role::Advisor)),
    });
    // Kept here, so coming back to a list finds it as it was left.
    provide_context(ComplianceFilters::new());
    provide_context(KeptContacts::default());
    // Keyed by the screen, not the whole route value, so moving between two
    // contacts rebuilds the screen and its data.
    let screen = Memo::new(move |_| router.route());
    // The contact list hands over once drawn (`ContactsPage`); any other
    // screen, or an error, as soon as it shows.
    Effect::new(move |_| match role.get() {
        None => {}
        Some(Ok(Role::Advisor)) if screen.get() == Route::Contacts => {}
        Some(_) => crate::first_screen::hand_over(),
    });
    let wide = move || {
        if matches!(role.get(), Some(Ok(Role::Compliance | Role::Admin))) {
            "page page--wide"
        } else {
            "page"
        }
    };
    view! {
        <header class="topbar">
            <h1 class="topbar__title">"WhatsApp opt-in"</h1>
            <span class="topbar__who">{who}</span>
            <LiveIndicator/>
        </header>
        <main class=wide>
            {move || match role.get() {
                None => view! { <p class="muted" role="status">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                Some(Ok(role)) => screen_for(role, screen.get()),
            }}
        </main>
    }
}

/// The screen `route` shows to someone in `role`.
fn screen_for(role: Role, route: Route) -> AnyView {
    match role {
        Role::Advisor => match route {
            Route::Contacts => view! { <ContactsPage/> }.into_any(),
            Route::Contact(id) => view! { <ContactPage id/> }.into_any(),
            Route::Sms(id) => view! { <SmsPage id/> }.into_any(),
            Route::Compliance | Route::ComplianceNumber(_) | Route::Phone(_) | Route::NotFound => {
                view! { <NotFound home=Route::Contacts/> }.into_any()
            }
        },
        // Read-only and organization-wide: the compliance view is their home.
        Role::Compliance | Role::Admin => match route {
            Route::Contacts | Route::Compliance => view! { <CompliancePage/> }.into_any(),
            Route::ComplianceNumber(phone) => {
                // Compliance records revocations and decides flags; admins only read.
                let can_act = role == Role::Compliance;
                view! { <ComplianceNumberPage phone can_act/> }.into_any()
            }
            Route::Contact(_) | Route::Sms(_) | Route::Phone(_) | Route::NotFound => {
                view! { <NotFound home=Route::Compliance/> }.into_any()
            }
        },
    }
}

#[component]
fn NotFound(home: Route) -> impl IntoView {
    let words = match home {
        Route::Compliance => "Go to all numbers",
        _ => "Go to your contacts",
    };
    view! {
        <div class="notice" role="alert">
            <h2 tabindex="-1" data-page-title>"This page does not exist"</h2>
            <p><Link to=home>{words}</Link></p>
        </div>
    }
}

/// Shown when the app was opened without a token.
#[component]
fn SignedOut() -> impl IntoView {
    view! {
        <main class="page page--center">
            <div class="notice" role="alert">
                <h1>"You are not signed in"</h1>
                <p>"Open this app from your CRM, or use the link that "<code>"cargo xtask run"</code>" prints."</p>
            </div>
        </main>
    }
}
