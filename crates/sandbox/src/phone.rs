//! The contact's side: what each phone received and what its owner does
//! (tap a button, reply, open a message), plus the shared test clock.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Duration;
use optin_core::sandbox::{
    sandbox_user_id, AdvanceClock, Channel, ClockView, Direction, MarkRead, PhoneMessage,
    PhoneSummary, PhoneView, Reply, SetWhatsapp, Tap,
};
use optin_core::whatsapp::{
    format_timestamp, wa_id_from_e164, ButtonReply, InboundKind, InboundMessage, MessageContext,
    TextBody,
};
use serde::de::DeserializeOwned;

use super::store::{self, NewMessage, Stored};
use super::{e164, emit, new_sms_sid, new_wamid, SandboxError, SandboxState};

type Result<T> = std::result::Result<T, SandboxError>;

/// Longest reply the phone sends.
const MAX_REPLY_CHARS: usize = 4096;
/// Furthest the clock moves in one step (ten years).
const MAX_ADVANCE_SECONDS: i64 = 10 * 366 * 24 * 3600;

fn phone_number(raw: &str) -> Result<String> {
    e164(raw).ok_or_else(|| {
        SandboxError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_phone",
            format!("{raw} is not an E.164 number (e.g. +15551234567)."),
        )
    })
}

/// Reads a JSON body whatever its declared content type.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        SandboxError::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            format!("The request body is not valid: {e}"),
        )
    })
}

/// The phone's received WhatsApp message `id`.
async fn received_whatsapp(state: &SandboxState, phone: &str, id: &str) -> Result<Stored> {
    store::message(&state.db, id)
        .await?
        .filter(|m| m.phone_e164 == phone && m.is(Channel::Whatsapp, Direction::In))
        .ok_or_else(|| {
            SandboxError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{phone} received no WhatsApp message {id}."),
            )
        })
}

fn undelivered(message: &Stored) -> Result<()> {
    if message.status == "failed" {
        return Err(SandboxError::new(
            StatusCode::CONFLICT,
            "not_delivered",
            "That message never reached the phone.",
        ));
    }
    Ok(())
}

async fn on_whatsapp(state: &SandboxState, phone: &str) -> Result<store::Phone> {
    let found = store::phone(&state.db, phone, state.clock.now()).await?;
    if !found.on_whatsapp {
        return Err(SandboxError::new(
            StatusCode::CONFLICT,
            "not_on_whatsapp",
            format!("{phone} is not on WhatsApp in the sandbox."),
        ));
    }
    Ok(found)
}

fn profile_name(phone: &str, found: &store::Phone) -> String {
    found
        .profile_name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| phone.to_owned())
}

/// `GET /phones`
pub(super) async fn list(State(state): State<SandboxState>) -> Result<Json<Vec<PhoneSummary>>> {
    Ok(Json(store::phones(&state.db).await?))
}

/// `GET /phones/{e164}`
pub(super) async fn view(
    State(state): State<SandboxState>,
    Path(raw): Path<String>,
) -> Result<Json<PhoneView>> {
    let phone = phone_number(&raw)?;
    Ok(Json(phone_view(&state, &phone).await?))
}

async fn phone_view(state: &SandboxState, phone: &str) -> Result<PhoneView> {
    // Looking does not register the number; only sends and actions do.
    let found = store::find_phone(&state.db, phone)
        .await?
        .unwrap_or(store::Phone {
            on_whatsapp: true,
            profile_name: None,
        });
    let messages = store::messages(&state.db, phone).await?;
    Ok(PhoneView {
        phone: phone.to_owned(),
        on_whatsapp: found.on_whatsapp,
        profile_name: profile_name(phone, &found),
        messages: messages.iter().map(Stored::view).collect(),
    })
}

/// `PUT /phones/{e164}/whatsapp {on_whatsapp, profile_name?}`
pub(super) async fn set_whatsapp(
    State(state): State<SandboxState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Json<PhoneView>> {
    let phone = phone_number(&raw)?;
    let request: SetWhatsapp = body(&bytes)?;
    store::set_whatsapp(
        &state.db,
        &phone,
        request.on_whatsapp,
        request.profile_name.as_deref().map(str::trim),
        state.clock.now(),
    )
    .await?;
    Ok(Json(phone_view(&state, &phone).await?))
}

/// `POST /phones/{e164}/tap {message_id, payload}`: the contact taps a quick
/// reply; the service receives a `button` message replying to the template.
pub(super) async fn tap(
    State(state): State<SandboxState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<PhoneMessage>)> {
    let phone = phone_number(&raw)?;
    let request: Tap = body(&bytes)?;
    let template = received_whatsapp(&state, &phone, &request.message_id).await?;
    undelivered(&template)?;
    let button = template
        .buttons()
        .into_iter()
        .find(|b| b.payload == request.payload)
        .ok_or_else(|| {
            SandboxError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_such_button",
                "That message has no button with this payload.",
            )
        })?;
    let found = on_whatsapp(&state, &phone).await?;
    let now = state.clock.now();
    let inbound = InboundMessage {
        from: Some(wa_id_from_e164(&phone)),
        from_user_id: Some(sandbox_user_id(&phone)),
        id: new_wamid(),
        timestamp: format_timestamp(now),
        kind: InboundKind::Button,
        text: None,
        button: Some(ButtonReply {
            payload: button.payload.clone(),
            text: button.text.clone(),
        }),
        context: Some(MessageContext {
            from: state.settings.display_phone_number.clone(),
            id: template.id.clone(),
        }),
        ..InboundMessage::default()
    };
    let stored = record_written(
        &state,
        &phone,
        Channel::Whatsapp,
        &inbound.id,
        &button.text,
        Some(&template.id),
        &serde_json::to_string(&inbound).expect("plain data serializes"),
    )
    .await?;
    state.emitting.spawn(emit::whatsapp_inbound(
        state.clone(),
        profile_name(&phone, &found),
        inbound,
    ));
    Ok((StatusCode::ACCEPTED, Json(stored)))
}

