-- Organization API keys for CRM backends (server to server), which mint
-- short-lived advisor tokens.
CREATE TABLE api_keys (
    key_sha256       TEXT PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    name             TEXT NOT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at       TEXT
);

-- The CRM's id of an advisor (user), so a CRM can mint tokens by its own ids.
ALTER TABLE advisors ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX advisors_by_external_id ON advisors (organization_id, external_id);
