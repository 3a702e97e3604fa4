//! The texts the service itself sends to contacts, in one place, in each
//! language of [`Language`]. Each names a reply word the contact can use;
//! the tests check that core reads those words as the keywords they claim.

use optin_core::language::Language;

/// The word a contact replies to opt out, as the texts in `language` name it.
fn stop_word(language: Language) -> &'static str {
    match language {
        Language::En | Language::Fr | Language::It => "STOP",
        Language::Es => "BAJA",
        Language::De => "STOPP",
        Language::Pt => "SAIR",
    }
}

/// The word a contact replies to opt back in, as the texts in `language` name it.
fn yes_word(language: Language) -> &'static str {
    match language {
        Language::En => "yes",
        Language::Es => "sí",
        Language::Fr => "oui",
        Language::De => "ja",
        Language::Pt => "sim",
        Language::It => "sì",
    }
}

/// Sent after the contact opted in.
pub fn opt_in_confirmation(
    language: Language,
    organization: &str,
    advisor: Option<&str>,
) -> String {
    let from = match advisor {
        Some(advisor) => format!("{organization} ({advisor})"),
        None => organization.to_owned(),
    };
    let stop = stop_word(language);
    match language {
        Language::En => format!(
            "Thank you. You have opted in to WhatsApp messages from {from}. Reply {stop} at any time to opt out."
        ),
        Language::Es => format!(
            "Gracias. Ha aceptado recibir mensajes de WhatsApp de {from}. Responda {stop} en cualquier momento para darse de baja."
        ),
        Language::Fr => format!(
            "Merci. Vous avez accepté de recevoir des messages WhatsApp de {from}. Répondez {stop} à tout moment pour vous désinscrire."
        ),
        Language::De => format!(
            "Vielen Dank. Sie haben zugestimmt, WhatsApp-Nachrichten von {from} zu erhalten. Antworten Sie jederzeit {stop}, um sich abzumelden."
        ),
        Language::Pt => format!(
            "Obrigado. Você aceitou receber mensagens de WhatsApp de {from}. Responda {stop} a qualquer momento para cancelar."
        ),
        Language::It => format!(
            "Grazie. Ha accettato di ricevere messaggi WhatsApp da {from}. Risponda {stop} in qualsiasi momento per annullare l'iscrizione."
        ),
    }
}

/// The answer to HELP / INFO by SMS when the organization set none: who is
/// writing, and how to stop. English only: the SMS keywords are the
/// provider's English ones.
pub fn sms_help(organization: &str) -> String {
    format!(
        "{organization}: messages from your advisor. Reply STOP to opt out, START to opt back in. Msg & data rates may apply."
    )
}

/// The one SMS confirming STOP: who, that nothing more will come, and how to
/// come back, in English like HELP. No marketing (carriers allow only this,
/// within 5 minutes).
pub fn sms_opt_out_confirmation(organization: &str) -> String {
    format!(
        "{organization}: you are unsubscribed and will receive no more messages. Reply START to resubscribe."
    )
}

/// Sent after the contact opted out: they can come back by replying "yes".
pub fn opt_out_notice(language: Language, organization: &str) -> String {
    let yes = yes_word(language);
    match language {
        Language::En => format!(
            "You have opted out of WhatsApp messages from {organization}. You can opt in at any time by replying \"{yes}\"."
        ),
        Language::Es => format!(
            "Se ha dado de baja de los mensajes de WhatsApp de {organization}. Puede volver a darse de alta en cualquier momento respondiendo \"{yes}\"."
        ),
        Language::Fr => format!(
            "Vous vous êtes désinscrit des messages WhatsApp de {organization}. Vous pouvez vous réinscrire à tout moment en répondant « {yes} »."
        ),
        Language::De => format!(
            "Sie haben sich von WhatsApp-Nachrichten von {organization} abgemeldet. Sie können sich jederzeit wieder anmelden, indem Sie „{yes}“ antworten."
        ),
        Language::Pt => format!(
            "Você cancelou as mensagens de WhatsApp de {organization}. Pode voltar a aceitar a qualquer momento respondendo \"{yes}\"."
        ),
        Language::It => format!(
            "Ha annullato l'iscrizione ai messaggi WhatsApp di {organization}. Può riattivarla in qualsiasi momento rispondendo \"{yes}\"."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use optin_core::keywords::{classify, Keyword};

    #[test]
    fn the_reply_words_the_texts_name_are_keywords() {
        for language in Language::ALL.iter().copied() {
            assert_eq!(
                classify(stop_word(language)),
                Some(Keyword::OptOut),
                "{language}"
            );
            assert_eq!(
                classify(yes_word(language)),
                Some(Keyword::OptIn),
                "{language}"
            );
            let confirmation = opt_in_confirmation(language, "Acme Wealth", Some("Jane Smith"));
            assert!(
                confirmation.contains("Acme Wealth (Jane Smith)"),
                "{confirmation}"
            );
            assert!(confirmation.contains(stop_word(language)), "{confirmation}");
            let notice = opt_out_notice(language, "Acme Wealth");
            assert!(notice.contains("Acme Wealth"), "{notice}");
            assert!(notice.contains(yes_word(language)), "{notice}");
        }
    }

    #[test]
    fn each_language_has_its_own_texts() {
        let confirmations: Vec<_> = Language::ALL
            .iter()
            .map(|l| opt_in_confirmation(*l, "Acme", None))
            .collect();
        let mut distinct = confirmations.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), Language::ALL.len());
        assert!(opt_in_confirmation(Language::Es, "Acme", None).starts_with("Gracias."));
        assert!(opt_out_notice(Language::Es, "Acme").ends_with("respondiendo \"sí\"."));
    }
}
