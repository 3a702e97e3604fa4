//! Free text that reads as a request to stop ("please stop texting me",
//! "no me escribas más"), in English, Spanish, French, German, Portuguese and
//! Italian.
//!
//! Since April 2025 US rules let a consumer revoke consent "by any reasonable
//! means", so such a message may not be ignored; but a sentence is not a
//! command ("we must stop this bill"), so it is not applied either: the
//! service flags it for a person to decide. This module only says whether a
//! message *looks like* one. Whole-message keywords ("stop", "baja") are
//! [`crate::keywords`]'s; ask this only when `classify` found none.
//!
//! Plain string operations (no regex: core ships in the web app's wasm).
//! The text is folded first (lower case, accents and apostrophes dropped,
//! punctuation as spaces), then matched against whole-word phrases, so
//! "¡Deja de escribirme!" and "deja de escribirme" are the same and
//! "stopping" never matches "stop".

/// Phrases written as a start and an end: every start followed by every end
/// is a phrase (`"stop" + "texting"`). Written unfolded, folded when matched.
const PHRASES: &[(&[&str], &[&str])] = &[
    // English.
    (
        &["stop", "quit", "cease", "please stop"],
        &[
            "texting",
            "messaging",
            "sending",
            "contacting",
            "writing",
            "emailing",
            "calling",
            "bothering",
            "the messages",
            "these messages",
            "all messages",
            "the texts",
            "these texts",
        ],
    ),
    (
        &["do not", "never", "no longer"],
        &[
            "text me",
            "message me",
            "contact me",
            "write to me",
            "write me",
            "send me",
            "email me",
            "want messages",
            "want these messages",
            "want any more",
            "want to receive",
        ],
    ),
    (
        &["no more"],
        &[
            "messages",
            "texts",
            "texting",
            "messaging",
            "whatsapp",
            "sms",
        ],
    ),
    (
        &[
            "unsubscribe",
            "opt me out",
            "opt out",
            "remove me from",
            "take me off",
            "delete my number",
            "leave me alone",
        ],
        &[""],
    ),
    // Spanish.
    (
        &["no me"],
        &[
            "escribas",
            "escriba",
            "escriban",
            "envies",
            "envie",
            "envien",
            "mandes",
            "mande",
            "manden",
            "contactes",
            "contacte",
            "contacten",
            "molestes",
            "moleste",
        ],
    ),
    (
        &[
            "deja de", "deje de", "dejen de", "dejad de", "para de", "paren de",
        ],
        &[
            "escribirme",
            "enviarme",
            "mandarme",
            "contactarme",
            "molestarme",
            "llamarme",
        ],
    ),
    (
        &["no mas", "basta de", "no quiero recibir", "no quiero mas"],
        &["mensajes", "whatsapp", "sms", ""],
    ),
    (
        &[
            "dame de baja",
            "darme de baja",
            "denme de baja",
            "borren mi numero",
        ],
        &[""],
    ),
    // French (apostrophes fold to spaces: "m'écrire" is "m ecrire").
    (
        &[
            "arretez de",
            "arrete de",
            "arreter de",
            "cessez de",
            "cesse de",
        ],
        &[
            "m ecrire",
            "m envoyer",
            "me contacter",
            "m appeler",
            "me deranger",
            "me spammer",
        ],
    ),
    (
        &["ne m", "ne me"],
        &[
            "ecrivez plus",
            "ecris plus",
            "envoyez plus",
            "envoie plus",
            "contactez plus",
            "contacte plus",
            "derangez plus",
        ],
    ),
    (&["plus de", "assez de"], &["messages", "sms", "whatsapp"]),
    (
        &[
            "je ne veux plus",
            "desabonnez moi",
            "desinscrivez moi",
            "me desabonner",
            "me desinscrire",
            "retirez moi de",
            "supprimez mon numero",
        ],
        &[""],
    ),
    // German (ä, ö, ü fold to a, o, u; ß to ss).
    (
        &["keine"],
        &[
            "nachrichten mehr",
            "sms mehr",
            "whatsapp mehr",
            "mitteilungen mehr",
            "weiteren nachrichten",
            "werbung mehr",
        ],
    ),
    (
        &[
            "schreiben sie mir",
            "schreib mir",
            "schreibt mir",
            "kontaktieren sie mich",
            "kontaktiere mich",
            "schicken sie mir",
            "schick mir",
            "senden sie mir",
        ],
        &["nicht mehr", "nichts mehr", "keine nachrichten mehr"],
    ),
    (
        &["horen sie auf", "hor auf", "hort auf"],
        &[
            "mir zu schreiben",
            "mich zu kontaktieren",
            "mir nachrichten",
        ],
    ),
    (
        &[
            "melden sie mich ab",
            "tragen sie mich aus",
            "nicht mehr kontaktieren",
            "nicht mehr schreiben",
            "nicht mehr anschreiben",
        ],
        &[""],
    ),
    // Portuguese.
    (
        &[
            "pare de",
            "parem de",
            "para de",
            "deixe de",
            "deixem de",
            "chega de",
        ],
        &[
            "me mandar",
            "me enviar",
            "me escrever",
            "me contactar",
            "me contatar",
            "mandar mensagens",
            "enviar mensagens",
            "mensagens",
        ],
    ),
    (
        &["nao me"],
        &[
            "mande mais",
            "mandem mais",
            "envie mais",
            "enviem mais",
            "escreva mais",
            "escrevam mais",
            "contate mais",
            "contactem mais",
            "mande mensagens",
            "envie mensagens",
        ],
    ),
    (
        &[
            "nao quero mais",
            "nao quero receber",
            "me tire da lista",
            "me tirem da lista",
            "descadastrar",
            "descadastre",
            "cancelar inscricao",
        ],
        &[""],
    ),
    // Italian.
    (
        &["non"],
        &[
            "scrivermi piu",
            "scrivetemi piu",
            "mi scriva piu",
            "mi scrivete piu",
            "mi scrivi piu",
            "mandarmi piu",
            "mandatemi piu",
            "mi mandi piu",
            "mi mandate piu",
            "inviarmi piu",
            "contattarmi piu",
            "mi contatti piu",
            "mi contattate piu",
            "voglio piu ricevere",
            "voglio ricevere",
            "voglio piu messaggi",
        ],
    ),
    (
        &[
            "smetti di",
            "smettete di",
            "smettila di",
            "smettetela di",
            "smetta di",
        ],
        &[
            "scrivermi",
            "inviarmi",
            "mandarmi",
            "contattarmi",
            "scrivere",
            "mandare",
        ],
    ),
    (
        &[
            "basta messaggi",
            "cancellami",
            "disiscrivimi",
            "toglietemi dalla lista",
            "rimuovetemi",
            "rimuovimi",
        ],
        &[""],
    ),
];

