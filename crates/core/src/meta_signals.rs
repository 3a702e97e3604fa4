//! Meta's signals about the account rather than about one message: a
//! template's status or category changed, or a user stopped or resumed
//! marketing messages. Shapes as in Meta's webhook references for the
//! `message_template_status_update`, `template_category_update` and
//! `user_preferences` fields (see `docs/whatsapp-platform.md`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::templates::{TemplateCategory, TemplateStatus};

/// `field` of a template status change.
pub const TEMPLATE_STATUS_FIELD: &str = "message_template_status_update";
/// `field` of a template category change.
pub const TEMPLATE_CATEGORY_FIELD: &str = "template_category_update";
/// `field` of a user's marketing preference change.
pub const USER_PREFERENCES_FIELD: &str = "user_preferences";

/// One signal, read from one change of one account (`entry[].id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSignal {
    Template(TemplateSignal),
    Preference(UserPreference),
}

/// A template's status or category changed at Meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSignal {
    /// The WhatsApp Business Account (`entry[].id`).
    pub account_id: String,
    /// `message_template_name`.
    pub name: String,
    /// `message_template_language`, as Meta writes it (`en-US`, `en_US`, `es`).
    pub language: String,
    /// What changed.
    pub change: TemplateChange,
}

/// What Meta said about a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateChange {
    /// A new review status; `reason` and `title` (FIRST_PAUSE, ...) as given.
    Status {
        status: TemplateStatus,
        reason: Option<String>,
        title: Option<String>,
    },
    /// The template now is in `category` (a completed recategorization).
    Category {
        previous: Option<TemplateCategory>,
        category: TemplateCategory,
    },
    /// Meta will move the template to `category` at `at` (a warning).
    CategoryScheduled {
        category: TemplateCategory,
        at: Option<DateTime<Utc>>,
    },
}

/// A user stopped or resumed marketing messages (`user_preferences[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPreference {
    /// The user's WhatsApp id (E.164 digits).
    pub wa_id: String,
    /// Meta's description, e.g. "User requested to stop marketing messages".
    #[serde(default)]
    pub detail: String,
    /// `marketing_messages`.
    pub category: String,
    /// `stop` or `resume`.
    pub value: MarketingPreference,
    /// Unix seconds (a number here, unlike messages).
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// The business phone number id (`metadata.phone_number_id`) it came on.
    #[serde(skip)]
    pub phone_number_id: String,
}

/// A marketing preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketingPreference {
    Stop,
    Resume,
}

impl UserPreference {
    /// When the user changed it.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        self.timestamp.and_then(|s| DateTime::from_timestamp(s, 0))
    }
}

#[derive(Deserialize)]
struct StatusValue {
    event: String,
    message_template_name: String,
    #[serde(default)]
    message_template_language: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    other_info: Option<OtherInfo>,
}

