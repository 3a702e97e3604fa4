//! The languages the service writes to contacts in (the opt-in request, the
//! confirmation, the opt-out notice) and reads their keywords in.
//!
//! A contact's language is set on the contact; until it is, it follows the
//! country of their number ([`Language::for_phone`]): a plain prefix match on
//! the E.164 calling code, so it needs no phone metadata and ships in wasm.
//! WhatsApp templates carry Meta's codes (`es`, `es_MX`, `pt_BR`, ...); a
//! template is in a language when its code's first part is the language's
//! code ([`Language::of_template`]).

use std::fmt;

use serde::{Deserialize, Serialize};

// `wire_enum!` names these unqualified.
use crate::vocab::wire_enum;

wire_enum! {
    /// A language of the contacts, by its ISO 639-1 code.
    pub enum Language {
        En = "en",
        Es = "es",
        Fr = "fr",
        De = "de",
        Pt = "pt",
        It = "it",
    }
}

/// Countries (by calling code) whose numbers default to a language other
/// than English. Calling codes are prefix-free (ITU E.164), so the first
/// prefix that matches is the number's code. Countries where no one language
/// clearly dominates (Belgium, Canada, the +1 Caribbean) stay English.
const BY_CALLING_CODE: &[(&str, Language)] = &[
    // Spain, Mexico, Central and South America, Cuba, Equatorial Guinea.
    ("+34", Language::Es),
    ("+52", Language::Es),
    ("+54", Language::Es),
    ("+51", Language::Es),
    ("+53", Language::Es),
    ("+56", Language::Es),
    ("+57", Language::Es),
    ("+58", Language::Es),
    ("+502", Language::Es),
    ("+503", Language::Es),
    ("+504", Language::Es),
    ("+505", Language::Es),
    ("+506", Language::Es),
    ("+507", Language::Es),
    ("+591", Language::Es),
    ("+593", Language::Es),
    ("+595", Language::Es),
    ("+598", Language::Es),
    ("+240", Language::Es),
    // France, Monaco, Luxembourg, French overseas, West and Central Africa, Haiti.
    ("+33", Language::Fr),
    ("+377", Language::Fr),
    ("+352", Language::Fr),
    ("+262", Language::Fr),
    ("+590", Language::Fr),
    ("+594", Language::Fr),
    ("+596", Language::Fr),
    ("+687", Language::Fr),
    ("+689", Language::Fr),
    ("+221", Language::Fr),
    ("+223", Language::Fr),
    ("+225", Language::Fr),
    ("+226", Language::Fr),
    ("+227", Language::Fr),
    ("+228", Language::Fr),
    ("+229", Language::Fr),
    ("+241", Language::Fr),
    ("+242", Language::Fr),
    ("+243", Language::Fr),
    ("+509", Language::Fr),
    // Germany, Austria, Switzerland (mostly German-speaking), Liechtenstein.
    ("+49", Language::De),
    ("+43", Language::De),
    ("+41", Language::De),
    ("+423", Language::De),
    // Brazil, Portugal, Lusophone Africa, Timor-Leste.
    ("+55", Language::Pt),
    ("+351", Language::Pt),
    ("+244", Language::Pt),
    ("+258", Language::Pt),
    ("+238", Language::Pt),
    ("+245", Language::Pt),
    ("+239", Language::Pt),
    ("+670", Language::Pt),
    // Italy (and the Vatican), San Marino.
    ("+39", Language::It),
    ("+379", Language::It),
    ("+378", Language::It),
];

impl Language {
    /// The language of contacts whose number says nothing better, and of
    /// organizations that set none.
    pub const DEFAULT: Language = Language::En;

