//! The one typed client of the service. Every non-2xx answer becomes a
//! `ClientError`, shown to the advisor in plain words.

use gloo_net::http::{Request, RequestBuilder, Response};
use optin_core::api::{Contact, ContactPage, ErrorBody, Me, NewContact, API_PREFIX};
use serde::de::DeserializeOwned;

/// Every way a call to the service can fail, as the advisor should read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The service could not be reached.
    Offline,
    /// The token is missing, expired or revoked.
    SignedOut,
    /// The service refused the request and said why.
    Refused {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
    /// The service answered something this app does not understand.
    Unexpected(String),
}

impl ClientError {
    /// The request field this error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Refused { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Offline => {
                f.write_str("Can't reach the service. Check your connection and try again.")
            }
            Self::SignedOut => {
                f.write_str("Your session has ended. Open the app again from your CRM.")
            }
            Self::Refused { message, .. } => f.write_str(message),
            Self::Unexpected(_) => f.write_str("Something unexpected happened. Please try again."),
        }
    }
}

/// Client bound to one advisor's token; cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Api {
    token: String,
}

impl Api {
    /// A client that sends `token` as its bearer credential.
    pub fn new(token: String) -> Self {
        Self { token }
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        builder.header("Authorization", &format!("Bearer {}", self.token))
    }

    /// Who the token belongs to.
    pub async fn me(&self) -> Result<Me, ClientError> {
        let request = self.authorized(Request::get(&format!("{API_PREFIX}/me")));
        decode(request.send().await).await
    }

    /// A page of contacts matching `query` (name or number).
    pub async fn contacts(&self, query: &str, offset: u64) -> Result<ContactPage, ClientError> {
        let offset = offset.to_string();
        let request = self
            .authorized(Request::get(&format!("{API_PREFIX}/contacts")))
            .query([("q", query), ("offset", offset.as_str()), ("limit", "200")]);
        decode(request.send().await).await
    }

    /// Adds a contact.
    pub async fn add_contact(&self, contact: &NewContact) -> Result<Contact, ClientError> {
        let request = self
            .authorized(Request::post(&format!("{API_PREFIX}/contacts")))
            .json(contact)
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        decode(request.send().await).await
    }
}

async fn decode<T: DeserializeOwned>(
    sent: Result<Response, gloo_net::Error>,
) -> Result<T, ClientError> {
    let response = sent.map_err(|_| ClientError::Offline)?;
    let status = response.status();
    if (200..300).contains(&status) {
        return response
            .json()
            .await
            .map_err(|e| ClientError::Unexpected(e.to_string()));
    }
    if status == 401 {
        return Err(ClientError::SignedOut);
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ClientError::Refused {
            status,
            code: body.code,
            message: body.message,
            field: body.field,
        }),
        Err(_) => Err(ClientError::Unexpected(format!("HTTP {status}"))),
    }
}
