//! Keywords a contact can type instead of tapping a button.
//!
//! A message is a keyword only when the *whole* message is one, after
//! trimming, lower-casing, collapsing internal whitespace and dropping
//! trailing `.` / `!`. Substrings never count: "we must stop this bill" is not
//! an opt-out and "yesterday" is not a yes. Plain string operations only: this
//! code ships in the wasm client, where a regex engine would cost size.

use serde::{Deserialize, Serialize};

/// What a whole inbound text message means for consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keyword {
    /// The contact opts in ("yes", "start", ...), at any time.
    OptIn,
    /// The contact opts out ("stop", "unsubscribe", ...), at any time.
    OptOut,
    /// The contact declines ("no"). Unlike [`Keyword::OptOut`] this is an
    /// answer, not a command: it opts out only while an opt-in request is
    /// outstanding, because "no" is an ordinary reply in a conversation with
    /// an opted-in contact. See `consent::ConsentEvent::KeywordDecline`.
    Decline,
    /// The contact asks for help ("help", "info"); no effect on consent.
    Help,
}

// Carrier practice (CTIA) reserves STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
// QUIT for opt-out and START, UNSTOP, YES for opt-in; we honour the same words
// on WhatsApp so a contact does not need to know which channel they are on.
const OPT_IN: &[&str] = &[
    "yes",
    "y",
    "yes please",
    "yes, please",
    "start",
    "unstop",
    "opt in",
    "opt-in",
    "optin",
    "subscribe",
];
const OPT_OUT: &[&str] = &[
    "stop",
    "stopall",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "opt out",
    "opt-out",
    "optout",
];
const DECLINE: &[&str] = &["no", "n", "no thanks", "no, thanks", "no thank you"];
const HELP: &[&str] = &["help", "info"];

/// Classifies a whole inbound text message; `None` when it is not a keyword.
pub fn classify(text: &str) -> Option<Keyword> {
    let text = normalize(text);
    let is = |list: &[&str]| list.contains(&text.as_str());
    if is(OPT_IN) {
        Some(Keyword::OptIn)
    } else if is(OPT_OUT) {
        Some(Keyword::OptOut)
    } else if is(DECLINE) {
        Some(Keyword::Decline)
    } else if is(HELP) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Lower-cased, whitespace-collapsed, without surrounding whitespace and
/// without trailing `.` / `!` (so "Yes!", " STOP. " and "yes  please" match).
fn normalize(text: &str) -> String {
    let collapsed = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    collapsed
        .trim_end_matches(['.', '!'])
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_matches_regardless_of_case_whitespace_and_trailing_punctuation() {
        for text in [
            "yes", "YES", " Yes ", "yes!", "Yes.", "yes !!", "\tyes\n", "Y",
        ] {
            assert_eq!(classify(text), Some(Keyword::OptIn), "{text:?}");
        }
    }

    #[test]
    fn internal_whitespace_is_collapsed() {
        assert_eq!(classify("yes   please"), Some(Keyword::OptIn));
        assert_eq!(classify("Opt \t In"), Some(Keyword::OptIn));
        assert_eq!(classify("STOP  ALL!"), Some(Keyword::OptOut));
    }

    #[test]
    fn carrier_opt_out_words_are_opt_outs() {
        for text in [
            "stop",
            "STOPALL",
            "unsubscribe",
            "cancel",
            "end",
            "quit",
            "opt out",
            "opt-out",
        ] {
            assert_eq!(classify(text), Some(Keyword::OptOut), "{text:?}");
        }
    }

    #[test]
    fn carrier_opt_in_words_are_opt_ins() {
        for text in ["start", "unstop", "optin", "opt-in", "subscribe"] {
            assert_eq!(classify(text), Some(Keyword::OptIn), "{text:?}");
        }
    }

    #[test]
    fn typed_no_is_a_decline_not_an_opt_out() {
        assert_eq!(classify("No"), Some(Keyword::Decline));
        assert_eq!(classify("no thanks."), Some(Keyword::Decline));
    }

    #[test]
    fn help_is_recognised() {
        assert_eq!(classify("HELP"), Some(Keyword::Help));
    }

    #[test]
    fn keyword_inside_a_sentence_is_not_a_keyword() {
        for text in [
            "we must stop this bill",
            "yes but not now",
            "I said yes",
            "please stop",
            "no idea",
            "stop!!! no wait",
        ] {
            assert_eq!(classify(text), None, "{text:?}");
        }
    }

    #[test]
    fn keyword_inside_a_word_is_not_a_keyword() {
        for text in [
            "yesterday",
            "stopping",
            "nonsense",
            "ending",
            "yess",
            "unstoppable",
        ] {
            assert_eq!(classify(text), None, "{text:?}");
        }
    }

    #[test]
    fn question_marks_are_not_tolerated() {
        // "stop?" asks something; it is not a command.
        assert_eq!(classify("stop?"), None);
        assert_eq!(classify("yes?"), None);
    }

    #[test]
    fn empty_and_punctuation_only_messages_are_not_keywords() {
        for text in ["", "   ", "!!!", ".", "?"] {
            assert_eq!(classify(text), None, "{text:?}");
        }
    }
}
