use leptos::prelude::*;

use crate::api::Api;
use crate::live::{Live, LiveIndicator};
use crate::pages::contact::ContactPage;
use crate::pages::contacts::ContactsPage;
use crate::pages::phone::PhonePage;
use crate::pages::sms::SmsPage;
use crate::pages::SandboxMode;
use crate::route::{use_router, Link, Route, Router};
use crate::session;

/// The whole app: the sandbox phone (no sign-in: it plays the contact), or
/// the advisor's screens with the token it was handed.
#[component]
pub fn App() -> impl IntoView {
    let router = Router::from_location();
    provide_context(router);
    // Only a switch between the phone and the advisor's screens rebuilds
    // this level; moving between the advisor's screens keeps the shell (and
    // its live connection).
    let phone = Memo::new(move |_| match router.route() {
        Route::Phone(number) => Some(number),
        _ => None,
    });
    move || match phone.get() {
        Some(number) => view! { <PhonePage number/> }.into_any(),
        None => match session::load_token() {
            Some(token) => {
                provide_context(Api::new(token));
                view! { <Shell/> }.into_any()
            }
            None => view! { <SignedOut/> }.into_any(),
        },
    }
}

/// Header with the advisor's name and the live status, and the current screen.
#[component]
fn Shell() -> impl IntoView {
    let api = expect_context::<Api>();
    let router = use_router();
    let me = LocalResource::new({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.me().await }
        }
    });
    provide_context(SandboxMode(Signal::derive(move || {
        me.get().and_then(Result::ok).is_some_and(|me| me.sandbox)
    })));
    let live = Live::new();
    provide_context(live);
    live.connect(api);
    let who = move || {
        me.get()
            .and_then(Result::ok)
            .map(|me| format!("{} · {}", me.advisor_name, me.organization_name))
    };
    // Keyed by the screen, not the whole route value, so moving between two
    // contacts rebuilds the screen and its data.
    let screen = Memo::new(move |_| router.route());
    view! {
        <header class="topbar">
            <h1 class="topbar__title">"WhatsApp opt-in"</h1>
            <span class="topbar__who">{who}</span>
            <LiveIndicator/>
        </header>
        <main class="page">
            {move || match screen.get() {
                Route::Contacts => view! { <ContactsPage/> }.into_any(),
                Route::Contact(id) => view! { <ContactPage id/> }.into_any(),
                Route::Sms(id) => view! { <SmsPage id/> }.into_any(),
                Route::Phone(_) | Route::NotFound => view! { <NotFound/> }.into_any(),
            }}
        </main>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <div class="notice" role="alert">
            <h2 tabindex="-1" data-page-title>"This page does not exist"</h2>
            <p><Link to=Route::Contacts>"Go to your contacts"</Link></p>
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
