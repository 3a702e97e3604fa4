//! The sandbox demo: one organization with the sandbox's numbers, two
//! advisors and their contacts, a compliance officer; created on the first
//! start of a sandbox database only (never in production).

use super::auth::{new_token, token_hash};
use optin_core::vocab::Role;

use super::{Store, StoreResult};

/// Business name shown in the demo.
pub const DEMO_ORGANIZATION: &str = "Acme Wealth";

/// The demo people; the first is the one the printed URL signs in, the
/// last is the compliance officer (no contacts of her own).
const DEMO_PEOPLE: [(&str, Role); 3] = [
    ("Jane Smith", Role::Advisor),
    ("Sam Rivera", Role::Advisor),
    ("Casey Morgan", Role::Compliance),
];

/// The first advisor's clients (names and valid numbers from several countries).
const JANE_CONTACTS: [(&str, &str); 12] = [
    ("Kerry Fisher", "+447911123456"),
    ("Amara Okafor", "+447700123456"),
    ("Luis Fernández", "+34612345678"),
    ("Chen Wei", "+8613812345678"),
    ("Priya Raman", "+919812345678"),
    ("Tom Becker", "+4915112345678"),
    ("Sofia Rossi", "+393471234567"),
    ("Noah Williams", "+12127365000"),
    ("Emma Dubois", "+33612345678"),
    ("Yuki Tanaka", "+819012345678"),
    ("Olivia Brown", "+61412345678"),
    ("Mateo Silva", "+5511912345678"),
];

/// The second advisor's clients.
const SAM_CONTACTS: [(&str, &str); 2] = [
    ("Grace Hopper", "+12025550143"),
    ("Ada Lovelace", "+447400123456"),
];

/// A demo advisor's name and bearer token, as written to the data folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoAdvisor {
    pub name: String,
    pub token: String,
    /// `advisor` or `compliance`.
    #[serde(default = "advisor")]
    pub role: Role,
}

fn advisor() -> Role {
    Role::Advisor
}

