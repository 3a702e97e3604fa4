//! The app's few screens as paths, with the browser's history.
//!
//! A hand-written router instead of `leptos_router`: a handful of routes do not pay
//! for its weight in the download budget (200 KB gzip for the whole app), and
//! this keeps deep links, reloads and the Back button working. The service
//! answers every unknown path with `index.html`, so any of these URLs can be
//! opened directly.

use leptos::prelude::*;
use wasm_bindgen::JsValue;

/// One screen of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The advisor's contacts.
    Contacts,
    /// A contact's WhatsApp screen: consent and conversation.
    Contact(i64),
    /// A contact's SMS screen.
    Sms(i64),
    /// Compliance: every number of the organization with its consent state.
    Compliance,
    /// Compliance: one number's whole evidence timeline (E.164 number).
    ComplianceNumber(String),
    /// The sandbox's stand-in for a contact's phone (E.164 number): a page
    /// of its own (`crates/phone-app`), which the service serves at this
    /// path in sandbox builds; this app only links to it.
    Phone(String),
    /// Anything else.
    NotFound,
}

impl Route {
    /// The route a path names (`/contacts/7`, `/phone/%2B447911123456`, ...).
    pub fn parse(path: &str) -> Self {
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        match parts.as_slice() {
            [] | ["contacts"] => Self::Contacts,
            ["contacts", id] => id.parse().map_or(Self::NotFound, Self::Contact),
            ["contacts", id, "sms"] => id.parse().map_or(Self::NotFound, Self::Sms),
            ["phone", number] => phone_route(number, Self::Phone),
            ["compliance"] => Self::Compliance,
            ["compliance", "numbers", number] => phone_route(number, Self::ComplianceNumber),
            _ => Self::NotFound,
        }
    }

    /// The path of this route; the `+` of a number is percent-encoded.
    pub fn path(&self) -> String {
        match self {
            Self::Contacts | Self::NotFound => "/".to_owned(),
            Self::Contact(id) => format!("/contacts/{id}"),
            Self::Sms(id) => format!("/contacts/{id}/sms"),
            Self::Phone(number) => format!("/phone/{}", encode_phone(number)),
            Self::Compliance => "/compliance".to_owned(),
            Self::ComplianceNumber(number) => {
                format!("/compliance/numbers/{}", encode_phone(number))
            }
        }
    }
}

/// The route for a number's path segment, or `NotFound` when it is no E.164 number.
fn phone_route(segment: &str, route: fn(String) -> Route) -> Route {
    let number = decode_phone(segment);
    if is_e164(&number) {
        route(number)
    } else {
        Route::NotFound
    }
}

/// `+447911123456` -> `%2B447911123456` (a literal `+` in a path is ambiguous
/// for some servers and proxies, which read it as a space).
pub fn encode_phone(number: &str) -> String {
    number.replace('+', "%2B")
}

fn decode_phone(segment: &str) -> String {
    let segment = segment.replace("%2B", "+").replace("%2b", "+");
    // Someone typing the URL may leave the `+` out.
    if segment.starts_with('+') {
        segment
    } else {
        format!("+{segment}")
    }
}

fn is_e164(number: &str) -> bool {
    let digits = &number[1..];
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The current route, shared through context; cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Router {
    route: RwSignal<Route>,
}

impl Router {
    /// A router that starts at the page's current path and follows Back/Forward.
    pub fn from_location() -> Self {
        let path = web_sys::window()
            .and_then(|w| w.location().pathname().ok())
            .unwrap_or_default();
        let router = Self {
            route: RwSignal::new(Route::parse(&path)),
        };
        let handle = window_event_listener(leptos::ev::popstate, move |_| {
            let path = web_sys::window()
                .and_then(|w| w.location().pathname().ok())
                .unwrap_or_default();
            router.route.set(Route::parse(&path));
        });
        on_cleanup(move || handle.remove());
        router
    }

    /// A router fixed at `route` that does not touch the address bar (tests).
    pub fn detached(route: Route) -> Self {
        Self {
            route: RwSignal::new(route),
        }
    }

    /// The current route (tracked).
    pub fn route(&self) -> Route {
        self.route.get()
    }

    /// The current route, not tracked.
    pub fn route_untracked(&self) -> Route {
        self.route.get_untracked()
    }

    /// Opens `route`, adding a history entry so Back returns here.
    pub fn go(&self, route: Route) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&route.path()));
        }
        if let Some(window) = web_sys::window() {
            window.scroll_to_with_x_and_y(0.0, 0.0);
        }
        self.route.set(route);
        focus_page_title();
    }
}

/// Moves keyboard and screen-reader focus to the new screen's title, so a
/// route change is announced like a page load would be.
fn focus_page_title() {
    request_animation_frame(|| {
        let title = document()
            .query_selector("[data-page-title]")
            .ok()
            .flatten()
            .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el).ok());
        if let Some(title) = title {
            let _ = title.focus();
        }
    });
}

/// The router from context.
pub fn use_router() -> Router {
    expect_context::<Router>()
}

/// An in-app link: a real `<a href>` (open in new tab, copy link work) that
/// changes screens without reloading the app on a plain click.
#[component]
pub fn Link(
    /// Where it goes.
    #[prop(into)]
    to: Signal<Route>,
    /// Extra classes.
    #[prop(optional)]
    class: &'static str,
    /// Accessible name when the content is not enough.
    #[prop(optional, into)]
    label: Option<String>,
    children: Children,
) -> impl IntoView {
    let router = use_router();
    let href = move || to.with(Route::path);
    let on_click = move |ev: leptos::ev::MouseEvent| {
        // Let the browser handle new-tab and download gestures.
        if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key() || ev.button() != 0 {
            return;
        }
        ev.prevent_default();
        router.go(to.get_untracked());
    };
    view! {
        <a href=href class=class aria-label=label on:click=on_click>{children()}</a>
    }
}
