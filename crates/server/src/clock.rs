//! The service's clock: [`optin_clock::Clock`], shared with the sandbox
//! (which may advance it in sandbox builds).

pub use optin_clock::Clock;
