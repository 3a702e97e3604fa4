//! Phone numbers: parsed with the `phonenumber` crate (Google's libphonenumber
//! metadata) and stored as E.164. Service-only (feature `phone`): the metadata
//! would bloat the web app.

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

/// A stored E.164 number as people read it (`+44 7911 123456`); a number
/// the metadata cannot read is shown as stored.
pub fn international(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|number| number.format().mode(Mode::International).to_string())
        .unwrap_or_else(|_| e164.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_numbers_are_shown_in_international_format() {
        assert_eq!(international("+447911123456"), "+44 7911 123456");
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
