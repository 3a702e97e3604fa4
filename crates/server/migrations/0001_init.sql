-- Organizations (businesses), their advisors, advisor tokens and contacts.
CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE advisors (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Only a SHA-256 of each bearer token is kept: a stolen database grants nothing.
CREATE TABLE advisor_tokens (
    token_sha256 TEXT PRIMARY KEY,
    advisor_id   INTEGER NOT NULL REFERENCES advisors(id),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at   TEXT,
    revoked_at   TEXT
);

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    advisor_id  INTEGER NOT NULL REFERENCES advisors(id),
    name        TEXT NOT NULL,
    phone_e164  TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (advisor_id, phone_e164)
);
CREATE INDEX contacts_by_advisor_name ON contacts (advisor_id, name COLLATE NOCASE, id);
