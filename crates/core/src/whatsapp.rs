//! WhatsApp Cloud API wire formats (Graph API `messages` endpoint and the
//! `whatsapp_business_account` webhooks), exactly as in
//! `docs/whatsapp-platform.md`.
//!
//! Deserialization is lenient where Meta is loose: unknown fields are ignored
//! (Meta adds fields without notice), list fields default to empty and
//! unknown status or message types parse as `Other`, so a new kind of event
//! never makes a whole webhook unreadable. Serialization omits absent
//! optional fields, as the platform does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Value of `messaging_product` in every request and event.
pub const MESSAGING_PRODUCT: &str = "whatsapp";
/// Value of `object` in every webhook envelope.
pub const WEBHOOK_OBJECT: &str = "whatsapp_business_account";
/// `field` of a change carrying messages and statuses.
pub const MESSAGES_FIELD: &str = "messages";
/// Header carrying the webhook signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Cloud API error code: the number is not on WhatsApp (or cannot receive).
pub const ERROR_UNDELIVERABLE: i64 = crate::vocab::ErrorCode::NOT_ON_WHATSAPP.0 as i64;

/// Payload prefix of the opt-in template's "Yes" quick reply.
pub const OPTIN_YES_PREFIX: &str = "OPTIN_YES:";
/// Payload prefix of the opt-in template's "No" quick reply.
pub const OPTIN_NO_PREFIX: &str = "OPTIN_NO:";

// ---------------------------------------------------------------------------
// Outbound messages
// ---------------------------------------------------------------------------

/// Body of `POST /{version}/{phone_number_id}/messages`. The user is
/// addressed by `to` (their number) or, when only their business-scoped user
/// id is known, by `recipient`; see [`SendMessage::address`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// Always [`MESSAGING_PRODUCT`].
    pub messaging_product: String,
    /// Recipient's WhatsApp id: E.164 digits without the `+`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Recipient's business-scoped user id (BSUID), for users whose number is
    /// not known. Meta gives `to` precedence when both are present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Any text (at most [`MAX_CALLBACK_DATA_CHARS`] characters) that Meta
    /// returns on every status webhook of this message: the outbox puts its
    /// job's key here, so a status proves a send whose answer was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// `type` and the matching `template` or `text` object.
    #[serde(flatten)]
    pub content: MessageContent,
}

/// Longest `biz_opaque_callback_data` the Cloud API accepts.
pub const MAX_CALLBACK_DATA_CHARS: usize = 512;

/// What is sent: the `type` tag plus its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageContent {
    /// An approved template (the only kind allowed outside the 24-hour window).
    Template {
        /// Which template, in which language, with which parameters.
        template: Template,
    },
    /// Free-form text (only inside the 24-hour window).
    Text {
        /// The text.
        text: TextBody,
    },
}

/// A template reference with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Approved template name, e.g. `advisor_opt_in`.
    pub name: String,
    /// Template language.
    pub language: Language,
    /// Parameters for the body and the buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

/// Template language, e.g. `{"code":"en_US"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    /// Language (and locale) code, e.g. `en_US`.
    pub code: String,
}

/// One parameterised part of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Component {
    /// Header parameters.
    Header {
        /// Values for the header's placeholders.
        #[serde(default)]
        parameters: Vec<Parameter>,
    },
    /// Body parameters, filling `{{1}}`, `{{2}}`, ... in order.
    Body {
        /// Values for the body's placeholders.
        #[serde(default)]
        parameters: Vec<Parameter>,
    },
    /// Parameters of one button of the template.
    Button {
        /// Kind of button.
        sub_type: ButtonSubType,
        /// Position of the button in the template, as a decimal string.
        index: String,
        /// For quick replies: the payload returned when the button is tapped.
        #[serde(default)]
        parameters: Vec<Parameter>,
    },
}

/// Kind of a template button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonSubType {
    /// A reply button; a tap comes back as a `button` message with the payload.
    QuickReply,
    /// A link button.
    Url,
}

/// One template parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Parameter {
    /// Text for a placeholder.
    Text {
        /// The text.
        text: String,
    },
    /// Payload of a quick-reply button.
    Payload {
        /// The payload, returned verbatim on a tap.
        payload: String,
    },
}

/// `{"body": "..."}` of a text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBody {
    /// The text.
    pub body: String,
}

/// A quick-reply button of a template: position and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReply {
    /// Position of the button in the template.
    pub index: String,
    /// Payload returned when the contact taps it.
    pub payload: String,
}

/// Whom a send reaches, as Meta documents it: the number when it is known,
/// otherwise the business-scoped user id. Authentication templates (not
/// sent by this service) still need a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addressee {
    /// `to`: an E.164 number (with or without the `+`).
    Number(String),
    /// `recipient`: a business-scoped user id, e.g. `US.13491208655302741918`.
    User(String),
}

impl Addressee {
    /// How to reach a user of whom `number` and/or `user_id` are known: by
    /// number when known (`to`), else by business-scoped user id (`recipient`).
    pub fn preferred(number: Option<&str>, user_id: Option<&str>) -> Option<Self> {
        match (nonblank(number), nonblank(user_id)) {
            (Some(number), _) => Some(Addressee::Number(number.to_owned())),
            (None, Some(user_id)) => Some(Addressee::User(user_id.to_owned())),
            (None, None) => None,
        }
    }
}

impl SendMessage {
    /// Whom the send addresses: `to` when present (Meta's precedence), else
    /// `recipient`; `None` when neither is given (Meta refuses such a send).
    pub fn address(&self) -> Option<Addressee> {
        Addressee::preferred(self.to.as_deref(), self.recipient.as_deref())
    }

    /// The same message sent to `addressee` instead.
    pub fn addressed_to(mut self, addressee: &Addressee) -> Self {
        (self.to, self.recipient) = match addressee {
            Addressee::Number(number) => (Some(wa_id_from_e164(number)), None),
            Addressee::User(user_id) => (None, Some(user_id.clone())),
        };
        self
    }

    /// The same message carrying `data` back on its status webhooks; `None`
    /// when `data` is longer than Meta accepts.
    pub fn with_callback_data(mut self, data: &str) -> Option<Self> {
        if data.chars().count() > MAX_CALLBACK_DATA_CHARS {
            return None;
        }
        self.biz_opaque_callback_data = Some(data.to_owned());
        Some(self)
    }

    /// A template message to `to` (E.164, with or without the `+`).
    pub fn template(
        to: &str,
        name: impl Into<String>,
        language: impl Into<String>,
        components: Vec<Component>,
    ) -> Self {
        Self {
            messaging_product: MESSAGING_PRODUCT.to_owned(),
            to: Some(wa_id_from_e164(to)),
            recipient: None,
            biz_opaque_callback_data: None,
            content: MessageContent::Template {
                template: Template {
                    name: name.into(),
                    language: Language {
                        code: language.into(),
                    },
                    components,
                },
            },
        }
    }

    /// A free-form text message to `to` (E.164, with or without the `+`).
    pub fn text(to: &str, body: impl Into<String>) -> Self {
        Self {
            messaging_product: MESSAGING_PRODUCT.to_owned(),
            to: Some(wa_id_from_e164(to)),
            recipient: None,
            biz_opaque_callback_data: None,
            content: MessageContent::Text {
                text: TextBody { body: body.into() },
            },
        }
    }

