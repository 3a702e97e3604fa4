//! Contacts, always scoped to the advisor who owns them.

use chrono::{DateTime, Utc};
use optin_core::api::Contact;
use optin_core::language::Language;
use optin_core::search::ContactQuery;

use super::consent::{ConsentRow, CONSENT_COLUMNS};
use super::{parse_name, Engine, Store, StoreResult};

/// Outcome of inserting a contact.
pub enum Inserted {
    Created(Contact),
    DuplicatePhone,
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: i64,
    name: String,
    phone_e164: String,
    language: Option<String>,
    #[sqlx(flatten)]
    consent: ConsentRow,
}

/// A stored contact language (`None`: it follows the number).
fn read_language(id: i64, language: Option<&str>) -> StoreResult<Option<Language>> {
    language
        .map(|l| parse_name(&format!("contact {id}"), l))
        .transpose()
}

impl ContactRow {
    /// The contact with its number's consent as seen at `now` (the service clock).
    fn into_contact(self, now: DateTime<Utc>) -> StoreResult<Contact> {
        let record = self.consent.into_record(&self.phone_e164)?;
        let language = read_language(self.id, self.language.as_deref())?;
        Ok(Contact {
            id: self.id,
            name: self.name,
            display_phone: optin_core::phone::international(&self.phone_e164),
            language: Language::of_contact(language, &self.phone_e164),
            phone: self.phone_e164,
            consent: record.status.view(now),
        })
    }
}

/// Contact columns with the number's consent, joined through the advisor's organization.
fn contact_select() -> String {
    format!(
        "SELECT c.id, c.name, c.phone_e164, c.language, {CONSENT_COLUMNS}
    FROM contacts c
    JOIN advisors a ON a.id = c.advisor_id
    LEFT JOIN consents k ON k.organization_id = a.organization_id AND k.phone_e164 = c.phone_e164"
    )
}

/// `ContactQuery::matches` in SQL: names compared folding ASCII letters only, as it does.
fn matches(engine: Engine) -> String {
    format!(
        "c.advisor_id = $1 AND ($2 = '' OR {} OR ($4 <> '' AND c.phone_e164 LIKE $5 ESCAPE '\\'))",
        engine.like_ascii_nocase("c.name", "$3")
    )
}

