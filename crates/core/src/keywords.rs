//! Keywords a contact can type instead of tapping a button.
//!
//! A message is a keyword only when the *whole* message is one, after
//! trimming, lower-casing, collapsing internal whitespace, dropping trailing
//! `.` / `!` and folding accents. Substrings never count: "we must stop this
//! bill" is not an opt-out and "yesterday" is not a yes. Plain string
//! operations only: this code ships in the wasm client, where a regex engine
//! would cost size.
//!
//! WhatsApp replies are read in English, Spanish, French, German, Portuguese
//! and Italian ([`classify`]); SMS follows the provider's (Twilio's) default
//! lists ([`classify_sms`], which says where and why it adds to them).

use serde::{Deserialize, Serialize};

use crate::language::Language;

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

/// The words of one language, as whole messages (lower-case, accents
/// folded, as [`normalize`] leaves them).
struct Words {
    // Names the language in the tests' failure messages.
    #[cfg_attr(not(test), allow(dead_code))]
    language: Language,
    opt_in: &'static [&'static str],
    opt_out: &'static [&'static str],
    decline: &'static [&'static str],
    help: &'static [&'static str],
}

// Every language's words are recognised from every contact: a contact does
// not know which language the advisor set, and no word is in two categories
// (a test checks it). English includes the carriers' reserved words (CTIA:
// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, UNSTOP, YES) so a
// contact need not know which channel they are on.
const WORDS: [Words; 6] = [
    Words {
        language: Language::En,
        opt_in: &[
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
        ],
        opt_out: &[
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
        ],
        decline: &["no", "n", "no thanks", "no, thanks", "no thank you"],
        help: &["help", "info"],
    },
    Words {
        language: Language::Es,
        opt_in: &["si", "si por favor", "si, por favor", "acepto"],
        opt_out: &["para", "alto", "basta", "baja", "cancelar"],
        decline: &["no", "no gracias", "no, gracias"],
        help: &["ayuda"],
    },
    Words {
        language: Language::Fr,
        opt_in: &["oui", "oui merci", "oui, merci", "j'accepte"],
        opt_out: &["arret", "arrete", "arreter", "desabonner", "desinscrire"],
        decline: &["non", "non merci", "non, merci"],
        help: &["aide"],
    },
    Words {
        language: Language::De,
        opt_in: &["ja", "ja bitte", "ja, bitte", "ja gerne"],
        opt_out: &["stopp", "abmelden", "abbestellen", "beenden"],
        decline: &["nein", "nein danke", "nein, danke"],
        help: &["hilfe"],
    },
    Words {
        language: Language::Pt,
        opt_in: &["sim", "sim por favor", "sim, por favor", "aceito"],
        opt_out: &["pare", "parar", "sair", "cancelar", "basta"],
        decline: &[
            "nao",
            "nao obrigado",
            "nao, obrigado",
            "nao obrigada",
            "nao, obrigada",
        ],
        help: &["ajuda"],
    },
    Words {
        language: Language::It,
        opt_in: &["si", "si grazie", "si, grazie", "accetto"],
        opt_out: &["basta", "annulla", "disiscrivimi"],
        decline: &["no", "no grazie", "no, grazie"],
        help: &["aiuto"],
    },
];

/// Twilio's default opt-out keywords, exactly: Twilio blocks the number
/// (error 21610 on later sends) when a whole message is one of them.
pub const TWILIO_OPT_OUT: [&str; 8] = [
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
];
/// Twilio's default opt-in keywords, exactly: only these lift its block.
pub const TWILIO_OPT_IN: [&str; 3] = ["start", "yes", "unstop"];
/// Twilio's default help keywords, exactly.
pub const TWILIO_HELP: [&str; 2] = ["help", "info"];

/// Every word [`classify`] recognises, in every language (normalized).
pub fn all_words() -> impl Iterator<Item = &'static str> {
    WORDS.iter().flat_map(|words| {
        [words.opt_in, words.opt_out, words.decline, words.help]
            .into_iter()
            .flatten()
            .copied()
    })
}

/// Classifies a whole inbound WhatsApp message, in any of the languages;
/// `None` when it is not a keyword.
pub fn classify(text: &str) -> Option<Keyword> {
    let text = normalize(text);
    let is = |list: fn(&Words) -> &'static [&'static str]| {
        WORDS
            .iter()
            .any(|words| list(words).contains(&text.as_str()))
    };
    if is(|w| w.opt_in) {
        Some(Keyword::OptIn)
    } else if is(|w| w.opt_out) {
        Some(Keyword::OptOut)
    } else if is(|w| w.decline) {
        Some(Keyword::Decline)
    } else if is(|w| w.help) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Classifies a whole inbound SMS. Opt-in and help are Twilio's defaults