    /// The opt-in request: template `template_name` with `body_params` as body
    /// text parameters and two quick replies, "Yes" (index 0, payload
    /// `OPTIN_YES:<request_id>`) and "No" (index 1, `OPTIN_NO:<request_id>`).
    pub fn opt_in_request(
        to_e164: &str,
        template_name: &str,
        language: &str,
        body_params: Vec<String>,
        request_id: &str,
    ) -> Self {
        let body = Component::Body {
            parameters: body_params
                .into_iter()
                .map(|text| Parameter::Text { text })
                .collect(),
        };
        let buttons = [OptInAnswer::Yes, OptInAnswer::No]
            .into_iter()
            .enumerate()
            .map(|(index, answer)| Component::Button {
                sub_type: ButtonSubType::QuickReply,
                index: index.to_string(),
                parameters: vec![Parameter::Payload {
                    payload: OptInPayload {
                        answer,
                        request_id: request_id.to_owned(),
                    }
                    .to_payload(),
                }],
            });
        Self::template(
            to_e164,
            template_name,
            language,
            std::iter::once(body).chain(buttons).collect(),
        )
    }

    /// The template, when this is a template message.
    pub fn as_template(&self) -> Option<&Template> {
        match &self.content {
            MessageContent::Template { template } => Some(template),
            MessageContent::Text { .. } => None,
        }
    }

    /// The text, when this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            MessageContent::Text { text } => Some(&text.body),
            MessageContent::Template { .. } => None,
        }
    }
}

impl Template {
    /// Texts of the body parameters, in order (`{{1}}`, `{{2}}`, ...).
    pub fn body_texts(&self) -> Vec<&str> {
        self.components
            .iter()
            .filter_map(|c| match c {
                Component::Body { parameters } => Some(parameters),
                _ => None,
            })
            .flatten()
            .filter_map(|p| match p {
                Parameter::Text { text } => Some(text.as_str()),
                Parameter::Payload { .. } => None,
            })
            .collect()
    }

    /// The quick-reply buttons that carry a payload, in template order.
    pub fn quick_replies(&self) -> Vec<QuickReply> {
        self.components
            .iter()
            .filter_map(|c| match c {
                Component::Button {
                    sub_type: ButtonSubType::QuickReply,
                    index,
                    parameters,
                } => parameters.iter().find_map(|p| match p {
                    Parameter::Payload { payload } => Some(QuickReply {
                        index: index.clone(),
                        payload: payload.clone(),
                    }),
                    Parameter::Text { .. } => None,
                }),
                _ => None,
            })
            .collect()
    }
}

/// The contact's answer carried by an opt-in quick reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptInAnswer {
    /// "Yes": the contact opts in.
    Yes,
    /// "No": the contact declines.
    No,
}

impl OptInAnswer {
    /// Label of the template button, as WhatsApp echoes it in `button.text`.
    pub fn button_text(self) -> &'static str {
        self.button_text_in(crate::language::Language::En)
    }

    /// Label of the button in a template of `language` ("Sí", "Non", ...).
    pub fn button_text_in(self, language: crate::language::Language) -> &'static str {
        let (yes, no) = language.yes_no();
        match self {
            OptInAnswer::Yes => yes,
            OptInAnswer::No => no,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            OptInAnswer::Yes => OPTIN_YES_PREFIX,
            OptInAnswer::No => OPTIN_NO_PREFIX,
        }
    }
}

/// A parsed opt-in quick-reply payload, `OPTIN_YES:<id>` or `OPTIN_NO:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptInPayload {
    /// Which button was tapped.
    pub answer: OptInAnswer,
    /// The opt-in request the button belongs to.
    pub request_id: String,
}

impl OptInPayload {
    /// Parses a payload; `None` for anything else, including an empty id.
    /// Prefixes are case-sensitive: we generate them, nobody types them.
    pub fn parse(payload: &str) -> Option<Self> {
        [OptInAnswer::Yes, OptInAnswer::No]
            .into_iter()
            .find_map(|answer| {
                let id = payload.strip_prefix(answer.prefix())?;
                (!id.is_empty()).then(|| Self {
                    answer,
                    request_id: id.to_owned(),
                })
            })
    }

    /// The payload string, e.g. `OPTIN_YES:abc`.
    pub fn to_payload(&self) -> String {
        format!("{}{}", self.answer.prefix(), self.request_id)
    }
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// Success body of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// Always [`MESSAGING_PRODUCT`].
    pub messaging_product: String,
    /// The recipient as sent and as resolved.
    #[serde(default)]
    pub contacts: Vec<SendContact>,
    /// The accepted message (one per send).
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

/// Recipient of a send, as resolved by WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendContact {
    /// The `to` (or `recipient`) of the request.
    pub input: String,
    /// The recipient's WhatsApp id; absent when the user was addressed by
    /// BSUID and their number is not shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The recipient's business-scoped user id, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Id of an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// `wamid....`; status webhooks refer to it.
    pub id: String,
    /// `accepted`, `held_for_quality_assessment`, ... (templates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
}

/// Error body of every Graph API failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphErrorBody {
    /// The error.
    pub error: GraphError,
}

/// A Graph API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    /// Description for developers.
    #[serde(default)]
    pub message: String,
    /// Error family, e.g. `OAuthException`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Error code, e.g. 131026 or 100.
    pub code: i64,
    /// Finer code, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// More detail, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    /// Trace id for Meta support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
}

/// `error_data` of an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    /// Explanation of the error.
    #[serde(default)]
    pub details: String,
}

impl GraphErrorBody {
    /// An error body with the given code, type and message.
    pub fn new(code: i64, kind: &str, message: impl Into<String>) -> Self {
        Self {
            error: GraphError {
                message: message.into(),
                kind: kind.to_owned(),
                code,
                error_subcode: None,
                error_data: None,
                fbtrace_id: None,
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

/// Body of every webhook POST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    /// Always [`WEBHOOK_OBJECT`].
    #[serde(default)]
    pub object: String,
    /// One entry per WhatsApp Business Account.
    #[serde(default)]
    pub entry: Vec<WebhookEntry>,
}

/// A signed webhook body read item by item, so that one item this service
/// cannot read (a system message without `from`, a field it does not handle,
/// a shape it does not know) never costs the others: they are applied, and
/// the unreadable ones are kept for review with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookItems {
    /// `messages` changes, with every message and status that parsed.
    pub changes: Vec<MessagesChange>,
    /// Template status and category changes, marketing preferences.
    pub signals: Vec<crate::meta_signals::AccountSignal>,
    /// Everything else, each with why it was not understood.
    pub unreadable: Vec<Unreadable>,
}

/// The readable part of one `messages` change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesChange {
    /// The business number the change concerns.
    pub metadata: Metadata,
    /// The users the change concerns, with their number and/or BSUID.
    pub contacts: Vec<WebhookContact>,
    /// Inbound messages that parsed.
    pub messages: Vec<InboundMessage>,
    /// Status updates that parsed.
    pub statuses: Vec<StatusUpdate>,
}

/// A part of a webhook body that was not understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// Why, in words (the parser's message, or what is not handled).
    pub reason: String,
    /// The part itself, as received.
    pub item: serde_json::Value,
}

