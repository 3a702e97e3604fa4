//! Reusable pieces of the screens.

pub mod add_contact_form;
pub mod chain_status;
pub mod composer;
pub mod confirm_opt_in;
pub mod consent_badge;
pub mod consent_banner;
pub mod consent_history;
pub mod contact_list;
pub mod contact_row;
pub mod conversation;
pub mod download;
pub mod evidence_timeline;
pub mod icons;
pub mod legal_hold;
pub mod modal;
pub mod revocation;
pub mod session_notice;