/// exactly: the provider lifts its block only on START / YES / UNSTOP, so
/// another word recorded as an opt-in would claim a consent the provider
/// does not honour. Opt-out is Twilio's words *and* every language's stop
/// words: the FCC lets consent be revoked by any reasonable means, and
/// recording a stop the provider did not block only makes us send less.
/// "No" is an answer to nothing on SMS (there is no SMS request), so it is
/// not a keyword here.
pub fn classify_sms(text: &str) -> Option<Keyword> {
    let text = normalize(text);
    let text = text.as_str();
    if TWILIO_OPT_IN.contains(&text) {
        Some(Keyword::OptIn)
    } else if TWILIO_OPT_OUT.contains(&text) || WORDS.iter().any(|w| w.opt_out.contains(&text)) {
        Some(Keyword::OptOut)
    } else if TWILIO_HELP.contains(&text) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// Lower-cased, whitespace-collapsed, without surrounding whitespace and
/// without trailing `.` / `!` (so "Yes!", " STOP. " and "yes  please"
/// match), with accents folded ("Sí", "si" and "si" + combining accent
/// alike; "NÃO" and "nao") and typographic apostrophes made plain.
fn normalize(text: &str) -> String {
    let collapsed = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    collapsed
        .trim_end_matches(['.', '!'])
        .trim_end()
        .chars()
        .filter_map(fold)
        .collect()
}

/// A lower-case letter without its accent; combining accents dropped.
fn fold(c: char) -> Option<char> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        '\u{2019}' | '\u{2018}' => '\'',
        '\u{0300}'..='\u{036f}' => return None,
        c => c,
    })
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

#[cfg(test)]
mod language_tests {
    use super::*;

    /// Every keyword of every language, typed as people type them (accents,
    /// capitals), with what it means.
    const TYPED: &[(Language, Keyword, &[&str])] = &[
        (
            Language::En,
            Keyword::OptIn,
            &[
                "Yes",
                "y",
                "Yes please",
                "yes, please",
                "START",
                "unstop",
                "opt in",
                "Opt-In",
                "optin",
                "subscribe",
            ],
        ),
        (
            Language::En,
            Keyword::OptOut,
            &[
                "STOP",
                "stopall",
                "stop all",
                "Unsubscribe",
                "cancel",
                "end",
                "quit",
                "revoke",
                "opt out",
                "opt-out",
                "OPTOUT",
            ],
        ),
        (
            Language::En,
            Keyword::Decline,
            &["No", "n", "no thanks", "No, thanks", "no thank you"],
        ),
        (Language::En, Keyword::Help, &["HELP", "info"]),
        (
            Language::Es,
            Keyword::OptIn,
            &["Sí", "si", "SÍ", "Sí, por favor", "si por favor", "Acepto"],
        ),
        (
            Language::Es,
            Keyword::OptOut,
            &["Para", "ALTO", "basta", "Baja", "cancelar"],
        ),
        (
            Language::Es,
            Keyword::Decline,
            &["No", "no gracias", "No, gracias"],
        ),
        (Language::Es, Keyword::Help, &["Ayuda"]),
        (
            Language::Fr,
            Keyword::OptIn,
            &[
                "Oui",
                "oui merci",
                "Oui, merci",
                "J'accepte",
                "j\u{2019}accepte",
            ],
        ),
        (
            Language::Fr,
            Keyword::OptOut,
            &[
                "Arrêt",
                "arret",
                "ARRÊTE",
                "arrêter",
                "désabonner",
                "Désinscrire",
            ],
        ),
        (
            Language::Fr,
            Keyword::Decline,
            &["Non", "non merci", "Non, merci"],
        ),
        (Language::Fr, Keyword::Help, &["Aide"]),
        (
            Language::De,
            Keyword::OptIn,
            &["Ja", "ja bitte", "Ja, bitte", "ja gerne"],
        ),
        (
            Language::De,
            Keyword::OptOut,
            &["Stopp", "abmelden", "Abbestellen", "beenden"],
        ),
        (
            Language::De,
            Keyword::Decline,
            &["Nein", "nein danke", "Nein, danke"],
        ),
        (Language::De, Keyword::Help, &["Hilfe"]),
        (
            Language::Pt,
            Keyword::OptIn,
            &["Sim", "sim por favor", "Sim, por favor", "aceito"],
        ),
        (
            Language::Pt,
            Keyword::OptOut,
            &["Pare", "parar", "Sair", "cancelar", "basta"],
        ),
        (
            Language::Pt,
            Keyword::Decline,
            &[
                "Não",
                "nao",
                "NÃO",
                "não obrigado",
                "Não, obrigada",
                "nao obrigada",
                "não, obrigado",
            ],
        ),
        (Language::Pt, Keyword::Help, &["Ajuda"]),
        (
            Language::It,
            Keyword::OptIn,
            &["Sì", "si", "sì grazie", "Sì, grazie", "accetto"],
        ),
        (
            Language::It,
            Keyword::OptOut,
            &["Basta", "annulla", "Disiscrivimi"],
        ),
        (
            Language::It,
            Keyword::Decline,
            &["No", "no grazie", "No, grazie"],
        ),
        (Language::It, Keyword::Help, &["Aiuto"]),
    ];