/// Words that mean "stop" on their own; a short message made of one of them
/// and polite filler only ("please stop", "stopp bitte", "basta per favore")
/// is a stop request.
const STOP_WORDS: &[&str] = &[
    "stop",
    "unsubscribe",
    "quit",
    "alto",
    "basta",
    "baja",
    "arret",
    "arrete",
    "arretez",
    "stopp",
    "aufhoren",
    "abmelden",
    "pare",
    "parar",
    "chega",
    "smettila",
    "smettetela",
];

/// Words that may stand beside a stop word in a short request.
const FILLER: &[&str] = &[
    "please", "pls", "plz", "it", "now", "all", "thanks", "thank", "you", "por", "favor", "ya",
    "s", "il", "vous", "plait", "svp", "merci", "bitte", "danke", "sofort", "per", "favore",
    "grazie", "obrigado", "obrigada", "ja",
];

/// Longest message (in words) the stop-word rule looks at.
const SHORT_MESSAGE_WORDS: usize = 5;

/// Whether a free-text message reads as a request to stop being messaged.
pub fn looks_like_stop_request(text: &str) -> bool {
    let words = fold(text);
    if words.is_empty() {
        return false;
    }
    let padded = format!(" {} ", words.join(" "));
    let phrase_found = folded_phrases()
        .iter()
        .any(|phrase| padded.contains(phrase.as_str()));
    phrase_found || is_short_stop(&words)
}

