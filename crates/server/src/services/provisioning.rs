//! Provisioning, for the `optin-server` subcommands and the admin API alike:
//! every input is checked here, with an error naming the field, before the
//! store writes it; a number another organization owns is refused.

use optin_core::admin::{OrganizationSettings, ReplayReport};
use optin_core::templates::TemplateCategory;
use optin_core::vocab::Role;

use crate::config::is_origin;
use crate::error::{AppError, AppResult};
use crate::store::provisioning::Conflict;
use crate::store::Store;
use crate::AppState;

/// Meta's ids (business accounts, phone numbers) are decimal digits.
fn meta_id(field: &'static str, text: &str) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 32 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid(
            "invalid_meta_id",
            field,
            format!("{field}: {text:?} is not a Meta id (1 to 32 digits, as shown in WhatsApp Manager)."),
        ));
    }
    Ok(text.to_owned())
}

/// Checks and normalizes settings: ids are digits, the SMS number becomes
/// E.164, origins are exact origins, names and tokens are not blank.
pub fn checked_settings(
    settings: &OrganizationSettings,
    default_region: Option<&str>,
) -> AppResult<OrganizationSettings> {
    let name = settings
        .name
        .as_deref()
        .map(|name| {
            optin_core::api::validate_name(name)
                .map(str::to_owned)
                .map_err(|message| AppError::invalid("invalid_name", "name", message))
        })
        .transpose()?;
    let whatsapp_business_account_id = settings
        .whatsapp_business_account_id
        .as_deref()
        .map(|id| meta_id("whatsapp_business_account_id", id))
        .transpose()?;
    let add_whatsapp_phone_number_ids = settings
        .add_whatsapp_phone_number_ids
        .iter()
        .map(|id| meta_id("whatsapp_phone_number_id", id))
        .collect::<AppResult<Vec<_>>>()?;
    let sms_number = settings
        .sms_number
        .as_deref()
        .map(|number| {
            optin_core::phone::to_e164(number, default_region).map_err(|e| {
                AppError::invalid("invalid_phone", "sms_number", format!("sms_number: {e}"))
            })
        })
        .transpose()?;
    let frame_origins = settings
        .frame_origins
        .as_ref()
        .map(|origins| {
            origins
                .iter()
                .map(|origin| {
                    let origin = origin.trim().trim_end_matches('/');
                    if is_origin(origin) {
                        Ok(origin.to_owned())
                    } else {
                        Err(AppError::invalid(
                            "invalid_origin",
                            "frame_origins",
                            format!("{origin:?} is not an origin like https://crm.example.com"),
                        ))
                    }
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .transpose()?;
    let whatsapp_access_token_env = settings
        .whatsapp_access_token_env
        .as_deref()
        .map(|var| {
            let var = var.trim();
            let mut bytes = var.bytes();
            let valid = bytes
                .next()
                .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
                && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && var.len() <= 128;
            if valid {
                Ok(var.to_owned())
            } else {
                Err(AppError::invalid(
                    "invalid_variable",
                    "whatsapp_access_token_env",
                    format!("{var:?} is not an environment variable name like ACME_WA_TOKEN."),
                ))
            }
        })
        .transpose()?;
    let sms_help_text = settings
        .sms_help_text
        .as_deref()
        .map(|text| {
            optin_core::admin::validate_sms_help_text(text)
                .map(|text| text.unwrap_or_default().to_owned())
                .map_err(|message| {
                    AppError::invalid("invalid_sms_help_text", "sms_help_text", message)
                })
        })
        .transpose()?;
    let alternate_opt_in_template = settings
        .alternate_opt_in_template
        .as_deref()
        .map(|name| checked_template_name(name.trim()).map(str::to_owned))
        .transpose()?;
    let sms_countries = settings
        .sms_countries
        .as_ref()
        .map(|countries| {
            let mut codes = countries
                .iter()
                .map(|text| {
                    optin_core::phone::country_code(text).ok_or_else(|| {
                        AppError::invalid(
                            "invalid_country",
                            "sms_countries",
                            format!("{text:?} is not a country code like GB or US."),
                        )
                    })
                })
                .collect::<AppResult<Vec<_>>>()?;
            codes.sort();
            codes.dedup();
            Ok::<_, AppError>(codes)
        })
        .transpose()?;
    use optin_core::admin::{MAX_RETENTION_MONTHS, MIN_RETENTION_MONTHS};
    let retention_months = settings
        .retention_months
        .map(|months| {
            if (MIN_RETENTION_MONTHS..=MAX_RETENTION_MONTHS).contains(&months) {
                Ok(months)
            } else {
                Err(AppError::invalid(
                    "invalid_retention",
                    "retention_months",
                    format!(
                        "Keep messages {MIN_RETENTION_MONTHS} to {MAX_RETENTION_MONTHS} months \
                         (SEC 17a-4 asks for at least three years, FINRA 4511 six)."
                    ),
                ))
            }
        })
        .transpose()?;
    Ok(OrganizationSettings {
        retention_months,
        alternate_opt_in_template,
        sms_countries,
        name,
        whatsapp_business_account_id,
        add_whatsapp_phone_number_ids,
        sms_number,
        frame_origins,
        whatsapp_access_token_env,
        default_language: settings.default_language,
        sms_help_text,
    })
}

/// The refusal for a write that met data already there.
pub fn conflict(conflict: Conflict) -> AppError {
    let (code, field, message) = match conflict {
        Conflict::PhoneNumberIdTaken(id) => (
            "number_taken",
            "whatsapp_phone_number_id",
            format!("The WhatsApp phone number id {id} already belongs to another organization."),
        ),
        Conflict::SmsNumberTaken(number) => (
            "number_taken",
            "sms_number",
            format!("The SMS number {number} already belongs to another organization."),
        ),
        Conflict::NameTaken => (
            "name_taken",
            "name",
            "An organization of that name exists already.".to_owned(),
        ),
        Conflict::ExternalIdTaken => (
            "external_id_taken",
            "external_id",
            "Another person of this organization has that CRM id.".to_owned(),
        ),
    };
    AppError::Conflict {
        code,
        field: Some(field),
        message,
    }
}

/// Creates an organization; returns its id.
pub async fn create_organization(
    store: &Store,
    settings: &OrganizationSettings,
    default_region: Option<&str>,
) -> AppResult<i64> {
    let settings = checked_settings(settings, default_region)?;
    let name = settings
        .name
        .clone()
        .ok_or_else(|| AppError::invalid("invalid_name", "name", "Name the organization."))?;
    store
        .create_organization(&name, &settings)
        .await?
        .map_err(conflict)
}

/// Changes an organization.
pub async fn update_organization(
    store: &Store,
    organization_id: i64,
    settings: &OrganizationSettings,
    default_region: Option<&str>,
) -> AppResult<()> {
    let settings = checked_settings(settings, default_region)?;
    store
        .update_organization(organization_id, &settings)
        .await?
        .ok_or(AppError::NotFound("That organization"))?
        .map_err(conflict)
}

/// Creates a person of an organization; returns their id.
pub async fn create_advisor(
    store: &Store,
    organization_id: i64,
    name: &str,
    external_id: Option<&str>,
    role: Role,
) -> AppResult<i64> {
    let name = optin_core::api::validate_name(name)
        .map_err(|message| AppError::invalid("invalid_name", "name", message))?;
    let external_id = external_id.map(str::trim);
    if external_id.is_some_and(|id| id.is_empty() || id.len() > 200) {
        return Err(AppError::invalid(
            "invalid_external_id",
            "external_id",
            "A CRM id is 1 to 200 characters.",
        ));
    }
    if store.organization(organization_id).await?.is_none() {
        return Err(AppError::NotFound("That organization"));
    }
    store
        .create_advisor(organization_id, name, external_id, role)
        .await?
        .map_err(conflict)
}

/// Checks a template as Meta names them: `name` of lowercase letters, digits
/// and `_`; a language code like `en` or `en_US`; Meta's category; our
/// purpose; a body that is not blank.
pub fn checked_template(
    name: String,
    language: String,
    category: String,
    purpose: String,
    body: String,
) -> AppResult<crate::store::organizations::TemplateRow> {
    checked_template_name(&name)?;
    let category = TemplateCategory::from_meta(&category)
        .ok_or_else(|| {
            AppError::invalid(
                "invalid_category",
                "category",
                format!("{category:?} is not a template category: UTILITY, MARKETING or AUTHENTICATION."),
            )
        })?
        .as_str()
        .to_owned();
    let (lang, region) = language.split_once('_').unwrap_or((&language, ""));
    let language_ok = (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (region.is_empty() || region.bytes().all(|b| b.is_ascii_uppercase()));
    if !language_ok {
        return Err(AppError::invalid(
            "invalid_language",
            "language",
            format!("{language:?} is not a language code like en or en_US."),
        ));
    }
    if !["UTILITY", "MARKETING", "AUTHENTICATION"].contains(&category.as_str()) {
        return Err(AppError::invalid(
            "invalid_category",
            "category",
            format!("{category:?} is not a Meta category (UTILITY, MARKETING or AUTHENTICATION)."),
        ));
    }
    if !["opt_in", "message"].contains(&purpose.as_str()) {
        return Err(AppError::invalid(
            "invalid_purpose",
            "purpose",
            format!("{purpose:?} is not a purpose (opt_in or message)."),
        ));
    }
    if body.trim().is_empty() {
        return Err(AppError::invalid(
            "invalid_body",
            "body",
            "The template body is empty.",
        ));
    }
    Ok(crate::store::organizations::TemplateRow {
        name,
        language,
        category,
        purpose,
        body,
    })
}

/// A template name as Meta allows them: lowercase letters, digits and `_`.
fn checked_template_name(name: &str) -> AppResult<&str> {
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if name_ok {
        Ok(name)
    } else {
        Err(AppError::invalid(
            "invalid_template_name",
            "name",
            "A template name has lowercase letters, digits and _ only.",
        ))
    }
}

/// Checks an API key's name.
pub fn checked_key_name(name: &str) -> AppResult<&str> {
    optin_core::api::validate_name(name)
        .map_err(|message| AppError::invalid("invalid_name", "name", message))
}

/// Applies the kept webhooks whose business number `organization_id` owns
/// now, each once (re-deliveries of what was applied are skipped as usual).
pub async fn replay_unrouted(state: &AppState, organization_id: i64) -> AppResult<ReplayReport> {
    let mut replayed = 0;
    for kept in state.store.unrouted_webhooks(Some(organization_id)).await? {
        if kept.replayed_at.is_some() {
            continue;
        }
        match kept.provider.as_str() {
            "whatsapp" => super::inbound::apply_whatsapp(state, kept.webhook()).await?,
            _ => super::inbound::apply_sms(state, kept.webhook()).await?,
        }
        state
            .store
            .mark_replayed(kept.id, state.clock.now())
            .await?;
        replayed += 1;
    }
    // Another organization's waiting webhooks are none of this one's business.
    let still_unrouted = state
        .store
        .unrouted_webhooks(Some(organization_id))
        .await?
        .iter()
        .filter(|kept| kept.replayed_at.is_none())
        .count() as u64;
    Ok(ReplayReport {
        replayed,
        still_unrouted,
    })
}
