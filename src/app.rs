use leptos::prelude::*;

use crate::api::Api;
use crate::pages::contacts::ContactsPage;
use crate::session;

/// The whole app: signs in with the token it was handed, then shows contacts.
#[component]
pub fn App() -> impl IntoView {
    match session::load_token() {
        Some(token) => {
            provide_context(Api::new(token));
            view! { <Shell/> }.into_any()
        }
        None => view! { <SignedOut/> }.into_any(),
    }
}

/// Header with the advisor's name, and the current page.
#[component]
fn Shell() -> impl IntoView {
    let api = expect_context::<Api>();
    let me = LocalResource::new(move || {
        let api = api.clone();
        async move { api.me().await }
    });
    let who = move || {
        me.get()
            .and_then(Result::ok)
            .map(|me| format!("{} · {}", me.advisor_name, me.organization_name))
    };
    view! {
        <header class="topbar">
            <h1 class="topbar__title">"WhatsApp opt-in"</h1>
            <span class="topbar__who">{who}</span>
        </header>
        <main class="page">
            <ContactsPage/>
        </main>
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
