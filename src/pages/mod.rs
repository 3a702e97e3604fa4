//! Screens, one module each.

pub mod contacts;
