//! The advisor's web app (Leptos, client-side rendered).
//!
//! - `api`: the one typed client of the service and its error enum;
//! - `contact_rows`: the contact rows known, by position, for the virtual list;
//! - `fetched`: an answer of the service in a signal, fetched again when its inputs change;
//! - `first_screen`: the hand-over from the list drawn before the app ran to the app's;
//! - `live`: live updates from the service's event stream;
//! - `route`: the screens as paths;
//! - `session`: where the bearer token comes from;
//! - `time`: times in the advisor's time zone, against the server's clock;
//! - `components/`, `pages/`: the screens.

pub mod api;
pub mod bridge;
pub mod components;
pub mod contact_rows;
pub mod fetched;
pub mod first_screen;
pub mod labels;
pub mod live;
pub mod pages;
pub mod route;
pub mod session;
pub mod time;

mod app;
pub use app::App;

/// Runs `f` once the next frame is painted (that frame, then a task): for
/// work that must not delay what the page is about to show.
pub fn after_paint(f: impl FnOnce() + 'static) {
    use leptos::prelude::{request_animation_frame, set_timeout};
    request_animation_frame(move || set_timeout(f, std::time::Duration::ZERO));
}