#[derive(Deserialize)]
struct OtherInfo {
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct CategoryValue {
    message_template_name: String,
    #[serde(default)]
    message_template_language: String,
    new_category: String,
    #[serde(default)]
    previous_category: Option<String>,
    #[serde(default)]
    correct_category: Option<String>,
    #[serde(default)]
    category_update_timestamp: Option<i64>,
}

#[derive(Deserialize)]
struct PreferencesValue {
    #[serde(default)]
    metadata: crate::whatsapp::Metadata,
    #[serde(default)]
    user_preferences: Vec<serde_json::Value>,
}

/// Whether this service reads changes of `field` as account signals.
pub fn is_signal_field(field: &str) -> bool {
    matches!(
        field,
        TEMPLATE_STATUS_FIELD | TEMPLATE_CATEGORY_FIELD | USER_PREFERENCES_FIELD
    )
}

/// Reads the `value` of a change of a signal `field`. Items that cannot be
/// read come back with the reason, for review; the rest is returned.
pub fn read(
    field: &str,
    account_id: &str,
    value: &serde_json::Value,
) -> (Vec<AccountSignal>, Vec<(String, serde_json::Value)>) {
    let mut unreadable = Vec::new();
    let signals = match field {
        TEMPLATE_STATUS_FIELD => read_status(account_id, value).map(|s| vec![s]),
        TEMPLATE_CATEGORY_FIELD => read_category(account_id, value).map(|s| vec![s]),
        USER_PREFERENCES_FIELD => {
            let (signals, bad) = read_preferences(value);
            unreadable = bad;
            Ok(signals)
        }
        _ => Err(format!("the field `{field}` is not handled")),
    };
    match signals {
        Ok(signals) => (signals, unreadable),
        Err(reason) => (Vec::new(), vec![(reason, value.clone())]),
    }
}

fn read_status(account_id: &str, value: &serde_json::Value) -> Result<AccountSignal, String> {
    let v = StatusValue::deserialize(value).map_err(|e| format!("a template status: {e}"))?;
    let status = TemplateStatus::from_meta(&v.event)
        .ok_or_else(|| format!("the template status `{}` is not known", v.event))?;
    Ok(AccountSignal::Template(TemplateSignal {
        account_id: account_id.to_owned(),
        name: v.message_template_name,
        language: v.message_template_language,
        change: TemplateChange::Status {
            status,
            reason: v.reason.filter(|r| !r.is_empty() && r != "NONE"),
            title: v.other_info.and_then(|i| i.title),
        },
    }))
}

fn read_category(account_id: &str, value: &serde_json::Value) -> Result<AccountSignal, String> {
    let v = CategoryValue::deserialize(value).map_err(|e| format!("a template category: {e}"))?;
    let category = |name: &str| {
        TemplateCategory::from_meta(name)
            .ok_or_else(|| format!("the template category `{name}` is not known"))
    };
    // With `correct_category`, the change is announced: `new_category` is
    // still the current one (Meta's reference says so).
    let change = match &v.correct_category {
        Some(coming) => TemplateChange::CategoryScheduled {
            category: category(coming)?,
            at: v
                .category_update_timestamp
                .and_then(|s| DateTime::from_timestamp(s, 0)),
        },
        None => TemplateChange::Category {
            previous: v.previous_category.as_deref().map(category).transpose()?,
            category: category(&v.new_category)?,
        },
    };
    Ok(AccountSignal::Template(TemplateSignal {
        account_id: account_id.to_owned(),
        name: v.message_template_name,
        language: v.message_template_language,
        change,
    }))
}

type Unread = Vec<(String, serde_json::Value)>;

fn read_preferences(value: &serde_json::Value) -> (Vec<AccountSignal>, Unread) {
    let v = match PreferencesValue::deserialize(value) {
        Ok(v) => v,
        Err(e) => {
            return (
                Vec::new(),
                vec![(format!("user preferences: {e}"), value.clone())],
            )
        }
    };
    let mut signals = Vec::new();
    let mut unreadable = Vec::new();
    for item in v.user_preferences {
        match UserPreference::deserialize(&item) {
            Ok(p) if p.category == "marketing_messages" => {
                signals.push(AccountSignal::Preference(UserPreference {
                    phone_number_id: v.metadata.phone_number_id.clone(),
                    ..p
                }));
            }
            Ok(p) => unreadable.push((
                format!("the preference category `{}` is not handled", p.category),
                item,
            )),
            Err(e) => unreadable.push((format!("a user preference: {e}"), item)),
        }
    }
    (signals, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pause_reads_with_its_title() {
        let value = json!({"event":"PAUSED","message_template_id":1689556908129832_u64,
            "message_template_name":"advisor_opt_in","message_template_language":"en_US",
            "reason":"NONE","other_info":{"title":"FIRST_PAUSE","description":"Paused for 3 hours"}});
        let (signals, bad) = read(TEMPLATE_STATUS_FIELD, "WABA1", &value);
        assert!(bad.is_empty());
        assert_eq!(
            signals,
            vec![AccountSignal::Template(TemplateSignal {
                account_id: "WABA1".into(),
                name: "advisor_opt_in".into(),
                language: "en_US".into(),
                change: TemplateChange::Status {
                    status: TemplateStatus::Paused,
                    reason: None,
                    title: Some("FIRST_PAUSE".into()),
                },
            })]
        );
    }

    #[test]
    fn completed_and_announced_recategorizations_differ() {
        let done = json!({"message_template_id":278077987957091_u64,"message_template_name":"welcome_template",
            "message_template_language":"en-US","previous_category":"UTILITY","new_category":"MARKETING"});
        let (signals, _) = read(TEMPLATE_CATEGORY_FIELD, "W", &done);
        let AccountSignal::Template(t) = &signals[0] else {
            panic!("{signals:?}")
        };
        assert_eq!(
            t.change,
            TemplateChange::Category {
                previous: Some(TemplateCategory::Utility),
                category: TemplateCategory::Marketing
            }
        );
        let coming = json!({"message_template_id":1,"message_template_name":"welcome_template",
            "message_template_language":"en-US","new_category":"UTILITY","correct_category":"MARKETING",
            "category_update_timestamp":1746169200});
        let (signals, _) = read(TEMPLATE_CATEGORY_FIELD, "W", &coming);
        let AccountSignal::Template(t) = &signals[0] else {
            panic!("{signals:?}")
        };
        assert!(matches!(
            t.change,
            TemplateChange::CategoryScheduled {
                category: TemplateCategory::Marketing,
                at: Some(_)
            }
        ));
    }

    #[test]
    fn preferences_read_per_user_and_unknown_parts_are_set_aside() {
        let value = json!({"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
            "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
            "user_preferences":[
                {"wa_id":"16505551234","detail":"User requested to stop marketing messages",
                 "category":"marketing_messages","value":"stop","timestamp":1731705721},
                {"wa_id":"16505551234","category":"something_new","value":"stop"},
                {"wa_id":"16505551234","category":"marketing_messages","value":"maybe"}]});
        let (signals, bad) = read(USER_PREFERENCES_FIELD, "W", &value);
        assert_eq!(signals.len(), 1);
        let AccountSignal::Preference(p) = &signals[0] else {
            panic!()
        };
        assert_eq!(p.value, MarketingPreference::Stop);
        assert_eq!(p.phone_number_id, "106540352242922");
        assert!(p.at().is_some());
        assert_eq!(bad.len(), 2, "{bad:?}");
    }

    #[test]
    fn unknown_statuses_are_set_aside_not_guessed() {
        let value = json!({"event":"SOMETHING_NEW","message_template_name":"t","message_template_language":"en"});
        let (signals, bad) = read(TEMPLATE_STATUS_FIELD, "W", &value);
        assert!(signals.is_empty());
        assert!(bad[0].0.contains("SOMETHING_NEW"));
    }
}