impl WebhookItems {
    /// Reads a webhook body leniently: never fails; what cannot be read
    /// lands in `unreadable`. Items are read in place (webhooks are a hot
    /// path): only an unreadable part is kept as a value of its own.
    pub fn read(body: &[u8]) -> Self {
        let mut items = WebhookItems::default();
        let mut value: serde_json::Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => {
                items.unreadable(
                    format!("the body is not JSON: {e}"),
                    String::from_utf8_lossy(body).into_owned().into(),
                );
                return items;
            }
        };
        let Some(entries) = value.get_mut("entry").and_then(|e| e.as_array_mut()) else {
            items.unreadable("the body has no `entry` list".into(), value);
            return items;
        };
        for entry in entries {
            let account = entry.get("id").and_then(|id| id.as_str()).unwrap_or("");
            let account = account.to_owned();
            match entry.get_mut("changes").and_then(|c| c.as_array_mut()) {
                Some(changes) => changes
                    .iter_mut()
                    .for_each(|c| items.read_change(&account, c)),
                None => items.unreadable("an entry has no `changes` list".into(), entry.take()),
            }
        }
        items
    }

    fn unreadable(&mut self, reason: String, item: serde_json::Value) {
        self.unreadable.push(Unreadable { reason, item });
    }

    fn read_change(&mut self, account: &str, change: &mut serde_json::Value) {
        let field = change.get("field").and_then(|f| f.as_str()).unwrap_or("");
        if crate::meta_signals::is_signal_field(field) {
            let value = change.get("value").unwrap_or(&serde_json::Value::Null);
            let (signals, unreadable) = crate::meta_signals::read(field, account, value);
            self.signals.extend(signals);
            for (reason, item) in unreadable {
                self.unreadable(reason, item);
            }
            return;
        }
        if field != MESSAGES_FIELD {
            let reason = format!("the field `{field}` is not handled");
            self.unreadable(reason, change.take());
            return;
        }
        let metadata = match change.pointer("/value/metadata").map(Metadata::deserialize) {
            Some(Ok(metadata)) => metadata,
            Some(Err(e)) => {
                self.unreadable(format!("the change's metadata: {e}"), change.take());
                return;
            }
            None => {
                let reason = "the change names no business number".into();
                self.unreadable(reason, change.take());
                return;
            }
        };
        let mut list = |key: &str| match change.pointer_mut(&format!("/value/{key}")) {
            Some(serde_json::Value::Array(items)) => std::mem::take(items),
            _ => Vec::new(),
        };
        let (messages, statuses, errors) = (list("messages"), list("statuses"), list("errors"));
        let contacts = list("contacts");
        let readable = MessagesChange {
            metadata,
            contacts: self.parse_each(contacts, "a contact"),
            messages: self.parse_each(messages, "a message"),
            statuses: self.parse_each(statuses, "a status"),
        };
        // Errors Meta reports about the business or the webhook itself.
        for error in errors {
            self.unreadable("WhatsApp reported an error".into(), error);
        }
        self.changes.push(readable);
    }

    /// The items that parse as `T`; the others are kept as unreadable.
    fn parse_each<T: serde::de::DeserializeOwned>(
        &mut self,
        items: Vec<serde_json::Value>,
        what: &str,
    ) -> Vec<T> {
        let mut parsed = Vec::with_capacity(items.len());
        for item in items {
            match T::deserialize(&item) {
                Ok(value) => parsed.push(value),
                Err(e) => self.unreadable(format!("{what}: {e}"), item),
            }
        }
        parsed
    }
}

/// Changes of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEntry {
    /// WhatsApp Business Account id.
    #[serde(default)]
    pub id: String,
    /// The changes.
    #[serde(default)]
    pub changes: Vec<WebhookChange>,
}

/// One change; `field` is [`MESSAGES_FIELD`] for messages and statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookChange {
    /// Subscription field, e.g. `messages`.
    #[serde(default)]
    pub field: String,
    /// What changed. Other fields (template status, ...) carry other shapes;
    /// they parse here with everything empty.
    #[serde(default)]
    pub value: ChangeValue,
}

/// Messages and statuses of one business phone number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeValue {
    /// Always [`MESSAGING_PRODUCT`].
    #[serde(default)]
    pub messaging_product: String,
    /// The business number the change concerns.
    #[serde(default)]
    pub metadata: Metadata,
    /// Profiles of the senders of `messages`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<WebhookContact>,
    /// Inbound messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<InboundMessage>,
    /// Status updates of outbound messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<StatusUpdate>,
}

/// The business phone number of a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The number as displayed, digits only.
    #[serde(default)]
    pub display_phone_number: String,
    /// Its Cloud API id (the `{phone_number_id}` of the send URL).
    #[serde(default)]
    pub phone_number_id: String,
}

/// Sender of an inbound message. Since 2026 it carries the user's
/// business-scoped user id; the number is left out for users who adopted a
/// WhatsApp username (unless the business has their number already).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookContact {
    /// The sender's profile.
    #[serde(default)]
    pub profile: Profile,
    /// The sender's WhatsApp id (E.164 digits), when shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The sender's business-scoped user id (BSUID), e.g. `US.13491208655302741918`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl WebhookContact {
    /// The number and the BSUID, when the contact carries both (the pair a
    /// WhatsApp identity is learned from).
    /// A pair that is not a number and a BSUID is not learned from.
    pub fn number_and_user_id(&self) -> Option<(String, &str)> {
        let (number, user_id) = (present(&self.wa_id)?, present(&self.user_id)?);
        (is_wa_id(number) && is_user_id(user_id)).then(|| (e164_from_wa_id(number), user_id))
    }
}

/// A WhatsApp profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Display name the contact chose.
    #[serde(default)]
    pub name: String,
    /// The user's WhatsApp username, when they adopted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A message from a contact. `Default` is an empty text, for building one
/// field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Sender's WhatsApp id (E.164 digits); absent for users who adopted a
    /// username and for `user_changed_user_id` system messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Sender's business-scoped user id (since 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<String>,
    /// `wamid....` of this message; the dedup key.
    pub id: String,
    /// Unix seconds, as a string; see [`parse_timestamp`].
    pub timestamp: String,
    /// Which of the optional objects below is present.
    #[serde(rename = "type")]
    pub kind: InboundKind,
    /// For `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextBody>,
    /// For `button` (a template quick reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<ButtonReply>,
    /// For `interactive` (a non-template reply button or list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
    /// For `reaction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    /// For `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Media>,
    /// For `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Media>,
    /// For `audio` (voice notes included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Media>,
    /// For `document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Media>,
    /// For `sticker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<Media>,
    /// For `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// For `system`: WhatsApp reports a change of the user's number or BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemEvent>,
    /// The message this one replies to (for button taps: the template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<MessageContext>,
}

/// The `system` object of a system message: the user changed their number
/// or their business-scoped user id changed. Meta's shape (Cloud API system
/// messages reference, changelog of 11 August 2026): `body`, `type`, the new
/// `wa_id` (number changes only), the new `user_id` / `parent_user_id` and
/// the `previous_user_id` / `previous_parent_user_id`. Older payloads named
/// the new number `new_wa_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemEvent {
    /// What happened, in words ("User A changed from 1 to 2").
    #[serde(default)]
    pub body: String,
    /// The wire name of the change; see [`SystemEvent::change`]. Kept as
    /// received so that an unknown type is shown for review as Meta named it.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The user's new WhatsApp id (for `user_changed_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The new WhatsApp id in payloads before 2026.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_wa_id: Option<String>,
    /// The user's new business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's business-scoped user id before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_user_id: Option<String>,
}

/// The kinds of system message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemChange {
    /// `user_changed_number`: the user moved their WhatsApp account to a new
    /// number, which is shared (`wa_id`).
    NumberChanged,
    /// `user_changed_user_id`: the user's BSUID changed and no number is shared.
    UserIdChanged,
    /// Anything else.
    Other,
}

impl SystemEvent {
    /// Which change this is.
    pub fn change(&self) -> SystemChange {
        match self.kind.as_str() {
            "user_changed_number" => SystemChange::NumberChanged,
            "user_changed_user_id" => SystemChange::UserIdChanged,
            _ => SystemChange::Other,
        }
    }