/// `POST /phones/{e164}/reply {text, channel}`: the contact writes.
pub(super) async fn reply(
    State(state): State<SandboxState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<PhoneMessage>)> {
    let phone = phone_number(&raw)?;
    let request: Reply = body(&bytes)?;
    if request.text.trim().is_empty() || request.text.chars().count() > MAX_REPLY_CHARS {
        return Err(SandboxError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            "Type between 1 and 4096 characters.",
        ));
    }
    let now = state.clock.now();
    match request.channel {
        Channel::Whatsapp => {
            let found = on_whatsapp(&state, &phone).await?;
            let inbound = InboundMessage {
                from: (!request.hide_number).then(|| wa_id_from_e164(&phone)),
                from_user_id: Some(sandbox_user_id(&phone)),
                id: new_wamid(),
                timestamp: format_timestamp(now),
                kind: InboundKind::Text,
                text: Some(TextBody {
                    body: request.text.clone(),
                }),
                ..InboundMessage::default()
            };
            let stored = record_written(
                &state,
                &phone,
                Channel::Whatsapp,
                &inbound.id,
                &request.text,
                None,
                &serde_json::to_string(&inbound).expect("plain data serializes"),
            )
            .await?;
            state.emitting.spawn(emit::whatsapp_inbound(
                state.clone(),
                profile_name(&phone, &found),
                inbound,
            ));
            Ok((StatusCode::ACCEPTED, Json(stored)))
        }
        Channel::Sms => {
            store::phone(&state.db, &phone, now).await?;
            let sid = new_sms_sid();
            let to = state.settings.sms_number.clone();
            let stored = record_written(
                &state,
                &phone,
                Channel::Sms,
                &sid,
                &request.text,
                None,
                &request.text,
            )
            .await?;
            state.emitting.spawn(emit::sms_inbound(
                state.clone(),
                sid,
                phone,
                to,
                request.text,
            ));
            Ok((StatusCode::ACCEPTED, Json(stored)))
        }
    }
}

/// Stores a message the contact wrote, pending until the service takes it.
async fn record_written(
    state: &SandboxState,
    phone: &str,
    channel: Channel,
    id: &str,
    text: &str,
    context_id: Option<&str>,
    raw: &str,
) -> Result<PhoneMessage> {
    store::insert(
        &state.db,
        NewMessage {
            id,
            phone,
            channel,
            direction: Direction::Out,
            text,
            template: None,
            buttons: &[],
            context_id,
            raw,
            status: "pending",
            idempotency_key: None,
            at: state.clock.now(),
        },
    )
    .await?;
    let stored = store::message(&state.db, id).await?.expect("just stored");
    Ok(stored.view())
}

/// `POST /phones/{e164}/read {message_id}`: the contact opens a message;
/// the service receives a `read` status.
pub(super) async fn read(
    State(state): State<SandboxState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<PhoneMessage>)> {
    let phone = phone_number(&raw)?;
    let request: MarkRead = body(&bytes)?;
    let message = received_whatsapp(&state, &phone, &request.message_id).await?;
    undelivered(&message)?;
    store::advance_status(&state.db, &message.id, "read", None).await?;
    state.emitting.spawn(emit::whatsapp_read(
        state.clone(),
        message.id.clone(),
        wa_id_from_e164(&phone),
    ));
    let updated = store::message(&state.db, &message.id)
        .await?
        .unwrap_or(message);
    Ok((StatusCode::ACCEPTED, Json(updated.view())))
}

fn clock_view(state: &SandboxState) -> ClockView {
    ClockView {
        now: state.clock.now(),
        offset_seconds: state.clock.offset().num_seconds(),
    }
}

/// `GET /clock`
pub(super) async fn clock(State(state): State<SandboxState>) -> Json<ClockView> {
    Json(clock_view(&state))
}

/// `POST /clock/reset`: back to the wall clock, so a test that advanced the
/// clock does not leave it moved for the next one.
pub(super) async fn reset_clock(State(state): State<SandboxState>) -> Json<ClockView> {
    state.clock.reset();
    Json(clock_view(&state))
}

/// `POST /clock/advance {hours} | {seconds}`
pub(super) async fn advance_clock(
    State(state): State<SandboxState>,
    bytes: Bytes,
) -> Result<Json<ClockView>> {
    let request: AdvanceClock = body(&bytes)?;
    let seconds = match (request.hours, request.seconds) {
        (Some(hours), None) if hours.is_finite() => Some((hours * 3600.0).round() as i64),
        (None, Some(seconds)) => Some(seconds),
        _ => None,
    };
    let Some(seconds) = seconds.filter(|s| (1..=MAX_ADVANCE_SECONDS).contains(s)) else {
        return Err(SandboxError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_advance",
            "Give either hours or seconds: a positive amount of at most ten years.",
        ));
    };
    state.clock.advance(Duration::seconds(seconds));
    Ok(Json(clock_view(&state)))
}
