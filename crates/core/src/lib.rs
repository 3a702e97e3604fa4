//! Shared by the web app and the service: wire types, consent rules, phone
//! numbers. No I/O, so it compiles for native and wasm32 alike.

pub mod admin;
pub mod api;
pub mod archive;
pub mod compliance;
pub mod consent;
pub mod csv;
pub mod embed;
pub mod keywords;
pub mod language;
pub mod meta_signals;
#[cfg(feature = "phone")]
pub mod phone;
pub mod sandbox;
pub mod search;
pub mod sms;
pub mod stop_request;
pub mod templates;
pub mod vocab;
pub mod whatsapp;
pub mod window;
pub mod wire_time;
