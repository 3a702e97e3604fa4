//! Meta's signals about the account: template status and category changes
//! (kept per template, with their raw history) and users stopping or
//! resuming marketing messages (kept on the contact's consent, as evidence).

use optin_core::meta_signals::{
    AccountSignal, MarketingPreference, TemplateChange, TemplateSignal, UserPreference,
};
use optin_core::vocab::{Cause, Channel, EvidenceKind};
use optin_core::whatsapp::e164_from_wa_id;
use serde_json::json;

use super::inbound::keep_for_review;
use super::{WebhookSource, Work};
use crate::error::AppResult;
use crate::store::evidence::{NewEvidence, ReceivedWebhook};
use crate::store::templates::TemplateUpdate;

/// Applies one signal of a verified webhook body, once.
pub async fn apply(
    work: &mut Work,
    signal: &AccountSignal,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    match signal {
        AccountSignal::Template(template) => apply_template(work, template, webhook).await,
        AccountSignal::Preference(preference) => apply_preference(work, preference, webhook).await,
    }
}

async fn apply_template(
    work: &mut Work,
    signal: &TemplateSignal,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    let detail = match &signal.change {
        TemplateChange::Status {
            status,
            reason,
            title,
        } => json!({"status": status.as_str(), "reason": reason, "title": title}),
        TemplateChange::Category { previous, category } => json!({
            "category": category.as_str(), "previous_category": previous.map(|c| c.as_str()),
        }),
        TemplateChange::CategoryScheduled { category, at } => {
            json!({"category_scheduled": category.as_str(), "at": at})
        }
    };
    let key = format!(
        "wa:template:{}:{}:{}:{detail}",
        signal.account_id, signal.name, signal.language
    );
    if !work.store.first_receipt(&key, work.now).await? {
        return Ok(());
    }
    let Some(org) = work
        .store
        .organization_by_account(&signal.account_id)
        .await?
    else {
        let reason = format!(
            "the WhatsApp Business Account {} belongs to no organization",
            signal.account_id
        );
        let item = json!({"account": signal.account_id, "template": signal.name,
            "language": signal.language, "change": detail});
        return keep_for_review(
            work,
            Channel::Whatsapp,
            None,
            None,
            &reason,
            &item.to_string(),
            webhook,
        )
        .await;
    };
    let (name, language) = (signal.name.as_str(), signal.language.as_str());
    let known = match &signal.change {
        TemplateChange::Status {
            status,
            reason,
            title,
        } if status.changes_sendability() => {
            let why = title.as_deref().or(reason.as_deref());
            work.store
                .set_template_status(org, name, language, *status, why, work.now)
                .await?
        }
        TemplateChange::Category { category, .. } => {
            work.store
                .set_template_category(org, name, language, *category)
                .await?
        }
        TemplateChange::Status { .. } | TemplateChange::CategoryScheduled { .. } => true,
    };
    tracing::warn!(organization = org, template = name, language, %detail, known, "WhatsApp changed a template");
    let update = TemplateUpdate {
        organization_id: org,
        name,
        language,
        detail,
        raw_body: &webhook.body,
    };
    Ok(work.store.record_template_update(update, work.now).await?)
}

async fn apply_preference(
    work: &mut Work,
    preference: &UserPreference,
    webhook: &ReceivedWebhook,
) -> AppResult<()> {
    let key = format!(
        "wa:preference:{}:{}:{:?}:{}",
        preference.phone_number_id,
        preference.wa_id,
        preference.value,
        preference.timestamp.unwrap_or_default()
    );
    if !work.store.first_receipt(&key, work.now).await? {
        return Ok(());
    }
    let item = || serde_json::to_string(preference).expect("preferences serialize");
    let Some(org) = work
        .store
        .organization_by_whatsapp_number(&preference.phone_number_id)
        .await?
    else {
        let reason = format!(
            "the business number {} belongs to no organization",
            preference.phone_number_id
        );
        let number = Some(preference.phone_number_id.as_str());
        return keep_for_review(
            work,
            Channel::Whatsapp,
            None,
            number,
            &reason,
            &item(),
            webhook,
        )
        .await;
    };
    let phone = e164_from_wa_id(&preference.wa_id);
    let mut record = work.store.consent(org, &phone).await?;
    let at = preference.at().unwrap_or(work.now);
    let (kind, stopped_at) = match preference.value {
        MarketingPreference::Stop => (EvidenceKind::MarketingStopped, Some(at)),
        MarketingPreference::Resume => (EvidenceKind::MarketingResumed, None),
    };
    record.marketing_stopped_at = stopped_at;
    work.store
        .save_consent(org, &phone, &record, work.now)
        .await?;
    let detail = json!({"category": preference.category, "value": preference.value, "detail": preference.detail});
    let evidence = NewEvidence::new(org, &phone, None, kind, Cause::Contact, detail, work.now);
    let source = WebhookSource {
        webhook,
        provider_time: preference.at(),
    };
    work.record(source.mark(evidence)).await?;
    Ok(())
}