    /// The user's new number (E.164), for number changes.
    pub fn new_number(&self) -> Option<String> {
        present(&self.wa_id)
            .or(present(&self.new_wa_id))
            .map(e164_from_wa_id)
    }

    /// The user's new business-scoped user id.
    pub fn new_user_id(&self) -> Option<&str> {
        present(&self.user_id)
    }

    /// The user's business-scoped user id before the change.
    pub fn previous_user_id(&self) -> Option<&str> {
        present(&self.previous_user_id)
    }
}

/// A non-blank optional string, trimmed.
fn present(value: &Option<String>) -> Option<&str> {
    nonblank(value.as_deref())
}

/// A non-blank string, trimmed.
fn nonblank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Type of an inbound message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundKind {
    /// Typed text.
    #[default]
    Text,
    /// Tap on a template quick reply.
    Button,
    /// Tap on an interactive reply button or list row.
    Interactive,
    /// An emoji reaction to a message.
    Reaction,
    /// A photo.
    Image,
    /// A video.
    Video,
    /// A voice note or audio file.
    Audio,
    /// A file.
    Document,
    /// A sticker.
    Sticker,
    /// A shared location.
    Location,
    /// A message WhatsApp could not pass on (its `errors` hold 131051).
    Unsupported,
    /// WhatsApp reports a change of the user's number or BSUID.
    System,
    /// Any other type (media, reaction, ...); serializes as `other`.
    #[serde(other)]
    Other,
}

/// A template quick-reply tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonReply {
    /// The payload given with the template.
    #[serde(default)]
    pub payload: String,
    /// The button's label.
    #[serde(default)]
    pub text: String,
}

/// An interactive reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interactive {
    /// `button_reply` or `list_reply`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// For `button_reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<IdTitle>,
    /// For `list_reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_reply: Option<IdTitle>,
}

/// An emoji reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// `wamid....` of the message reacted to.
    #[serde(default)]
    pub message_id: String,
    /// The emoji; empty when the reaction was removed.
    #[serde(default)]
    pub emoji: String,
}

/// A media attachment (only its description is kept; the file stays at Meta).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// Meta's media id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The contact's caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// File name, for documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A shared location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Eq for Location {}

/// Id and title of an interactive reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTitle {
    /// The id given with the interactive message.
    #[serde(default)]
    pub id: String,
    /// The label the contact saw.
    #[serde(default)]
    pub title: String,
}

/// What an inbound message replies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContext {
    /// The business number that sent the original message.
    #[serde(default)]
    pub from: String,
    /// `wamid....` of the original message.
    #[serde(default)]
    pub id: String,
}

impl InboundMessage {
    /// The sender's number (E.164), when the message carries it.
    pub fn sender_number(&self) -> Option<String> {
        present(&self.from).map(e164_from_wa_id)
    }

    /// The sender's business-scoped user id, when the message carries it.
    pub fn sender_user_id(&self) -> Option<&str> {
        present(&self.from_user_id)
    }

    /// Why the message's sender (or, for a system message, the number or
    /// user ids it reports) may not be stored; `None` when every one present
    /// is a WhatsApp number or a BSUID. Such a message is kept for review.
    pub fn unusable_sender(&self) -> Option<String> {
        unusable_sender(present(&self.from), present(&self.from_user_id)).or_else(|| {
            let system = self.system.as_ref()?;
            let number = present(&system.wa_id).or(present(&system.new_wa_id));
            unusable_sender(number, system.new_user_id())
                .or_else(|| unusable_sender(None, system.previous_user_id()))
        })
    }

    /// The typed text, for text messages.
    pub fn text_body(&self) -> Option<&str> {
        self.text.as_ref().map(|t| t.body.as_str())
    }

    /// The payload of a template quick reply or the id of an interactive
    /// button reply: what the business attached to the tapped button.
    pub fn button_payload(&self) -> Option<&str> {
        match self.kind {
            InboundKind::Button => self.button.as_ref().map(|b| b.payload.as_str()),
            InboundKind::Interactive => self
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref())
                .map(|r| r.id.as_str()),
            _ => None,
        }
    }

    /// What the contact typed or tapped, as words: the text, a quick-reply
    /// button's label, an interactive reply's title. `None` for other kinds.
    /// Keywords are read from this.
    pub fn words(&self) -> Option<&str> {
        match self.kind {
            InboundKind::Text => self.text_body(),
            InboundKind::Button => self.button.as_ref().map(|b| b.text.as_str()),
            InboundKind::Interactive => self
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()))
                .map(|r| r.title.as_str()),
            _ => None,
        }
    }

    /// The message as an advisor should read it in the conversation: the
    /// words, or what it is ("Photo: caption", "Reacted 👍", "Location: …").
    pub fn display_text(&self) -> String {
        if let Some(words) = self.words() {
            return words.to_owned();
        }
        let media = |label: &str, media: &Option<Media>| {
            let media = media.as_ref();
            let detail = media
                .and_then(|m| m.caption.as_deref().or(m.filename.as_deref()))
                .filter(|d| !d.trim().is_empty());
            match detail {
                Some(detail) => format!("{label}: {detail}"),
                None => label.to_owned(),
            }
        };
        match self.kind {
            InboundKind::Reaction => match self.reaction.as_ref().map(|r| r.emoji.as_str()) {
                Some(emoji) if !emoji.is_empty() => format!("Reacted {emoji} to a message"),
                _ => "Removed a reaction".to_owned(),
            },
            InboundKind::Image => media("Photo", &self.image),
            InboundKind::Video => media("Video", &self.video),
            InboundKind::Audio => media("Voice message or audio", &self.audio),
            InboundKind::Document => media("Document", &self.document),
            InboundKind::Sticker => "Sticker".to_owned(),
            InboundKind::Location => match &self.location {
                Some(l) => {
                    let place = [l.name.as_deref(), l.address.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ");
                    let at = format!("{:.5}, {:.5}", l.latitude, l.longitude);
                    if place.is_empty() {
                        format!("Location: {at}")
                    } else {
                        format!("Location: {place} ({at})")
                    }
                }
                None => "Location".to_owned(),
            },
            InboundKind::System => match &self.system {
                Some(system) if !system.body.trim().is_empty() => system.body.clone(),
                _ => "WhatsApp reported a change of this user's number or id".to_owned(),
            },
            InboundKind::Text | InboundKind::Button | InboundKind::Interactive => String::new(),
            InboundKind::Unsupported => {
                "A message WhatsApp does not support (error 131051): ask the contact to send it another way".to_owned()
            }
            InboundKind::Other => "A message of a kind this app cannot show".to_owned(),
        }
    }

    /// When the contact sent it; `None` when the timestamp is malformed.
    pub fn sent_at(&self) -> Option<DateTime<Utc>> {
        parse_timestamp(&self.timestamp)
    }
}

/// Delivery status of an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// `wamid....` of the outbound message.
    pub id: String,
    /// The new status.
    pub status: DeliveryStatus,
    /// Unix seconds, as a string; see [`parse_timestamp`].
    pub timestamp: String,
    /// Recipient's WhatsApp id; absent for users known only by BSUID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub recipient_id: String,
    /// Recipient's business-scoped user id (since 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    /// Why it failed (for `failed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
    /// The send's `biz_opaque_callback_data`, returned as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
}

