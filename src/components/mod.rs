//! Reusable pieces of the screens.

pub mod add_contact_form;
pub mod contact_row;
pub mod icons;
