//! Contacts, always scoped to the advisor who owns them.

use optin_core::api::Contact;

use super::Store;

/// Outcome of inserting a contact.
pub enum Inserted {
    Created(Contact),
    DuplicatePhone,
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
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
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Contact {
            id: row.id,
            name: row.name,
            phone: row.phone_e164,
        }
    }
}

const MATCHES: &str = "advisor_id = $1 AND ($2 = '' OR name LIKE $3 ESCAPE '\\' OR ($4 <> '' AND phone_e164 LIKE $5 ESCAPE '\\'))";

impl Store {
    /// A page of the advisor's contacts whose name contains `query`, or whose
    /// number contains the digits of `query`; ordered by name.
    pub async fn search_contacts(
        &self,
        advisor_id: i64,
        query: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Contact>, u64), sqlx::Error> {
        let query = query.trim();
        let digits: String = query.chars().filter(char::is_ascii_digit).collect();
        let name_pattern = like_pattern(query);
        let phone_pattern = like_pattern(&digits);
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM contacts WHERE {MATCHES}"))
                .bind(advisor_id)
                .bind(query)
                .bind(&name_pattern)
                .bind(&digits)
                .bind(&phone_pattern)
                .fetch_one(&self.pool)
                .await?;
        let rows: Vec<ContactRow> = sqlx::query_as(&format!(
            "SELECT id, name, phone_e164 FROM contacts WHERE {MATCHES}
             ORDER BY name COLLATE NOCASE, id LIMIT $6 OFFSET $7"
        ))
        .bind(advisor_id)
        .bind(query)
        .bind(&name_pattern)
        .bind(&digits)
        .bind(&phone_pattern)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.into_iter().map(Contact::from).collect(), total as u64))
    }

    /// One of the advisor's contacts; `None` for missing ones and for other advisors' ones.
    pub async fn contact(&self, advisor_id: i64, id: i64) -> Result<Option<Contact>, sqlx::Error> {
        let row: Option<ContactRow> = sqlx::query_as(
            "SELECT id, name, phone_e164 FROM contacts WHERE advisor_id = $1 AND id = $2",
        )
        .bind(advisor_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Contact::from))
    }

    /// Adds a contact with an already validated name and E.164 number.
    pub async fn insert_contact(
        &self,
        advisor_id: i64,
        name: &str,
        phone_e164: &str,
    ) -> Result<Inserted, sqlx::Error> {
        let result: Result<ContactRow, sqlx::Error> = sqlx::query_as(
            "INSERT INTO contacts (advisor_id, name, phone_e164) VALUES ($1, $2, $3)
             RETURNING id, name, phone_e164",
        )
        .bind(advisor_id)
        .bind(name)
        .bind(phone_e164)
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => Ok(Inserted::Created(row.into())),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(Inserted::DuplicatePhone)
            }
            Err(e) => Err(e),
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
