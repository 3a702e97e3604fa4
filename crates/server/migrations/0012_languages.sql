-- Languages: the one a contact is written to in (NULL follows the country of
-- their number, decided by the service), and the one an organization falls
-- back to when it has no opt-in template in the contact's language.
ALTER TABLE contacts ADD COLUMN language TEXT
    CHECK (language IN ('en', 'es', 'fr', 'de', 'pt', 'it'));
ALTER TABLE organizations ADD COLUMN default_language TEXT NOT NULL DEFAULT 'en'
    CHECK (default_language IN ('en', 'es', 'fr', 'de', 'pt', 'it'));
