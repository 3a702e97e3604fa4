//! Screens, one module each.

pub mod compliance;
pub mod compliance_number;
pub mod contact;
pub mod contact_data;
pub mod contacts;
pub mod sms;

use leptos::prelude::*;

/// Whether the service runs against its sandbox (from `GET /me`): the
/// "contact's phone" pages (a separate app, `crates/phone-app`) exist only then.
#[derive(Clone, Copy, Debug)]
pub struct SandboxMode(pub Signal<bool>);

/// Whether the organization has WhatsApp messaging on (from `GET /me`);
/// when off, no WhatsApp control is shown (the service refuses them anyway).
#[derive(Clone, Copy, Debug)]
pub struct WhatsAppEnabled(pub Signal<bool>);

impl WhatsAppEnabled {
    /// On unless the organization's settings say otherwise.
    pub fn current() -> bool {
        use_context::<WhatsAppEnabled>().is_none_or(|enabled| enabled.0.get())
    }
}