impl Store {
    /// Seeds the demo when the database holds no organization yet and returns
    /// the new advisors' tokens; returns `None` when it was seeded before.
    pub async fn seed_demo(&self) -> StoreResult<Option<Vec<DemoAdvisor>>> {
        let mut tx = self.write_transaction().await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            return Ok(None);
        }
        let org: i64 = sqlx::query_scalar(
            "INSERT INTO organizations (name, sms_number, whatsapp_business_account_id, sms_countries)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(DEMO_ORGANIZATION)
        .bind(SANDBOX_SMS_NUMBER)
        .bind(SANDBOX_BUSINESS_ACCOUNT_ID)
        .bind(demo_sms_countries())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO whatsapp_numbers (phone_number_id, organization_id) VALUES ($1, $2)",
        )
        .bind(SANDBOX_PHONE_NUMBER_ID)
        .bind(org)
        .execute(&mut *tx)
        .await?;
        for (name, language, category, purpose, body) in demo_templates() {
            sqlx::query(
                "INSERT INTO templates (organization_id, name, language, category, purpose, body)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(org)
            .bind(name)
            .bind(language)
            .bind(category)
            .bind(purpose)
            .bind(body)
            .execute(&mut *tx)
            .await?;
        }
        let mut advisors = Vec::new();
        for ((name, role), contacts) in
            DEMO_PEOPLE
                .iter()
                .zip([&JANE_CONTACTS[..], &SAM_CONTACTS[..], &[]])
        {
            let advisor: i64 = sqlx::query_scalar(
                "INSERT INTO advisors (organization_id, name, role) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(org)
            .bind(name)
            .bind(role.as_str())
            .fetch_one(&mut *tx)
            .await?;
            for (contact, phone) in contacts {
                sqlx::query(
                    "INSERT INTO contacts (advisor_id, name, phone_e164) VALUES ($1, $2, $3)",
                )
                .bind(advisor)
                .bind(contact)
                .bind(phone)
                .execute(&mut *tx)
                .await?;
            }
            let token = new_token();
            sqlx::query("INSERT INTO advisor_tokens (token_sha256, advisor_id) VALUES ($1, $2)")
                .bind(token_hash(&token))
                .bind(advisor)
                .execute(&mut *tx)
                .await?;
            advisors.push(DemoAdvisor {
                name: name.to_string(),
                token,
                role: *role,
            });
        }
        tx.commit().await?;
        Ok(Some(advisors))
    }
}

/// Phone number id of the sandbox's WhatsApp business number.
pub const SANDBOX_PHONE_NUMBER_ID: &str = "100000000000001";
/// The sandbox's WhatsApp Business Account id (`entry[].id` of its webhooks).
pub const SANDBOX_BUSINESS_ACCOUNT_ID: &str = "100000000000002";
/// The sandbox's SMS sender number.
pub const SANDBOX_SMS_NUMBER: &str = "+15550001111";

/// The opt-in request every new organization starts with (name, language,
/// category, purpose, body): the firm submits it to Meta for approval under
/// this name, or adds its own with `optin-server add-template`.
pub const STANDARD_OPT_IN_TEMPLATE: (&str, &str, &str, &str, &str) = (
    "advisor_opt_in",
    "en_US",
    "UTILITY",
    "opt_in",
    "Hello! {{1}} from {{2}} would like to contact you on WhatsApp about your accounts. \
     Do you agree to receive WhatsApp messages from {{2}}? You can opt out at any time by replying STOP.",
);

/// The standard opt-in request in the other languages (Meta's language
/// code, body), under the same name: the demo has them all approved; a
/// firm submits those it needs and adds them with `add-template`.
pub const STANDARD_OPT_IN_TRANSLATIONS: [(&str, &str); 5] = [
    (
        "es",
        "¡Hola! {{1}}, de {{2}}, desea contactarle por WhatsApp sobre sus cuentas. \
         ¿Acepta recibir mensajes de WhatsApp de {{2}}? Puede darse de baja en cualquier momento respondiendo BAJA.",
    ),
    (
        "fr",
        "Bonjour ! {{1}}, de {{2}}, souhaite vous contacter sur WhatsApp au sujet de vos comptes. \
         Acceptez-vous de recevoir des messages WhatsApp de {{2}} ? Vous pouvez vous désinscrire à tout moment en répondant STOP.",
    ),
    (
        "de",
        "Hallo! {{1}} von {{2}} möchte Sie über WhatsApp zu Ihren Konten kontaktieren. \
         Sind Sie einverstanden, WhatsApp-Nachrichten von {{2}} zu erhalten? Sie können sich jederzeit abmelden, indem Sie STOPP antworten.",
    ),
    (
        "pt_BR",
        "Olá! {{1}}, de {{2}}, gostaria de falar com você pelo WhatsApp sobre suas contas. \
         Você aceita receber mensagens de WhatsApp de {{2}}? Você pode cancelar a qualquer momento respondendo SAIR.",
    ),
    (
        "it",
        "Salve! {{1}} di {{2}} vorrebbe contattarla su WhatsApp riguardo ai suoi conti. \
         Accetta di ricevere messaggi WhatsApp da {{2}}? Può annullare l'iscrizione in qualsiasi momento rispondendo STOP.",
    ),
];

/// The demo organization's approved templates: (name, language, category, purpose, body).
fn demo_templates() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    let (name, _, category, purpose, _) = STANDARD_OPT_IN_TEMPLATE;
    let mut templates = vec![STANDARD_OPT_IN_TEMPLATE];
    templates.extend(
        STANDARD_OPT_IN_TRANSLATIONS
            .iter()
            .map(|(language, body)| (name, *language, category, purpose, *body)),
    );
    templates.extend([
        (
            "meeting_reminder",
            "en_US",
            "UTILITY",
            "message",
            "Hello {{1}}, this is a reminder of our meeting on {{2}}. Reply here if you need to change it.",
        ),
        (
            "portfolio_review",
            "en_US",
            "UTILITY",
            "message",
            "Hello {{1}}, your quarterly portfolio review is ready. Would you like to arrange a call?",
        ),
    ]);
    templates
}

/// The demo sends SMS to its contacts' countries, and no others.
fn demo_sms_countries() -> String {
    let mut countries: Vec<String> = JANE_CONTACTS
        .iter()
        .chain(SAM_CONTACTS.iter())
        .filter_map(|(_, phone)| optin_core::phone::country(phone))
        .collect();
    countries.sort();
    countries.dedup();
    countries.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_the_opt_in_request_in_every_language() {
        use optin_core::language::Language;
        let templates = demo_templates();
        for language in Language::ALL {
            let found: Vec<_> = templates
                .iter()
                .filter(|t| t.3 == "opt_in" && Language::of_template(t.1) == Some(*language))
                .collect();
            assert_eq!(found.len(), 1, "{language}");
            assert_eq!(
                optin_core::api::template_parameters(found[0].4),
                2,
                "{language}: advisor and organization"
            );
        }
    }

    #[test]
    fn the_migration_gives_older_demos_the_countries_a_new_one_gets() {
        let migration = include_str!("../../migrations/0017_sms_countries.sql");
        assert!(
            migration.contains(&format!("'{}'", demo_sms_countries())),
            "{}",
            demo_sms_countries()
        );
    }

    #[test]
    fn seeded_numbers_are_valid_e164() {
        for (_, phone) in JANE_CONTACTS.iter().chain(SAM_CONTACTS.iter()) {
            assert_eq!(
                optin_core::phone::to_e164(phone, None).as_deref(),
                Ok(*phone),
                "{phone}"
            );
        }
    }
}