    #[test]
    fn every_keyword_of_every_language_is_recognised_as_a_whole_message() {
        for (language, keyword, texts) in TYPED {
            for text in *texts {
                assert_eq!(classify(text), Some(*keyword), "{language}: {text:?}");
                assert_eq!(
                    classify(&format!("  {text}! ")),
                    Some(*keyword),
                    "{language}: {text:?} with spaces and !"
                );
                // Never inside a sentence.
                assert_eq!(classify(&format!("{text} maybe")), None, "{text:?} maybe");
                assert_eq!(classify(&format!("well {text}")), None, "well {text:?}");
            }
        }
    }

    #[test]
    fn every_listed_word_is_typed_in_the_tests_of_its_language() {
        // A word added to a list without a test fails here.
        for words in &WORDS {
            for (keyword, list) in [
                (Keyword::OptIn, words.opt_in),
                (Keyword::OptOut, words.opt_out),
                (Keyword::Decline, words.decline),
                (Keyword::Help, words.help),
            ] {
                for word in list {
                    let typed = TYPED.iter().any(|(language, k, texts)| {
                        *language == words.language
                            && *k == keyword
                            && texts.iter().any(|t| normalize(t) == *word)
                    });
                    assert!(typed, "{}: {word:?} has no test", words.language);
                }
            }
        }
    }

    #[test]
    fn no_word_means_two_things() {
        let category = |word: &str| -> Vec<Keyword> {
            let mut found = Vec::new();
            for words in &WORDS {
                for (keyword, list) in [
                    (Keyword::OptIn, words.opt_in),
                    (Keyword::OptOut, words.opt_out),
                    (Keyword::Decline, words.decline),
                    (Keyword::Help, words.help),
                ] {
                    if list.contains(&word) && !found.contains(&keyword) {
                        found.push(keyword);
                    }
                }
            }
            found
        };
        for words in &WORDS {
            for word in words
                .opt_in
                .iter()
                .chain(words.opt_out)
                .chain(words.decline)
                .chain(words.help)
            {
                assert_eq!(category(word).len(), 1, "{word:?}");
                assert_eq!(normalize(word), *word, "{word:?} is stored normalized");
            }
        }
    }

    #[test]
    fn accents_fold_whether_precomposed_or_combining() {
        assert_eq!(classify("si\u{0301}"), Some(Keyword::OptIn));
        assert_eq!(classify("na\u{0303}o"), Some(Keyword::Decline));
        assert_eq!(classify("arre\u{0302}t"), Some(Keyword::OptOut));
        // Folding never makes a non-keyword into one.
        assert_eq!(classify("sí señor"), None);
        assert_eq!(classify("¿sí?"), None);
    }

    #[test]
    fn the_request_buttons_of_every_language_are_keywords() {
        // Someone who types the label instead of tapping it means the same.
        for language in Language::ALL {
            let (yes, no) = language.yes_no();
            assert_eq!(classify(yes), Some(Keyword::OptIn), "{language} {yes}");
            assert_eq!(classify(no), Some(Keyword::Decline), "{language} {no}");
        }
    }

    #[test]
    fn sms_lists_are_twilios_defaults_exactly() {
        assert_eq!(
            TWILIO_OPT_OUT,
            [
                "stop",
                "stopall",
                "unsubscribe",
                "cancel",
                "end",
                "quit",
                "revoke",
                "optout"
            ]
        );
        assert_eq!(TWILIO_OPT_IN, ["start", "yes", "unstop"]);
        assert_eq!(TWILIO_HELP, ["help", "info"]);
        for (list, keyword) in [
            (&TWILIO_OPT_OUT[..], Keyword::OptOut),
            (&TWILIO_OPT_IN[..], Keyword::OptIn),
            (&TWILIO_HELP[..], Keyword::Help),
        ] {
            for word in list {
                assert_eq!(classify_sms(word), Some(keyword), "{word}");
                assert_eq!(classify_sms(&word.to_uppercase()), Some(keyword), "{word}");
                assert_eq!(classify_sms(&format!(" {word} ")), Some(keyword), "{word}");
                assert_eq!(classify_sms(&format!("{word} please")), None, "{word}");
                assert_eq!(classify_sms(&format!("please {word}")), None, "{word}");
            }
        }
    }

    #[test]
    fn sms_opt_in_and_help_are_only_twilios_words() {
        // Twilio keeps blocking a number after these: they are not opt-ins.
        for text in [
            "sí",
            "oui",
            "ja",
            "sim",
            "yes please",
            "y",
            "opt in",
            "subscribe",
            "acepto",
        ] {
            assert_eq!(classify_sms(text), None, "{text:?}");
        }
        for text in ["ayuda", "aide", "hilfe", "ajuda", "aiuto"] {
            assert_eq!(classify_sms(text), None, "{text:?}");
        }
        for text in ["no", "non", "nein", "não", "no thanks"] {
            assert_eq!(classify_sms(text), None, "{text:?}");
        }
    }

    #[test]
    fn sms_opt_out_also_honours_every_languages_stop_words() {
        for text in [
            "para", "alto", "Arrêt", "stopp", "pare", "basta", "opt out", "stop all", "Baja",
        ] {
            assert_eq!(classify_sms(text), Some(Keyword::OptOut), "{text:?}");
        }
        assert_eq!(classify_sms("please stop texting me"), None);
    }
}