impl Store {
    /// A page of the advisor's contacts matching `query` (the rule of
    /// `optin_core::search`, which the app's instant filter follows too);
    /// ordered by name.
    pub async fn search_contacts(
        &self,
        advisor_id: i64,
        query: &str,
        offset: u64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<Contact>, u64)> {
        let search = ContactQuery::new(query);
        let (query, digits) = (search.text(), search.digits());
        let name_pattern = like_pattern(query);
        let phone_pattern = like_pattern(digits);
        let matches = matches(self.engine());
        let by_name = self.engine().ascii_nocase("c.name");
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM contacts c WHERE {matches}"))
                .bind(advisor_id)
                .bind(query)
                .bind(&name_pattern)
                .bind(digits)
                .bind(&phone_pattern)
                .fetch_one(&self.pool)
                .await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            // Page through the (advisor, name) index first, then join only that page.
            "{} WHERE c.id IN (
                 SELECT c.id FROM contacts c WHERE {matches}
                 ORDER BY {by_name}, c.id LIMIT $6 OFFSET $7)
             ORDER BY {by_name}, c.id",
            contact_select()
        ))
        .bind(advisor_id)
        .bind(query)
        .bind(&name_pattern)
        .bind(digits)
        .bind(&phone_pattern)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let contacts = rows
            .into_iter()
            .map(|r| r.into_contact(now))
            .collect::<StoreResult<_>>()?;
        Ok((contacts, total as u64))
    }

    /// One of the advisor's contacts, its consent as seen at `now`; `None`
    /// for missing ones and for other advisors' ones.
    pub async fn contact(
        &self,
        advisor_id: i64,
        id: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Contact>> {
        let row: Option<ContactRow> = sqlx::query_as(&format!(
            "{} WHERE c.advisor_id = $1 AND c.id = $2",
            contact_select()
        ))
        .bind(advisor_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.into_contact(now)).transpose()
    }

    /// The advisor's contact with this number or CRM record id.
    pub async fn find_contact(
        &self,
        advisor_id: i64,
        phone_e164: Option<&str>,
        crm_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Contact>> {
        let row: Option<ContactRow> = sqlx::query_as(&format!(
            "{} WHERE c.advisor_id = $1 AND (c.phone_e164 = $2 OR c.crm_id = $3)
             ORDER BY (c.crm_id = $3) DESC LIMIT 1",
            contact_select()
        ))
        .bind(advisor_id)
        .bind(phone_e164)
        .bind(crm_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.into_contact(now)).transpose()
    }

    /// Records the CRM's id of a contact (first one wins).
    pub async fn set_contact_crm_id(
        &self,
        advisor_id: i64,
        id: i64,
        crm_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE contacts SET crm_id = $3 WHERE advisor_id = $1 AND id = $2 AND crm_id IS NULL",
        )
        .bind(advisor_id)
        .bind(id)
        .bind(crm_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets the language a contact is written to in; false when the advisor
    /// has no such contact.
    pub async fn set_contact_language(
        &self,
        advisor_id: i64,
        id: i64,
        language: Language,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE contacts SET language = $3 WHERE advisor_id = $1 AND id = $2")
                .bind(advisor_id)
                .bind(id)
                .bind(language.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a contact with an already validated name and E.164 number, and
    /// its language when one was chosen (else it follows the number).
    pub async fn insert_contact(
        &self,
        advisor_id: i64,
        name: &str,
        phone_e164: &str,
        language: Option<Language>,
        now: DateTime<Utc>,
    ) -> StoreResult<Inserted> {
        let result: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "INSERT INTO contacts (advisor_id, name, phone_e164, language) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(advisor_id)
        .bind(name)
        .bind(phone_e164)
        .bind(language.map(Language::as_str))
        .fetch_one(&self.pool)
        .await;
        match result {
            // Read back through the join: the number may already have consent in the organization.
            Ok(id) => self
                .contact(advisor_id, id, now)
                .await?
                .map(Inserted::Created)
                .ok_or_else(|| super::StoreError::Corrupt {
                    what: format!("contact {id}"),
                    problem: "not found right after it was added".into(),
                }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(Inserted::DuplicatePhone)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_wildcards_in_searches_are_taken_literally() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}

/// A contact as the flow needs it: who, at which number, in which language.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRef {
    pub id: i64,
    pub name: String,
    pub phone_e164: String,
    language: Option<String>,
}

impl ContactRef {
    /// The language the contact is written to in.
    pub fn language(&self) -> StoreResult<Language> {
        let set = read_language(self.id, self.language.as_deref())?;
        Ok(Language::of_contact(set, &self.phone_e164))
    }
}

impl super::UnitOfWork {
    /// One of the advisor's contacts; `None` for missing ones and for other advisors' ones.
    pub async fn advisor_contact(
        &mut self,
        advisor_id: i64,
        id: i64,
    ) -> StoreResult<Option<ContactRef>> {
        Ok(sqlx::query_as(
            "SELECT id, name, phone_e164, language FROM contacts WHERE advisor_id = $1 AND id = $2",
        )
        .bind(advisor_id)
        .bind(id)
        .fetch_optional(self.conn().await?)
        .await?)
    }

    /// The language to write to a number of the organization in, when no
    /// request says: the one set on the advisor's contact with that number
    /// (the advisor who asked), else on any contact of the organization
    /// with it, else the number's country's.
    pub async fn number_language(
        &mut self,
        organization_id: i64,
        phone_e164: &str,
        advisor_id: Option<i64>,
    ) -> StoreResult<Language> {
        let set: Option<(i64, String)> = sqlx::query_as(
            "SELECT c.id, c.language FROM contacts c JOIN advisors a ON a.id = c.advisor_id
             WHERE a.organization_id = $1 AND c.phone_e164 = $2 AND c.language IS NOT NULL
             ORDER BY (c.advisor_id = $3) DESC, c.id LIMIT 1",
        )
        .bind(organization_id)
        .bind(phone_e164)
        .bind(advisor_id)
        .fetch_optional(self.conn().await?)
        .await?;
        let set = match set {
            Some((id, language)) => read_language(id, Some(&language))?,
            None => None,
        };
        Ok(Language::of_contact(set, phone_e164))
    }
}
