//! Phone numbers: parsed with the `phonenumber` crate (Google's libphonenumber
//! metadata) and stored as E.164. Service-only (feature `phone`): the metadata
//! would bloat the web app.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use phonenumber::Mode;

/// Why a phone number was refused, in words an advisor understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was typed.
    #[error("Enter a phone number.")]
    Empty,
    /// Not a number at all, or no country could be told.
    #[error("That is not a phone number. Use the international format, e.g. +44 7911 123456.")]
    Unparseable,
    /// A number, but no such number can exist in its country.
    #[error("That phone number does not exist. Check the digits and the country code.")]
    Invalid,
}

/// Parses a number as typed ("+44 7911 123456", "0044...", "(415) 555-2671"
/// with a region) to E.164. Numbers without a country code are read in
/// `default_region` (ISO 3166 alpha-2), when one is given.
pub fn to_e164(input: &str, default_region: Option<&str>) -> Result<String, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }
    let normalized = match trimmed.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => trimmed.to_owned(),
    };
    let region = default_region.and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    let number = phonenumber::parse(region, &normalized).map_err(|_| PhoneError::Unparseable)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// Numbers formatted so far, by E.164 number: formatting costs the
/// `phonenumber` crate about 2 ms a number when numbers of many countries
/// alternate (its own cache of patterns keeps being refilled), 0.15 ms
/// otherwise, and a page of the contact list formats up to 200. Emptied when
/// full, so it stays bounded (about 8 MB).
static FORMATTED: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);
const FORMATTED_KEPT: usize = 100_000;

/// A stored E.164 number as people read it (`+44 7911 123456`); a number
/// the metadata cannot read is shown as stored.
pub fn international(e164: &str) -> String {
    let formatted = || FORMATTED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = formatted().get(e164) {
        return known.clone();
    }
    let text = phonenumber::parse(None, e164)
        .map(|number| number.format().mode(Mode::International).to_string())
        .unwrap_or_else(|_| e164.to_owned());
    let mut kept = formatted();
    if kept.len() >= FORMATTED_KEPT {
        kept.clear();
    }
    kept.insert(e164.to_owned(), text.clone());
    text
}

/// The country (ISO 3166 alpha-2, upper case) of a number in E.164, when
/// the metadata can tell it.
pub fn country(e164: &str) -> Option<String> {
    let number = phonenumber::parse(None, e164).ok()?;
    number.country().id().map(|id| id.as_ref().to_owned())
}

/// A country code as typed (`gb`, ` US `), upper-cased, when the phone
/// metadata knows the country.
pub fn country_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 2 && code.parse::<phonenumber::country::Id>().is_ok()).then_some(code)
}

/// Whether an SMS may go to `to` (toll-fraud guard): its country must be
/// among `allowed`; without a list of its own, an organization sends only
/// within its SMS sender number's country (and nowhere without one).
pub fn sms_destination_allowed(to: &str, allowed: Option<&[String]>, sender: Option<&str>) -> bool {
    let Some(destination) = country(to) else {
        return false;
    };
    match allowed {
        Some(countries) => countries.contains(&destination),
        None => sender.and_then(country).is_some_and(|c| c == destination),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_goes_only_to_allowed_countries() {
        let uk = "+447700123456";
        let us = "+12127365000";
        let premium = "+8828000000"; // no country: international networks
        let allowed = ["GB".to_owned(), "US".to_owned()];
        assert!(sms_destination_allowed(uk, Some(&allowed), None));
        assert!(sms_destination_allowed(us, Some(&allowed[1..]), None));
        assert!(!sms_destination_allowed(uk, Some(&allowed[1..]), None));
        assert!(!sms_destination_allowed(premium, Some(&allowed), None));
        // Without a list: the sender number's country only (none when the
        // sender's country cannot be told, like the sandbox's 555 number).
        assert!(sms_destination_allowed(us, None, Some("+12025550143")));
        assert!(!sms_destination_allowed(uk, None, Some("+12025550143")));
        assert!(!sms_destination_allowed(us, None, Some("+15550001111")));
        assert!(!sms_destination_allowed(us, None, None));
    }

    #[test]
    fn country_codes_are_checked_and_upper_cased() {
        assert_eq!(country_code(" gb ").as_deref(), Some("GB"));
        assert_eq!(country_code("ZZ"), None);
        assert_eq!(country_code("GBR"), None);
        assert_eq!(country("+34612345678").as_deref(), Some("ES"));
        // The metadata tells the Channel Islands from Great Britain.
        assert_eq!(country("+447911123456").as_deref(), Some("GG"));
        assert_eq!(country("+447700123456").as_deref(), Some("GB"));
    }

    #[test]
    fn stored_numbers_are_shown_in_international_format() {
        assert_eq!(international("+447911123456"), "+44 7911 123456");
        assert_eq!(international("+12127365000"), "+1 212-736-5000");
        assert_eq!(international("not a number"), "not a number");
        // The second time from what was kept: the same text.
        assert_eq!(international("+12127365000"), "+1 212-736-5000");
        assert_eq!(international("not a number"), "not a number");
    }

    #[test]
    fn international_formats_become_e164() {
        assert_eq!(to_e164("+44 7911 123456", None).unwrap(), "+447911123456");
        assert_eq!(to_e164("0044 7911 123456", None).unwrap(), "+447911123456");
        assert_eq!(
            to_e164("(212) 736-5000", Some("US")).unwrap(),
            "+12127365000"
        );
    }

    #[test]
    fn junk_and_impossible_numbers_are_refused() {
        assert_eq!(to_e164("  ", None), Err(PhoneError::Empty));
        assert_eq!(to_e164("call me", None), Err(PhoneError::Unparseable));
        assert_eq!(to_e164("+44 12", None), Err(PhoneError::Invalid));
        assert!(to_e164("2127365000", None).is_err());
    }
}
