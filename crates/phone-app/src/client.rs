//! The phone page's client of the sandbox's "contact's phone" and clock
//! routes, and its announcement of clock moves to the advisor's tabs.

use gloo_net::http::Request;
use optin_app::api::{accepted, decode, unexpected, ClientError};
use optin_app::route::encode_phone;
use optin_core::sandbox::{
    AdvanceClock, Channel, ClockView, MarkRead, PhoneView, Reply, SetWhatsapp, Tap,
};
use wasm_bindgen::JsValue;

/// Client of the sandbox's "contact's phone" and clock routes (sandbox mode
/// only, no sign-in: it plays the contact and the platform, not the advisor).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sandbox;

impl Sandbox {
    fn phone_path(number: &str, rest: &str) -> String {
        format!("/sandbox/phones/{}{rest}", encode_phone(number))
    }

    /// What the number's phone shows.
    pub async fn phone(&self, number: &str) -> Result<PhoneView, ClientError> {
        decode(Request::get(&Self::phone_path(number, "")).send().await).await
    }

    /// The contact taps a quick-reply button of `message_id`.
    pub async fn tap(&self, number: &str, tap: &Tap) -> Result<(), ClientError> {
        let request = Request::post(&Self::phone_path(number, "/tap"))
            .json(tap)
            .map_err(unexpected)?;
        accepted(request.send().await).await
    }

    /// The contact writes `text` on `channel`.
    pub async fn reply(
        &self,
        number: &str,
        text: &str,
        channel: Channel,
    ) -> Result<(), ClientError> {
        let body = Reply {
            hide_number: false,
            text: text.to_owned(),
            channel,
        };
        let request = Request::post(&Self::phone_path(number, "/reply"))
            .json(&body)
            .map_err(unexpected)?;
        accepted(request.send().await).await
    }

    /// The contact opens received WhatsApp message `message_id` (a read receipt).
    pub async fn mark_read(&self, number: &str, message_id: &str) -> Result<(), ClientError> {
        let body = MarkRead {
            message_id: message_id.to_owned(),
        };
        let request = Request::post(&Self::phone_path(number, "/read"))
            .json(&body)
            .map_err(unexpected)?;
        accepted(request.send().await).await
    }

    /// Whether the number is on WhatsApp (sends to it fail with 131026 when not).
    pub async fn set_on_whatsapp(
        &self,
        number: &str,
        on_whatsapp: bool,
    ) -> Result<(), ClientError> {
        let body = SetWhatsapp {
            on_whatsapp,
            profile_name: None,
        };
        let request = Request::put(&Self::phone_path(number, "/whatsapp"))
            .json(&body)
            .map_err(unexpected)?;
        accepted(request.send().await).await
    }

    /// The shared test clock.
    pub async fn clock(&self) -> Result<ClockView, ClientError> {
        decode(Request::get("/sandbox/clock").send().await).await
    }

    /// Moves the shared test clock forward by `hours`.
    pub async fn advance_clock(&self, hours: f64) -> Result<(), ClientError> {
        let body = AdvanceClock {
            hours: Some(hours),
            seconds: None,
        };
        let request = Request::post("/sandbox/clock/advance")
            .json(&body)
            .map_err(unexpected)?;
        accepted(request.send().await).await
    }
}

/// Tells the advisor's open tabs that the sandbox clock moved.
pub fn announce_clock_moved() {
    if let Some(channel) = optin_app::live::clock_channel() {
        let _ = channel.post_message(&JsValue::from_str("moved"));
        channel.close();
    }
}
