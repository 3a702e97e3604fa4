//! Whether a WhatsApp template may be sent, from what Meta told us about it.
//!
//! Meta pauses templates for low quality, disables them after repeated
//! pauses, and moves UTILITY templates it judges promotional to MARKETING
//! (`message_template_status_update`, `template_category_update`). Marketing
//! templates are blocked to +1 (US) numbers since 1 April 2025 and to anyone
//! who tapped "Stop promotions" (`user_preferences`). Sending such a template
//! only buys a failure (132015, 132016, 131050, or a silent drop for US
//! clients), so the service refuses it before calling Meta, in words an
//! advisor understands, and an organization may name an alternate opt-in
//! template for when its primary cannot be sent.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::vocab::{wire_enum, ErrorCode};

wire_enum! {
    /// A template's review status at Meta (`event` of a status update).
    pub enum TemplateStatus {
        Approved = "APPROVED",
        Pending = "PENDING",
        Rejected = "REJECTED",
        /// Negative feedback: still sendable, at risk of a pause.
        Flagged = "FLAGGED",
        Paused = "PAUSED",
        Disabled = "DISABLED",
        /// No longer flagged or disabled: sendable again.
        Reinstated = "REINSTATED",
        InAppeal = "IN_APPEAL",
        Archived = "ARCHIVED",
        Deleted = "DELETED",
        PendingDeletion = "PENDING_DELETION",
        LimitExceeded = "LIMIT_EXCEEDED",
        /// Locked against edits; sending is unaffected.
        Locked = "LOCKED",
        /// Unlocked for edits; sending is unaffected.
        Unlocked = "UNLOCKED",
        /// Meta answered 132001 to a send: it knows no such template.
        Missing = "MISSING",
    }
}

wire_enum! {
    /// A template's category at Meta.
    pub enum TemplateCategory {
        Utility = "UTILITY",
        Marketing = "MARKETING",
        Authentication = "AUTHENTICATION",
    }
}

impl TemplateCategory {
    /// The category for one of Meta's names, in any case.
    pub fn from_meta(text: &str) -> Option<Self> {
        Self::parse(&text.trim().to_ascii_uppercase())
    }
}

impl TemplateStatus {
    /// The status for one of Meta's names, in any case.
    pub fn from_meta(text: &str) -> Option<Self> {
        Self::parse(&text.trim().to_ascii_uppercase())
    }

    /// Whether Meta sends templates in this status. Events about edits
    /// (locked, unlocked) and quality warnings (flagged) leave it sendable.
    pub fn sendable(self) -> bool {
        matches!(
            self,
            TemplateStatus::Approved
                | TemplateStatus::Flagged
                | TemplateStatus::Reinstated
                | TemplateStatus::Locked
                | TemplateStatus::Unlocked
        )
    }

    /// Whether an event in this status says something about sending at all
    /// (edit locks do not: the last status that did still holds).
    pub fn changes_sendability(self) -> bool {
        !matches!(self, TemplateStatus::Locked | TemplateStatus::Unlocked)
    }

    /// The status a send error code proves, if any.
    pub fn from_send_error(code: ErrorCode) -> Option<TemplateStatus> {
        match code {
            ErrorCode::TEMPLATE_PAUSED => Some(TemplateStatus::Paused),
            ErrorCode::TEMPLATE_DISABLED => Some(TemplateStatus::Disabled),
            ErrorCode::TEMPLATE_MISSING => Some(TemplateStatus::Missing),
            _ => None,
        }
    }
}

/// What we know of one template at Meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateStanding {
    pub status: TemplateStatus,
    pub category: TemplateCategory,
}

/// What we know of the recipient that matters to templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient<'a> {
    /// E.164, `+` included.
    pub phone_e164: &'a str,
    /// The contact tapped "Stop promotions" (and has not resumed).
    pub marketing_stopped: bool,
}

/// Why a template may not be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateBlock {
    /// Meta does not send it in this status.
    NotSendable(TemplateStatus),
    /// A MARKETING template to a +1 (US) number.
    MarketingToUs,
    /// A MARKETING template to someone who stopped marketing messages.
    MarketingStopped,
}