/// Every start-and-end phrase of [`PHRASES`], folded and padded with spaces:
/// worked out once (every inbound message is read against them all).
fn folded_phrases() -> &'static [String] {
    static FOLDED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FOLDED.get_or_init(|| {
        PHRASES
            .iter()
            .flat_map(|(starts, ends)| {
                starts.iter().flat_map(move |start| {
                    ends.iter().map(move |end| {
                        format!(" {} ", fold(format!("{start} {end}").trim_end()).join(" "))
                    })
                })
            })
            .collect()
    })
}

/// "please stop", "stop it now": a stop word with filler only.
fn is_short_stop(words: &[String]) -> bool {
    words.len() <= SHORT_MESSAGE_WORDS
        && words.iter().any(|w| STOP_WORDS.contains(&w.as_str()))
        && words
            .iter()
            .all(|w| STOP_WORDS.contains(&w.as_str()) || FILLER.contains(&w.as_str()))
}

/// Lower-cased words without accents; apostrophes and punctuation split
/// words ("don't" is "don t", so it is canonicalised to "do not").
fn fold(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => folded.push('a'),
            'è' | 'é' | 'ê' | 'ë' => folded.push('e'),
            'ì' | 'í' | 'î' | 'ï' => folded.push('i'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => folded.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => folded.push('u'),
            'ç' => folded.push('c'),
            'ñ' => folded.push('n'),
            'ß' => folded.push_str("ss"),
            c if c.is_alphanumeric() => folded.push(c),
            _ => folded.push(' '),
        }
    }
    let mut words: Vec<String> = Vec::new();
    for word in folded.split_whitespace() {
        match (words.last().map(String::as_str), word) {
            // "don't", "doesn't", "won't": the negation is what matters.
            (Some("don" | "doesn" | "didn"), "t") => {
                words.pop();
                words.extend(["do".to_owned(), "not".to_owned()]);
            }
            (_, "dont") => words.extend(["do".to_owned(), "not".to_owned()]),
            _ => words.push(word.to_owned()),
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_requests_to_stop_are_recognised_in_every_supported_language() {
        for text in [
            // English.
            "please stop texting me",
            "Please stop texting me.",
            "Don't message me anymore",
            "do not contact me again",
            "dont text me",
            "Stop sending me these messages!",
            "no more messages please",
            "I want to unsubscribe",
            "please stop",
            "Stop it",
            "remove me from your list",
            // Spanish.
            "no me escribas más",
            "¡Deja de escribirme!",
            "no más mensajes por favor",
            "por favor dame de baja",
            "basta por favor",
            // French.
            "arrêtez de m'écrire",
            "Arrête de m’envoyer des messages",
            "ne m'écrivez plus",
            "plus de messages svp",
            "je ne veux plus recevoir vos messages",
            // German.
            "bitte keine Nachrichten mehr",
            "Schreiben Sie mir nicht mehr",
            "hören Sie auf, mir zu schreiben",
            "stopp bitte",
            // Portuguese.
            "pare de me mandar mensagens",
            "não me mande mais mensagens",
            "não quero mais receber",
            "chega de mensagens",
            // Italian.
            "non scrivermi più",
            "Non mi scrivete più, grazie",
            "smettila di scrivermi",
            "basta messaggi",
        ] {
            assert!(looks_like_stop_request(text), "{text:?}");
        }
    }

    #[test]
    fn ordinary_messages_are_not_stop_requests() {
        for text in [
            "",
            "   ",
            "?!",
            "we must stop this bill",
            "I'll stop by the office tomorrow",
            "Thanks, see you on Monday",
            "can you send me the report?",
            "the bus stops here",
            "stopping by later",
            "mensajes recibidos, gracias",
            "para mañana, por favor",
            "je vous écris demain",
            "ich habe keine Nachrichten bekommen",
            "pare aqui na esquina e me ligue",
            "non ho ricevuto il messaggio",
            "unstoppable",
        ] {
            assert!(!looks_like_stop_request(text), "{text:?}");
        }
    }

    #[test]
    fn folding_drops_case_accents_and_punctuation_and_reads_contractions() {
        assert_eq!(
            fold("¡Arrêtez, S'IL vous plaît!"),
            ["arretez", "s", "il", "vous", "plait"]
        );
        assert_eq!(fold("Don't"), ["do", "not"]);
        assert_eq!(fold("Straße"), ["strasse"]);
    }
}
