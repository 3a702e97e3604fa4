//! Which contacts a search finds: the one rule behind the service's SQL search
//! (`GET /contacts?q=`) and the app's instant filter of the rows it already has.
//!
//! A contact matches when its name contains the trimmed text, ignoring the case
//! of ASCII letters only (as SQLite's `LIKE` does), or when the text has digits
//! and its E.164 number contains those digits in order (`+44 7911` finds
//! `+447911123456`).

/// A search as typed, reduced to what it matches on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactQuery {
    /// The typed text, trimmed: matched against names.
    text: String,
    /// The ASCII digits of the text: matched against numbers (none: names only).
    digits: String,
}

impl ContactQuery {
    pub fn new(typed: &str) -> Self {
        let text = typed.trim().to_owned();
        let digits = text.chars().filter(char::is_ascii_digit).collect();
        Self { text, digits }
    }

    /// The text names must contain (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The digits numbers must contain; empty when the text has none.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// Nothing typed: every contact matches.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Does the contact called `name`, with the E.164 number `phone`, match?
    pub fn matches(&self, name: &str, phone: &str) -> bool {
        self.is_empty()
            || contains_ignoring_ascii_case(name, &self.text)
            || (!self.digits.is_empty() && phone.contains(&self.digits))
    }
}

/// `haystack` contains `needle`, ASCII letters compared without case and every
/// other character exactly (SQLite's `LIKE` without the ICU extension).
fn contains_ignoring_ascii_case(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    // Byte windows are enough: a UTF-8 needle only matches at character
    // boundaries, and case folding touches ASCII bytes only.
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_anywhere_ignoring_ascii_case() {
        let query = ContactQuery::new("  kER ");
        assert_eq!(query.text(), "kER");
        assert!(query.matches("Kerry Fisher", "+447911123456"));
        assert!(query.matches("Parker", "+1"));
        assert!(!query.matches("Kelly", "+1"));
    }

    #[test]
    fn only_ascii_letters_fold_like_sqlite() {
        assert!(ContactQuery::new("zoë").matches("ZOë Martin", "+1"));
        assert!(!ContactQuery::new("zoë").matches("ZOË Martin", "+1"));
        assert!(ContactQuery::new("Émile").matches("Émile Roux", "+33"));
    }

    #[test]
    fn wildcards_are_literal_characters() {
        assert!(!ContactQuery::new("%").matches("Ana Maria", "+1"));
        assert!(!ContactQuery::new("a_a").matches("Ana", "+1"));
        assert!(ContactQuery::new("a_m").matches("Ana_Maria", "+1"));
    }

    #[test]
    fn digits_match_the_number_however_they_are_written() {
        let query = ContactQuery::new("+44 7911 12");
        assert_eq!(query.digits(), "44791112");
        assert!(query.matches("Kerry Fisher", "+447911123456"));
        assert!(!query.matches("Kerry Fisher", "+447911000000"));
        // A name with the same text still matches without the number.
        assert!(ContactQuery::new("Unit 7").matches("Unit 7 Ltd", "+1555"));
        assert!(ContactQuery::new("151").matches("Tom Becker", "+4915112345678"));
    }

    #[test]
    fn text_without_digits_never_matches_on_the_number() {
        assert_eq!(ContactQuery::new("+").digits(), "");
        assert!(!ContactQuery::new("+").matches("Kerry", "+447911123456"));
    }

    #[test]
    fn an_empty_search_matches_everyone() {
        let query = ContactQuery::new("   ");
        assert!(query.is_empty());
        assert!(query.matches("Anyone", "+1"));
    }
}
