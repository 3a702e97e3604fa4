//! Screens, one module each.

pub mod contact;
pub mod contact_data;
pub mod contacts;
pub mod phone;
pub mod sms;

use leptos::prelude::*;

/// Whether the service runs against its sandbox (from `GET /me`): the
/// "contact's phone" pages exist only then.
#[derive(Clone, Copy, Debug)]
pub struct SandboxMode(pub Signal<bool>);