    /// The language's own name, for a picker ("Español", not "Spanish"): a
    /// contact's language is chosen by someone who may speak only it.
    pub fn name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Es => "Español",
            Language::Fr => "Français",
            Language::De => "Deutsch",
            Language::Pt => "Português",
            Language::It => "Italiano",
        }
    }

    /// The default language of an E.164 number, from its country.
    pub fn for_phone(e164: &str) -> Language {
        BY_CALLING_CODE
            .iter()
            .find(|(code, _)| e164.starts_with(code))
            .map_or(Language::DEFAULT, |(_, language)| *language)
    }

    /// A contact's language: the one set on the contact, else their number's.
    pub fn of_contact(set: Option<Language>, e164: &str) -> Language {
        set.unwrap_or_else(|| Language::for_phone(e164))
    }

    /// The item (an approved template) to write to someone of this language
    /// in: the first in this language, else the first in `fallback` (the
    /// organization's default), else the first of all.
    pub fn pick<T>(self, items: &[T], fallback: Language, code: impl Fn(&T) -> &str) -> Option<&T> {
        let in_language = |language: Language| {
            items
                .iter()
                .find(|i| Language::of_template(code(i)) == Some(language))
        };
        in_language(self)
            .or_else(|| in_language(fallback))
            .or_else(|| items.first())
    }

    /// The language of a template's Meta code (`es`, `es_MX`, `pt_BR`,
    /// `en_US`); `None` for the languages the service does not write in.
    pub fn of_template(code: &str) -> Option<Language> {
        let primary = code.split(['_', '-']).next().unwrap_or(code);
        Language::parse(&primary.to_ascii_lowercase())
    }

    /// The labels of the opt-in request's quick replies, as the approved
    /// template in this language shows them: (yes, no).
    pub fn yes_no(self) -> (&'static str, &'static str) {
        match self {
            Language::En => ("Yes", "No"),
            Language::Es => ("Sí", "No"),
            Language::Fr => ("Oui", "Non"),
            Language::De => ("Ja", "Nein"),
            Language::Pt => ("Sim", "Não"),
            Language::It => ("Sì", "No"),
        }
    }
}

impl Default for Language {
    fn default() -> Self {
        Language::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_default_to_their_countrys_language() {
        for (phone, language) in [
            ("+34612345678", Language::Es),
            ("+5215512345678", Language::Es),
            ("+5491112345678", Language::Es),
            ("+56912345678", Language::Es),
            ("+33612345678", Language::Fr),
            ("+4915112345678", Language::De),
            ("+436641234567", Language::De),
            ("+41781234567", Language::De),
            ("+5511912345678", Language::Pt),
            ("+351912345678", Language::Pt),
            ("+393471234567", Language::It),
            ("+447911123456", Language::En),
            ("+12127365000", Language::En),
            ("+8613812345678", Language::En),
            ("+32470123456", Language::En),
            ("", Language::En),
        ] {
            assert_eq!(Language::for_phone(phone), language, "{phone}");
        }
    }

    #[test]
    fn no_calling_code_of_the_table_is_a_prefix_of_another() {
        // Otherwise the first match would depend on the table's order.
        for (a, _) in BY_CALLING_CODE {
            for (b, _) in BY_CALLING_CODE {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn template_codes_name_their_language() {
        assert_eq!(Language::of_template("es"), Some(Language::Es));
        assert_eq!(Language::of_template("es_MX"), Some(Language::Es));
        assert_eq!(Language::of_template("pt_BR"), Some(Language::Pt));
        assert_eq!(Language::of_template("en_US"), Some(Language::En));
        assert_eq!(Language::of_template("fr"), Some(Language::Fr));
        assert_eq!(Language::of_template("nl"), None);
        assert_eq!(Language::of_template(""), None);
    }

    #[test]
    fn a_set_language_wins_over_the_numbers() {
        assert_eq!(Language::of_contact(None, "+34612345678"), Language::Es);
        assert_eq!(
            Language::of_contact(Some(Language::Fr), "+34612345678"),
            Language::Fr
        );
    }

    #[test]
    fn templates_are_picked_in_the_language_else_the_fallback_else_the_first() {
        let templates = ["en_US", "es_ES", "pt_BR"];
        let pick = |language: Language, fallback: Language| {
            language.pick(&templates, fallback, |t| t).copied()
        };
        assert_eq!(pick(Language::Es, Language::En), Some("es_ES"));
        assert_eq!(pick(Language::Pt, Language::En), Some("pt_BR"));
        assert_eq!(pick(Language::De, Language::En), Some("en_US"));
        assert_eq!(pick(Language::De, Language::Pt), Some("pt_BR"));
        assert_eq!(pick(Language::It, Language::Fr), Some("en_US"), "the first");
        let none: [&str; 0] = [];
        assert_eq!(Language::En.pick(&none, Language::En, |t| t), None);
    }

    #[test]
    fn languages_have_one_wire_code_and_their_own_name() {
        for language in Language::ALL {
            assert_eq!(Language::parse(language.as_str()), Some(*language));
            assert_eq!(
                serde_json::to_string(language).unwrap(),
                format!("\"{}\"", language.as_str())
            );
        }
        assert_eq!(Language::Es.name(), "Español");
        assert_eq!(Language::default(), Language::En);
    }
}
