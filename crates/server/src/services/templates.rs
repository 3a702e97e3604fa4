//! Which template goes out: core's rules asked before calling Meta, so a
//! template Meta will not send (paused, disabled, marketing to a US number
//! or to someone who stopped promotions) is refused in words, or replaced
//! by the organization's alternate opt-in template.

use optin_core::templates::{Recipient, TemplateBlock};

use super::Work;
use crate::error::{AppError, AppResult};
use crate::store::consent::ConsentRecord;
use crate::store::organizations::TemplateRow;

/// The opt-in template to send, and the primary it replaces, if any.
pub struct ChosenTemplate {
    pub template: TemplateRow,
    /// The primary's name and why it could not be sent.
    pub instead_of: Option<(String, TemplateBlock)>,
}

/// The recipient as templates see them.
pub fn recipient<'a>(phone: &'a str, record: &ConsentRecord) -> Recipient<'a> {
    Recipient {
        phone_e164: phone,
        marketing_stopped: record.marketing_stopped_at.is_some(),
    }
}

/// Why `template` may not go to `recipient` now, if it may not.
async fn block(
    work: &mut Work,
    organization_id: i64,
    template: &TemplateRow,
    recipient: Recipient<'_>,
) -> AppResult<Option<TemplateBlock>> {
    let standing = work
        .store
        .template_standing(organization_id, &template.name, &template.language)
        .await?;
    Ok(standing.may_send_to(recipient).err())
}

/// The primary opt-in template when it may be sent, else the alternate
/// when that may, else a refusal that says why.
pub async fn opt_in_template(
    work: &mut Work,
    organization_id: i64,
    primary: TemplateRow,
    recipient: Recipient<'_>,
) -> AppResult<ChosenTemplate> {
    let Some(why) = block(work, organization_id, &primary, recipient).await? else {
        return Ok(ChosenTemplate {
            template: primary,
            instead_of: None,
        });
    };
    let alternate = work
        .store
        .alternate_opt_in_template(organization_id, &primary.language)
        .await?
        .filter(|alternate| alternate.name != primary.name);
    if let Some(alternate) = alternate {
        if block(work, organization_id, &alternate, recipient)
            .await?
            .is_none()
        {
            return Ok(ChosenTemplate {
                template: alternate,
                instead_of: Some((primary.name, why)),
            });
        }
    }
    Err(unavailable(
        &primary.name,
        why,
        "Ask your admin to name an alternate opt-in template that WhatsApp will send.",
    ))
}

/// Refuses a message template Meta would not send to `recipient`.
pub async fn check_message_template(
    work: &mut Work,
    organization_id: i64,
    template: &TemplateRow,
    recipient: Recipient<'_>,
) -> AppResult<()> {
    match block(work, organization_id, template, recipient).await? {
        None => Ok(()),
        Some(why) => Err(unavailable(
            &template.name,
            why,
            "Choose another template, or ask your admin.",
        )),
    }
}

fn unavailable(name: &str, why: TemplateBlock, next: &str) -> AppError {
    AppError::Refused {
        code: "template_unavailable",
        message: format!(
            "The template “{name}” cannot be sent: {}. {next}",
            why.reason()
        ),
        allowed_at: None,
    }
}
