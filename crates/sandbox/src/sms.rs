//! The SMS provider stand-in: `POST /sms/2010-04-01/Accounts/{sid}/Messages.json`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use optin_core::keywords::{classify, Keyword};
use optin_core::sandbox::{Channel, Direction};
use optin_core::sms::{SmsErrorBody, SmsMessageResource, SmsStatus};

use super::emit;
use super::store::{self, Inserted, NewMessage};
use super::IDEMPOTENCY_KEY_HEADER;
use super::{e164, new_sms_sid, SandboxState};

/// Longest body the provider accepts (it splits it into segments).
const MAX_BODY_CHARS: usize = 1600;

fn sms_error(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    let body = SmsErrorBody {
        code,
        message: message.into(),
        more_info: Some(format!("https://www.twilio.com/docs/errors/{code}")),
        status: status.as_u16(),
    };
    (status, Json(body)).into_response()
}

/// `(user, password)` of a basic `Authorization` header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

pub(super) async fn send(
    State(state): State<SandboxState>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = basic_auth(&headers).is_some_and(|(user, password)| {
        user == state.sms_account_sid && password == state.sms_auth_token
    });
    if !authorized {
        return sms_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if account_sid != state.sms_account_sid {
        return sms_error(
            StatusCode::NOT_FOUND,
            20404,
            format!(
                "The requested resource /2010-04-01/Accounts/{account_sid}/Messages.json was not found"
            ),
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return sms_error(
            StatusCode::BAD_REQUEST,
            21100,
            "The form body could not be read.",
        );
    };
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let Some(to) = field("To") else {
        return sms_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let Some(from) = field("From") else {
        return sms_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        );
    };
    // The body is taken as sent; only a blank one is refused.
    let text = form
        .iter()
        .find(|(n, _)| n == "Body")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if text.trim().is_empty() {
        return sms_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if text.chars().count() > MAX_BODY_CHARS {
        return sms_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    let Some(to) = e164(&to).filter(|_| to.starts_with('+')) else {
        return sms_error(
            StatusCode::BAD_REQUEST,
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        );
    };
    if from != state.settings.sms_number {
        return sms_error(
            StatusCode::BAD_REQUEST,
            21606,
            "The 'From' phone number provided is not a valid message-capable phone number for this account.",
        );
    }
    match unsubscribed(&state, &to, state.clock.now()).await {
        Ok(false) => {}
        Ok(true) => {
            return sms_error(
                StatusCode::BAD_REQUEST,
                21610,
                "Attempt to send to unsubscribed recipient",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "sandbox could not read an SMS history");
            return sms_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "An internal server error has occurred.",
            );
        }
    }
    let callback_url =
        field("StatusCallback").unwrap_or_else(|| format!("{}/webhooks/sms", state.service_base()));
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());

    let now = state.clock.now();
    let sid = new_sms_sid();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let stored = async {
        store::phone(&state.db, &to, now).await?;
        store::insert(
            &state.db,
            NewMessage {
                id: &sid,
                phone: &to,
                channel: Channel::Sms,
                direction: Direction::In,
                text: &text,
                template: None,
                buttons: &[],
                context_id: None,
                raw: &raw,
                status: SmsStatus::Queued.as_str(),
                idempotency_key: key,
                at: now,
            },
        )
        .await
    }
    .await;
    let resource = |sid: String, to: String, body: String| SmsMessageResource {
        sid,
        account_sid: Some(state.sms_account_sid.clone()),
        status: SmsStatus::Queued,
        to,
        from: from.clone(),
        body,
        error_code: None,
        error_message: None,
    };
    match stored {
        Ok(Inserted::Created) => {
            state.emitting.spawn(emit::sms_fate(
                state.clone(),
                sid.clone(),
                to.clone(),
                from.clone(),
                callback_url,
            ));
            (StatusCode::CREATED, Json(resource(sid, to, text))).into_response()
        }
        Ok(Inserted::Existing(earlier)) => (
            StatusCode::CREATED,
            Json(resource(earlier.id, earlier.phone_e164, earlier.text)),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "sandbox could not store an SMS send");
            sms_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "An internal server error has occurred.",
            )
        }
    }
}

/// How long after STOP the one confirmation may go (CTIA, FCC 24-18).
const CONFIRMATION_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

/// True when the contact's latest opt-out or opt-in keyword on SMS is an
/// opt-out: like the real provider, the sandbox then refuses every send to
/// the number (21610) until the contact texts START or YES; except the one
/// confirmation the rules allow within 5 minutes of the STOP.
async fn unsubscribed(
    state: &SandboxState,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let history = store::sms_history(&state.db, phone).await?;
    let mut received_since = 0;
    for (direction, text, at) in &history {
        if direction == Direction::In.as_str() {
            received_since += 1;
            continue;
        }
        match classify(text) {
            Some(Keyword::OptOut) => {
                let confirmation = received_since == 0 && now - *at <= CONFIRMATION_WINDOW;
                return Ok(!confirmation);
            }
            Some(Keyword::OptIn) => return Ok(false),
            _ => {}
        }
    }
    Ok(false)
}
