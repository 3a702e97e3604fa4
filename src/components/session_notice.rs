//! Said when a sign-in link arrives while this tab is already signed in:
//! the current session stays, and the person may switch to the link's.

use leptos::prelude::*;

/// The notice, until the person keeps the current session or switches.
#[component]
pub fn SessionNotice(
    /// The token the link brought (not in use).
    link: String,
    /// Called with the link's token when the person switches to it.
    on_switch: Callback<String>,
) -> impl IntoView {
    let open = RwSignal::new(true);
    let link = StoredValue::new(link);
    move || {
        open.get().then(|| {
            view! {
                <div class="notice session-notice" role="status">
                    <p>
                        "You opened a sign-in link while already signed in. "
                        "You are still using your current session."
                    </p>
                    <div class="session-notice__actions">
                        <button type="button" class="button" on:click=move |_| open.set(false)>
                            "Keep my session"
                        </button>
                        <button
                            type="button"
                            class="button button--primary"
                            on:click=move |_| on_switch.run(link.get_value())
                        >
                            "Use the link's session"
                        </button>
                    </div>
                </div>
            }
        })
    }
}