/// Status of an outbound message. Arrives out of order and repeatedly;
/// `read` implies `delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted by WhatsApp's servers.
    Sent,
    /// Arrived on the contact's phone.
    Delivered,
    /// Opened by the contact.
    Read,
    /// Will not be delivered; see `errors`.
    Failed,
    /// A status we do not know (`deleted`, `warning`, ...); serializes as `other`.
    #[serde(other)]
    Other,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Other => "other",
        }
    }

    /// What it means for our message; `None` for statuses we do not track.
    pub fn message_status(self) -> Option<crate::vocab::MessageStatus> {
        use crate::vocab::MessageStatus as M;
        match self {
            DeliveryStatus::Sent => Some(M::Sent),
            DeliveryStatus::Delivered => Some(M::Delivered),
            DeliveryStatus::Read => Some(M::Read),
            DeliveryStatus::Failed => Some(M::Failed),
            DeliveryStatus::Other => None,
        }
    }
}

/// An error in a `failed` status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusError {
    /// Cloud API error code, e.g. [`ERROR_UNDELIVERABLE`].
    pub code: i64,
    /// Short title.
    #[serde(default)]
    pub title: String,
    /// Longer message, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Details, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
}

impl StatusUpdate {
    /// The recipient's number (E.164) and BSUID, when the status carries both.
    /// A pair that is not a number and a BSUID is not learned from.
    pub fn recipient_number_and_user_id(&self) -> Option<(String, &str)> {
        let number = self.recipient_id.trim();
        let user_id = present(&self.recipient_user_id)?;
        (is_wa_id(number) && is_user_id(user_id)).then(|| (e164_from_wa_id(number), user_id))
    }

    /// When the status happened; `None` when the timestamp is malformed.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        parse_timestamp(&self.timestamp)
    }

    /// Code of the first error, for `failed` statuses.
    pub fn error_code(&self) -> Option<i64> {
        self.errors.first().map(|e| e.code)
    }
}

impl WebhookEnvelope {
    /// An envelope with one `messages` change for `value` from WABA `waba_id`.
    pub fn single(waba_id: impl Into<String>, value: ChangeValue) -> Self {
        Self {
            object: WEBHOOK_OBJECT.to_owned(),
            entry: vec![WebhookEntry {
                id: waba_id.into(),
                changes: vec![WebhookChange {
                    field: MESSAGES_FIELD.to_owned(),
                    value,
                }],
            }],
        }
    }