impl TemplateBlock {
    /// In words an advisor understands.
    pub fn reason(self) -> &'static str {
        match self {
            TemplateBlock::NotSendable(TemplateStatus::Paused) => {
                "WhatsApp paused this template for low quality"
            }
            TemplateBlock::NotSendable(TemplateStatus::Disabled) => {
                "WhatsApp disabled this template"
            }
            TemplateBlock::NotSendable(TemplateStatus::Missing) => {
                "WhatsApp does not know this template in this language"
            }
            TemplateBlock::NotSendable(TemplateStatus::Rejected) => {
                "WhatsApp rejected this template"
            }
            TemplateBlock::NotSendable(TemplateStatus::Pending | TemplateStatus::InAppeal) => {
                "WhatsApp has not approved this template yet"
            }
            TemplateBlock::NotSendable(_) => "WhatsApp no longer offers this template",
            TemplateBlock::MarketingToUs => {
                "WhatsApp now counts this template as marketing, which it does not deliver to US (+1) numbers"
            }
            TemplateBlock::MarketingStopped => {
                "the contact stopped marketing messages from your firm in WhatsApp"
            }
        }
    }
}

impl TemplateStanding {
    /// Whether this template may go to `recipient`, and if not, why.
    pub fn may_send_to(&self, recipient: Recipient<'_>) -> Result<(), TemplateBlock> {
        if !self.status.sendable() {
            return Err(TemplateBlock::NotSendable(self.status));
        }
        if self.category == TemplateCategory::Marketing {
            if recipient.phone_e164.starts_with("+1") {
                return Err(TemplateBlock::MarketingToUs);
            }
            if recipient.marketing_stopped {
                return Err(TemplateBlock::MarketingStopped);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(status: TemplateStatus, category: TemplateCategory) -> TemplateStanding {
        TemplateStanding { status, category }
    }

    const UK: Recipient = Recipient {
        phone_e164: "+447911123456",
        marketing_stopped: false,
    };
    const US: Recipient = Recipient {
        phone_e164: "+12025550123",
        marketing_stopped: false,
    };

    #[test]
    fn approved_utility_templates_go_to_anyone() {
        let t = standing(TemplateStatus::Approved, TemplateCategory::Utility);
        assert_eq!(t.may_send_to(UK), Ok(()));
        assert_eq!(t.may_send_to(US), Ok(()));
        let stopped = Recipient {
            marketing_stopped: true,
            ..UK
        };
        assert_eq!(t.may_send_to(stopped), Ok(()), "utility is not marketing");
    }

    #[test]
    fn paused_disabled_and_missing_templates_are_refused_with_words() {
        for status in [
            TemplateStatus::Paused,
            TemplateStatus::Disabled,
            TemplateStatus::Missing,
            TemplateStatus::Rejected,
            TemplateStatus::Deleted,
            TemplateStatus::Pending,
        ] {
            let block = standing(status, TemplateCategory::Utility)
                .may_send_to(UK)
                .unwrap_err();
            assert_eq!(block, TemplateBlock::NotSendable(status));
            assert!(block.reason().starts_with("WhatsApp"), "{status:?}");
        }
        for status in [
            TemplateStatus::Flagged,
            TemplateStatus::Reinstated,
            TemplateStatus::Locked,
        ] {
            assert!(status.sendable(), "{status:?}");
        }
    }

    #[test]
    fn marketing_templates_are_refused_to_us_numbers_and_to_stopped_contacts() {
        let t = standing(TemplateStatus::Approved, TemplateCategory::Marketing);
        assert_eq!(t.may_send_to(US), Err(TemplateBlock::MarketingToUs));
        assert_eq!(t.may_send_to(UK), Ok(()));
        let stopped = Recipient {
            marketing_stopped: true,
            ..UK
        };
        assert_eq!(t.may_send_to(stopped), Err(TemplateBlock::MarketingStopped));
    }

    #[test]
    fn meta_names_parse_in_any_case_and_send_errors_map_to_statuses() {
        assert_eq!(
            TemplateStatus::from_meta("paused"),
            Some(TemplateStatus::Paused)
        );
        assert_eq!(
            TemplateCategory::from_meta(" marketing"),
            Some(TemplateCategory::Marketing)
        );
        assert_eq!(TemplateStatus::from_meta("SOMETHING_NEW"), None);
        assert_eq!(
            TemplateStatus::from_send_error(ErrorCode(132015)),
            Some(TemplateStatus::Paused)
        );
        assert_eq!(
            TemplateStatus::from_send_error(ErrorCode(132016)),
            Some(TemplateStatus::Disabled)
        );
        assert_eq!(
            TemplateStatus::from_send_error(ErrorCode(132001)),
            Some(TemplateStatus::Missing)
        );
        assert_eq!(TemplateStatus::from_send_error(ErrorCode(130429)), None);
    }
}
