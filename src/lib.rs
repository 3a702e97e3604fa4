//! The advisor's web app (Leptos, client-side rendered).
//!
//! - `api`: the one typed client of the service and its error enum;
//! - `session`: where the bearer token comes from;
//! - `components/`, `pages/`: the screens.

pub mod api;
pub mod components;
pub mod pages;
pub mod session;

mod app;
pub use app::App;