    /// Every `messages` change value, across entries.
    pub fn message_values(&self) -> impl Iterator<Item = &ChangeValue> {
        self.entry
            .iter()
            .flat_map(|e| &e.changes)
            .filter(|c| c.field == MESSAGES_FIELD)
            .map(|c| &c.value)
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Parses a webhook timestamp (Unix seconds as a decimal string).
pub fn parse_timestamp(timestamp: &str) -> Option<DateTime<Utc>> {
    let seconds: i64 = timestamp.trim().parse().ok()?;
    DateTime::from_timestamp(seconds, 0)
}

/// Formats a time as a webhook timestamp (Unix seconds, sub-seconds dropped).
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.timestamp().to_string()
}

/// True for a WhatsApp id as Meta sends it in `from` and `wa_id`: the
/// number's 7 to 15 digits (E.164 without the `+`; one `+` is tolerated),
/// no leading zero. Anything else is not stored as a number.
pub fn is_wa_id(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// True for a business-scoped user id (BSUID) as Meta sends it: a
/// two-letter country code, a dot and dot-separated letters and digits
/// (`US.13491208655302741918`, a parent's `US.ENT.1349...`), at most 128
/// characters.
pub fn is_user_id(text: &str) -> bool {
    let Some((country, rest)) = text.split_once('.') else {
        return false;
    };
    text.len() <= 128
        && country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && rest
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Why a sender field may not be stored, `None` when it may: a present
/// `from` must be a WhatsApp id, a present `from_user_id` a BSUID.
fn unusable_sender(number: Option<&str>, user_id: Option<&str>) -> Option<String> {
    if let Some(number) = number.filter(|n| !is_wa_id(n)) {
        return Some(format!(
            "the sender {number:?} is not a WhatsApp number (7 to 15 digits)"
        ));
    }
    user_id
        .filter(|u| !is_user_id(u))
        .map(|user_id| format!("the sender's user id {user_id:?} is not a business-scoped user id"))
}

/// WhatsApp id (digits only) of an E.164 number: the `+` dropped.
pub fn wa_id_from_e164(e164: &str) -> String {
    e164.trim().trim_start_matches('+').to_owned()
}

/// E.164 form of a WhatsApp id: `+` and the digits.
pub fn e164_from_wa_id(wa_id: &str) -> String {
    format!("+{}", wa_id.trim().trim_start_matches('+'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn senders_are_numbers_or_business_scoped_user_ids() {
        for number in ["447911123456", "+447911123456", "1555123"] {
            assert!(is_wa_id(number), "{number}");
        }
        for not in [
            "+=1+1<script>",
            "",
            "123456",
            "1234567890123456",
            "0447911123456",
            "44 7911 123456",
            "++447911123456",
        ] {
            assert!(!is_wa_id(not), "{not}");
        }
        for id in [
            "US.13491208655302741918",
            "GB.ENT.9",
            "ZZ.6543217",
            "GB.NEWER",
        ] {
            assert!(is_user_id(id), "{id}");
        }
        for not in [
            "13491208655302741918",
            "us.1",
            "GBR.1",
            "GB.",
            "GB..1",
            "GB.1<x>",
            "GB.1 2",
            &format!("GB.{}", "1".repeat(130)),
        ] {
            assert!(!is_user_id(not), "{not}");
        }
        let message = |from: Option<&str>, user_id: Option<&str>| InboundMessage {
            from: from.map(str::to_owned),
            from_user_id: user_id.map(str::to_owned),
            ..InboundMessage::default()
        };
        assert_eq!(
            message(Some("447911123456"), Some("GB.1")).unusable_sender(),
            None
        );
        assert_eq!(message(None, Some("GB.1")).unusable_sender(), None);
        assert!(message(Some("+=1+1<script>"), None)
            .unusable_sender()
            .is_some());
        assert!(message(Some("447911123456"), Some("<b>"))
            .unusable_sender()
            .is_some());
        let contact = WebhookContact {
            wa_id: Some("+=1".into()),
            user_id: Some("GB.1".into()),
            ..WebhookContact::default()
        };
        assert_eq!(
            contact.number_and_user_id(),
            None,
            "an invalid pair is not learned"
        );
    }

    fn request_id() -> &'static str {
        "req-42"
    }

    #[test]
    fn opt_in_request_serializes_exactly_as_the_platform_expects() {
        let message = SendMessage::opt_in_request(
            "+15551234567",
            "advisor_opt_in",
            "en_US",
            vec!["Jane Smith, Acme Wealth".into()],
            request_id(),
        );
        let expected = json!({"messaging_product":"whatsapp","to":"15551234567","type":"template",
         "template":{"name":"advisor_opt_in","language":{"code":"en_US"},
          "components":[
           {"type":"body","parameters":[{"type":"text","text":"Jane Smith, Acme Wealth"}]},
           {"type":"button","sub_type":"quick_reply","index":"0",
            "parameters":[{"type":"payload","payload":"OPTIN_YES:req-42"}]},
           {"type":"button","sub_type":"quick_reply","index":"1",
            "parameters":[{"type":"payload","payload":"OPTIN_NO:req-42"}]}]}});
        assert_eq!(serde_json::to_value(&message).unwrap(), expected);
        let back: SendMessage = serde_json::from_value(expected).unwrap();
        assert_eq!(back, message);
        let template = back.as_template().unwrap();
        assert_eq!(template.body_texts(), ["Jane Smith, Acme Wealth"]);
        let replies = template.quick_replies();
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[1].index, "1");
        assert_eq!(replies[1].payload, "OPTIN_NO:req-42");
    }

    #[test]
    fn text_message_serializes_exactly() {
        let message = SendMessage::text("+15551234567", "Thanks!");
        assert_eq!(
            serde_json::to_string(&message).unwrap(),
            r#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"Thanks!"}}"#
        );
        assert_eq!(message.as_text(), Some("Thanks!"));
        assert!(message.as_template().is_none());
    }

    #[test]
    fn unsupported_message_types_are_refused() {
        let image =
            json!({"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"x"}});
        assert!(serde_json::from_value::<SendMessage>(image).is_err());
        let missing = json!({"messaging_product":"whatsapp","to":"1","type":"text"});
        assert!(serde_json::from_value::<SendMessage>(missing).is_err());
    }

    #[test]
    fn opt_in_payloads_parse_and_round_trip() {
        let yes = OptInPayload::parse("OPTIN_YES:abc").unwrap();
        assert_eq!(yes.answer, OptInAnswer::Yes);
        assert_eq!(yes.request_id, "abc");
        assert_eq!(yes.to_payload(), "OPTIN_YES:abc");
        let no = OptInPayload::parse("OPTIN_NO:a:b").unwrap();
        assert_eq!(no.answer, OptInAnswer::No);
        assert_eq!(no.request_id, "a:b");
        for junk in [
            "",
            "OPTIN_YES:",
            "OPTIN_MAYBE:x",
            "optin_yes:x",
            "YES",
            " OPTIN_YES:x",
        ] {
            assert_eq!(OptInPayload::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn send_response_and_error_body_parse() {
        let ok: SendResponse = serde_json::from_value(json!({"messaging_product":"whatsapp",
            "contacts":[{"input":"15551234567","wa_id":"15551234567"}],
            "messages":[{"id":"wamid.HBgL","message_status":"accepted"}]}))
        .unwrap();
        assert_eq!(ok.messages[0].id, "wamid.HBgL");
        assert_eq!(ok.contacts[0].wa_id.as_deref(), Some("15551234567"));

        let err: GraphErrorBody = serde_json::from_value(json!({"error":{
            "message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",
            "type":"OAuthException","code":131056,
            "error_data":{"messaging_product":"whatsapp","details":"Too many"},
            "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}))
        .unwrap();
        assert_eq!(err.error.code, 131056);
        assert_eq!(err.error.kind, "OAuthException");
        assert_eq!(err.error.error_subcode, Some(2494055));
        assert_eq!(err.error.error_data.unwrap().details, "Too many");

        let minimal: Value =
            serde_json::to_value(GraphErrorBody::new(100, "OAuthException", "bad")).unwrap();
        assert_eq!(
            minimal,
            json!({"error":{"message":"bad","type":"OAuthException","code":100}})
        );
    }

    fn envelope(value: Value) -> Value {
        json!({"object":"whatsapp_business_account",
         "entry":[{"id":"WABA1","changes":[{"field":"messages","value":value}]}]})
    }

    #[test]
    fn button_tap_webhook_parses() {
        let body = envelope(json!({
            "messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
            "contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"15551234567"}],
            "messages":[{"from":"15551234567","id":"wamid.IN1","timestamp":"1700000000",
              "type":"button","button":{"payload":"OPTIN_YES:req-42","text":"Yes"},
              "context":{"from":"15550001111","id":"wamid.TPL"}}]}));
        let parsed: WebhookEnvelope = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), body);
        let value = parsed.message_values().next().unwrap();
        assert_eq!(value.metadata.phone_number_id, "PNID");
        assert_eq!(value.contacts[0].profile.name, "Kerry Fisher");
        let message = &value.messages[0];
        assert_eq!(message.kind, InboundKind::Button);
        assert_eq!(message.button_payload(), Some("OPTIN_YES:req-42"));
        assert_eq!(message.context.as_ref().unwrap().id, "wamid.TPL");
        assert_eq!(message.sent_at().unwrap().timestamp(), 1_700_000_000);
    }

    #[test]
    fn text_and_interactive_messages_parse() {
        let body = envelope(json!({
            "messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
            "messages":[
              {"from":"15551234567","id":"wamid.T","timestamp":"1700000001","type":"text","text":{"body":"yes"}},
              {"from":"15551234567","id":"wamid.I","timestamp":"1700000002","type":"interactive",
               "interactive":{"type":"button_reply","button_reply":{"id":"b1","title":"Sure"}}},
              {"from":"15551234567","id":"wamid.R","timestamp":"1700000003","type":"reaction",
               "reaction":{"message_id":"wamid.X","emoji":"x"}},
              {"from":"15551234567","id":"wamid.O","timestamp":"1700000004","type":"order","order":{}}]}));
        let parsed: WebhookEnvelope = serde_json::from_value(body).unwrap();
        let messages = &parsed.entry[0].changes[0].value.messages;
        assert_eq!(messages[0].text_body(), Some("yes"));
        assert_eq!(messages[0].button_payload(), None);
        assert_eq!(messages[1].button_payload(), Some("b1"));
        assert_eq!(messages[2].kind, InboundKind::Reaction);
        assert_eq!(messages[3].kind, InboundKind::Other);
    }

    #[test]
    fn status_webhooks_parse_including_unknown_statuses_and_fields() {
        let body = envelope(json!({
            "messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
            "statuses":[
              {"id":"wamid.A","status":"failed","timestamp":"1700000000","recipient_id":"15551234567",
               "errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable",
                 "error_data":{"details":"Message Undeliverable."},"href":"https://developers.facebook.com/"}]},
              {"id":"wamid.A","status":"read","timestamp":"1700000005","recipient_id":"15551234567",
               "biz_opaque_callback_data":"optin-msg-7-k",
               "conversation":{"id":"c","origin":{"type":"marketing"}},
               "pricing":{"billable":true,"pricing_model":"CBP","category":"marketing"}},
              {"id":"wamid.A","status":"deleted","timestamp":"1700000009","recipient_id":"15551234567"}]}));
        let parsed: WebhookEnvelope = serde_json::from_value(body).unwrap();
        let statuses = &parsed.entry[0].changes[0].value.statuses;
        assert_eq!(statuses[0].status, DeliveryStatus::Failed);
        assert_eq!(statuses[0].error_code(), Some(ERROR_UNDELIVERABLE));
        assert_eq!(
            statuses[0].errors[0].error_data.as_ref().unwrap().details,
            "Message Undeliverable."
        );
        assert_eq!(statuses[1].status, DeliveryStatus::Read);
        assert_eq!(statuses[1].at().unwrap().timestamp(), 1_700_000_005);
        assert_eq!(
            statuses[1].biz_opaque_callback_data.as_deref(),
            Some("optin-msg-7-k")
        );
        assert_eq!(statuses[0].biz_opaque_callback_data, None);
        assert_eq!(statuses[2].status, DeliveryStatus::Other);
    }

    #[test]
    fn sends_carry_callback_data_at_the_top_level_up_to_meta_s_limit() {
        let plain = serde_json::to_value(SendMessage::text("+15551234567", "hi")).unwrap();
        assert!(plain.get("biz_opaque_callback_data").is_none(), "{plain}");
        let keyed = SendMessage::text("+15551234567", "hi")
            .with_callback_data("optin-msg-7-k")
            .unwrap();
        let json = serde_json::to_value(&keyed).unwrap();
        assert_eq!(json["biz_opaque_callback_data"], "optin-msg-7-k");
        assert_eq!(json["text"]["body"], "hi");
        let back: SendMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, keyed);
        let longest = "k".repeat(MAX_CALLBACK_DATA_CHARS);
        assert!(SendMessage::text("+15551234567", "hi")
            .with_callback_data(&longest)
            .is_some());
        assert!(SendMessage::text("+15551234567", "hi")
            .with_callback_data(&format!("{longest}k"))
            .is_none());
    }

    #[test]
    fn changes_of_other_fields_do_not_break_the_envelope() {
        let body = json!({"object":"whatsapp_business_account","entry":[{"id":"W","time":1,"changes":[
            {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":1}}]}]});
        let parsed: WebhookEnvelope = serde_json::from_value(body).unwrap();
        assert_eq!(parsed.message_values().count(), 0);
    }

    #[test]
    fn timestamps_and_ids_convert() {
        let at = parse_timestamp("1700000000").unwrap();
        assert_eq!(at.to_rfc3339(), "2023-11-14T22:13:20+00:00");
        assert_eq!(format_timestamp(at), "1700000000");
        assert_eq!(parse_timestamp("soon"), None);
        assert_eq!(parse_timestamp(""), None);
        assert_eq!(wa_id_from_e164("+15551234567"), "15551234567");
        assert_eq!(wa_id_from_e164("15551234567"), "15551234567");
        assert_eq!(e164_from_wa_id("15551234567"), "+15551234567");
        assert_eq!(e164_from_wa_id("+15551234567"), "+15551234567");
    }

    #[test]
    fn built_envelopes_have_the_platform_shape() {
        let value = ChangeValue {
            messaging_product: MESSAGING_PRODUCT.into(),
            metadata: Metadata {
                display_phone_number: "15550001111".into(),
                phone_number_id: "PNID".into(),
            },
            statuses: vec![StatusUpdate {
                id: "wamid.A".into(),
                status: DeliveryStatus::Sent,
                timestamp: "1700000000".into(),
                recipient_id: "15551234567".into(),
                recipient_user_id: None,
                errors: vec![],
                biz_opaque_callback_data: None,
            }],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(WebhookEnvelope::single("WABA1", value)).unwrap(),
            envelope(json!({"messaging_product":"whatsapp",
              "metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
              "statuses":[{"id":"wamid.A","status":"sent","timestamp":"1700000000","recipient_id":"15551234567"}]}))
        );
    }

    #[test]
    fn an_unreadable_item_costs_nothing_else_in_the_body() {
        // A 2026 system message (no `from`) beside an ordinary text, as Meta
        // may batch them, a message whose `type` is not even a string, a
        // status and a field this service does not handle.
        let body = serde_json::json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[
            {"field":"messages","value":{"messaging_product":"whatsapp",
              "metadata":{"display_phone_number":"15550001111","phone_number_id":"PNID"},
              "messages":[
                {"system":{"body":"User changed from 1 to 2","type":"user_changed_user_id"},"timestamp":"1764080000","type":"system","id":"wamid.SYS"},
                {"from":"447911123456","id":"wamid.BAD","timestamp":"1764080000","type":{"not":"a type"}},
                {"from":"447911123456","id":"wamid.TXT","timestamp":"1764080001","type":"text","text":{"body":"STOP"}}],
              "statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1764080002","recipient_id":"447911123456"}]}},
            {"field":"message_template_status_update","value":{"event":"PAUSED","message_template_name":"optin_request"}},
            {"field":"account_alerts","value":{"entity_type":"WABA","alert_info":{"alert_severity":"INFORMATIONAL"}}}]}]});
        let items = WebhookItems::read(body.to_string().as_bytes());
        assert_eq!(items.changes.len(), 1);
        assert_eq!(
            items.signals.len(),
            1,
            "the template pause is read as a signal"
        );
        let change = &items.changes[0];
        assert_eq!(change.metadata.phone_number_id, "PNID");
        assert_eq!(change.messages.len(), 2);
        assert_eq!(change.messages[0].kind, InboundKind::System);
        assert_eq!(change.messages[0].from, None);
        assert_eq!(change.messages[1].text_body(), Some("STOP"));
        assert_eq!(change.statuses.len(), 1);
        assert_eq!(items.unreadable.len(), 2, "{:?}", items.unreadable);
        assert!(
            items.unreadable[0].reason.starts_with("a message"),
            "{}",
            items.unreadable[0].reason
        );
        assert_eq!(items.unreadable[0].item["id"], "wamid.BAD");
        assert!(items.unreadable[1].reason.contains("account_alerts"));
    }

    #[test]
    fn an_unsupported_message_reads_and_says_so() {
        // Meta's shape for a type it cannot deliver (131051).
        let message: InboundMessage = serde_json::from_value(serde_json::json!({
            "from": "16315551234", "id": "wamid.UNSUP", "timestamp": "1764080000",
            "errors": [{"code": 131051, "details": "Message type is not currently supported",
                        "title": "Unsupported message type"}],
            "type": "unsupported"}))
        .unwrap();
        assert_eq!(message.kind, InboundKind::Unsupported);
        assert!(message.display_text().contains("131051"));
        assert_eq!(message.words(), None, "never a keyword");
    }

    // Shapes of Meta's business-scoped user id payloads, as published in the
    // Cloud API "System messages webhook reference" and changelog (11 August
    // 2026: `user_changed_user_id` with `previous_user_id`, no `from` and no
    // `contacts`; `user_changed_number` with the new `wa_id` and `user_id`),
    // and as read by client libraries (`from_user_id` on messages, `user_id`
    // in `contacts[]`, `recipient_user_id` on statuses).
    fn change_with(value: Value) -> MessagesChange {
        let mut value = value;
        value["messaging_product"] = "whatsapp".into();
        value["metadata"] = json!({"display_phone_number":"15550001111","phone_number_id":"PNID"});
        let items = WebhookItems::read(envelope(value).to_string().as_bytes());
        assert!(items.unreadable.is_empty(), "{:?}", items.unreadable);
        items.changes.into_iter().next().unwrap()
    }

    #[test]
    fn business_scoped_user_ids_are_read_from_contacts_messages_and_statuses() {
        let change = change_with(json!({
            "contacts":[{"profile":{"name":"Kerry Fisher","username":"@kerry"},
                         "wa_id":"447911123456","user_id":"GB.13491208655302741918"}],
            "messages":[{"from":"447911123456","from_user_id":"GB.13491208655302741918",
                         "id":"wamid.B1","timestamp":"1764080000","type":"text","text":{"body":"yes"}}],
            "statuses":[{"id":"wamid.S1","status":"read","timestamp":"1764080001",
                         "recipient_id":"447911123456","recipient_user_id":"GB.13491208655302741918"}]}));
        let contact = &change.contacts[0];
        assert_eq!(contact.profile.username.as_deref(), Some("@kerry"));
        assert_eq!(
            contact.number_and_user_id(),
            Some(("+447911123456".to_owned(), "GB.13491208655302741918"))
        );
        let message = &change.messages[0];
        assert_eq!(message.sender_number().as_deref(), Some("+447911123456"));
        assert_eq!(message.sender_user_id(), Some("GB.13491208655302741918"));
        assert_eq!(
            change.statuses[0].recipient_number_and_user_id(),
            Some(("+447911123456".to_owned(), "GB.13491208655302741918"))
        );
    }

    #[test]
    fn a_username_user_arrives_with_a_bsuid_only() {
        let change = change_with(json!({
            "contacts":[{"profile":{"name":"Kerry","username":"@kerry"},"user_id":"GB.1349"}],
            "messages":[{"from_user_id":"GB.1349","id":"wamid.B2","timestamp":"1764080000",
                         "type":"text","text":{"body":"STOP"}}],
            "statuses":[{"id":"wamid.S2","status":"delivered","timestamp":"1764080001",
                         "recipient_user_id":"GB.1349"}]}));
        assert_eq!(change.contacts[0].number_and_user_id(), None);
        let message = &change.messages[0];
        assert_eq!(message.sender_number(), None);
        assert_eq!(message.sender_user_id(), Some("GB.1349"));
        assert_eq!(message.words(), Some("STOP"));
        let status = &change.statuses[0];
        assert_eq!(status.recipient_number_and_user_id(), None);
        assert_eq!(status.status, DeliveryStatus::Delivered);
        // Re-serialized, a status without a number leaves `recipient_id` out.
        let back = serde_json::to_value(status).unwrap();
        assert!(back.get("recipient_id").is_none(), "{back}");
    }

    #[test]
    fn system_messages_of_every_kind_parse() {
        let change = change_with(json!({"messages":[
            {"from":"447911123456","from_user_id":"GB.OLD","id":"wamid.N","timestamp":"1764080000","type":"system",
             "system":{"body":"User Kerry changed from 447911123456 to 447911654321","wa_id":"447911654321",
                       "type":"user_changed_number","user_id":"GB.NEW","previous_user_id":"GB.OLD"}},
            {"id":"wamid.U","timestamp":"1764080001","type":"system",
             "system":{"body":"User Kerry changed from GB.NEW to GB.NEWER","type":"user_changed_user_id",
                       "user_id":"GB.NEWER","parent_user_id":"GB.ENT.9","previous_user_id":"GB.NEW",
                       "previous_parent_user_id":"GB.ENT.8"}},
            {"from":"447911123456","id":"wamid.L","timestamp":"1764080002","type":"system",
             "system":{"body":"User A changed from 1 to 2","new_wa_id":"447911000000","type":"customer_changed_number"}},
            {"from":"447911123456","id":"wamid.X","timestamp":"1764080003","type":"system",
             "system":{"body":"Something new","type":"user_did_something_else"}}]}));
        let [number, user_id, legacy, unknown] = &change.messages[..] else {
            panic!("four messages expected: {:?}", change.messages)
        };
        assert_eq!(number.kind, InboundKind::System);
        let system = number.system.as_ref().unwrap();
        assert_eq!(system.change(), SystemChange::NumberChanged);
        assert_eq!(system.new_number().as_deref(), Some("+447911654321"));
        assert_eq!(system.new_user_id(), Some("GB.NEW"));
        assert_eq!(system.previous_user_id(), Some("GB.OLD"));
        assert_eq!(number.display_text(), system.body);
        assert_eq!(number.words(), None, "a system message is no keyword");

        assert_eq!(user_id.from, None);
        let system = user_id.system.as_ref().unwrap();
        assert_eq!(system.change(), SystemChange::UserIdChanged);
        assert_eq!(system.new_number(), None);
        assert_eq!(system.new_user_id(), Some("GB.NEWER"));
        assert_eq!(system.previous_user_id(), Some("GB.NEW"));

        let system = legacy.system.as_ref().unwrap();
        assert_eq!(system.change(), SystemChange::Other);
        assert_eq!(system.new_number().as_deref(), Some("+447911000000"));
        let system = unknown.system.as_ref().unwrap();
        assert_eq!(system.change(), SystemChange::Other);
        assert_eq!(
            system.kind, "user_did_something_else",
            "kept as Meta named it"
        );
    }

    #[test]
    fn sends_address_the_number_or_else_the_business_scoped_user_id() {
        let by_number = SendMessage::text("+447911123456", "Thanks!");
        assert_eq!(
            by_number.address(),
            Some(Addressee::Number("447911123456".into()))
        );
        let by_user = by_number
            .clone()
            .addressed_to(&Addressee::User("GB.1349".into()));
        assert_eq!(
            serde_json::to_value(&by_user).unwrap(),
            json!({"messaging_product":"whatsapp","recipient":"GB.1349","type":"text","text":{"body":"Thanks!"}})
        );
        assert_eq!(by_user.address(), Some(Addressee::User("GB.1349".into())));
        let back = by_user.addressed_to(&Addressee::Number("+447911123456".into()));
        assert_eq!(back, by_number);
        // Meta's precedence: `to` wins when both are given.
        let both: SendMessage = serde_json::from_value(json!({"messaging_product":"whatsapp",
            "to":"447911123456","recipient":"GB.1349","type":"text","text":{"body":"hi"}}))
        .unwrap();
        assert_eq!(
            both.address(),
            Some(Addressee::Number("447911123456".into()))
        );
        let neither: SendMessage = serde_json::from_value(
            json!({"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}),
        )
        .unwrap();
        assert_eq!(neither.address(), None);
        // The answer to a BSUID send names the user, maybe without a number.
        let answer: SendResponse = serde_json::from_value(json!({"messaging_product":"whatsapp",
            "contacts":[{"input":"GB.1349","user_id":"GB.1349"}],"messages":[{"id":"wamid.Z"}]}))
        .unwrap();
        assert_eq!(answer.contacts[0].wa_id, None);
        assert_eq!(answer.contacts[0].user_id.as_deref(), Some("GB.1349"));
    }

    #[test]
    fn a_body_that_is_not_a_webhook_is_one_unreadable_item() {
        let items = WebhookItems::read(b"not json at all");
        assert!(items.changes.is_empty());
        assert_eq!(items.unreadable.len(), 1);
        assert_eq!(items.unreadable[0].item, "not json at all");
        let items = WebhookItems::read(br#"{"object":"whatsapp_business_account"}"#);
        assert_eq!(items.unreadable[0].reason, "the body has no `entry` list");
    }

    #[test]
    fn replies_of_every_kind_read_as_what_they_are() {
        let message = |json: serde_json::Value| -> InboundMessage {
            let mut base = serde_json::json!({"from": "447911123456", "id": "wamid.X", "timestamp": "1764080000"});
            base.as_object_mut()
                .unwrap()
                .extend(json.as_object().unwrap().clone());
            serde_json::from_value(base).unwrap()
        };
        let button = message(
            serde_json::json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Call me"}}}),
        );
        assert_eq!(button.words(), Some("Call me"));
        assert_eq!(button.display_text(), "Call me");
        let list = message(
            serde_json::json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "l1", "title": "Tuesday", "description": "morning"}}}),
        );
        assert_eq!(list.display_text(), "Tuesday");
        let reaction = message(
            serde_json::json!({"type": "reaction", "reaction": {"message_id": "wamid.Y", "emoji": "👍"}}),
        );
        assert_eq!(reaction.words(), None, "a reaction is no keyword");
        assert_eq!(reaction.display_text(), "Reacted 👍 to a message");
        let image = message(
            serde_json::json!({"type": "image", "image": {"id": "m1", "mime_type": "image/jpeg", "caption": "my payslip"}}),
        );
        assert_eq!(image.display_text(), "Photo: my payslip");
        let document = message(
            serde_json::json!({"type": "document", "document": {"id": "m2", "filename": "statement.pdf"}}),
        );
        assert_eq!(document.display_text(), "Document: statement.pdf");
        let location = message(
            serde_json::json!({"type": "location", "location": {"latitude": 51.5074, "longitude": -0.1278, "name": "Office"}}),
        );
        assert_eq!(
            location.display_text(),
            "Location: Office (51.50740, -0.12780)"
        );
        let unknown = message(serde_json::json!({"type": "order", "order": {}}));
        assert_eq!(unknown.kind, InboundKind::Other);
        assert_eq!(
            unknown.display_text(),
            "A message of a kind this app cannot show"
        );
    }
}
