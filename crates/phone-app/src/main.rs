//! The sandbox's "contact's phone" page, a web app of its own: served by the
//! sandbox at `/phone/{e164}` (its files under `/sandbox/phone-app/`), so the
//! advisor's app neither links nor downloads it.

mod client;
mod phone;

use leptos::prelude::*;
use optin_app::route::Route;

use crate::phone::PhonePage;

fn main() {
    console_error_panic_hook::set_once();
    let path = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    leptos::mount::mount_to_body(move || {
        match Route::parse(&path) {
        Route::Phone(number) => view! { <PhonePage number/> }.into_any(),
        _ => view! {
            <main class="page page--center">
                <div class="notice" role="alert">
                    <h1>"No such phone"</h1>
                    <p>"Open a contact's phone from the contact's screen in the sandbox: the address ends with the number, e.g. "<code>"/phone/%2B447911123456"</code>"."</p>
                </div>
            </main>
        }
        .into_any(),
    }
    });
}
