-- A real firm's deployment: the mode the database was created in, roles,
-- disabled advisors, scoped and expiring API keys, and each organization's
-- own provider identities (numbers, business account, token, frame origins).

-- Facts about the database itself; 'mode' is 'production' or 'sandbox' and
-- never changes once written (the service refuses to open it in the other).
CREATE TABLE service_facts (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

ALTER TABLE advisors ADD COLUMN role TEXT NOT NULL DEFAULT 'advisor'
    CHECK (role IN ('advisor', 'compliance', 'admin'));
ALTER TABLE advisors ADD COLUMN disabled_at TEXT;

-- API keys get an id to list and revoke them by, a scope and an expiry.
CREATE TABLE api_keys_v2 (
    id               INTEGER PRIMARY KEY,
    key_sha256       TEXT NOT NULL UNIQUE,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    name             TEXT NOT NULL,
    scope            TEXT NOT NULL DEFAULT 'integration' CHECK (scope IN ('integration', 'admin')),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at       TEXT,
    revoked_at       TEXT
);
INSERT INTO api_keys_v2 (key_sha256, organization_id, name, created_at, revoked_at)
SELECT key_sha256, organization_id, name, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v2 RENAME TO api_keys;

ALTER TABLE organizations ADD COLUMN whatsapp_business_account_id TEXT;
-- The name of the environment variable that holds the organization's own
-- Cloud API token (its own business account): the secret itself never
-- touches the disk. NULL uses the service-wide token.
ALTER TABLE organizations ADD COLUMN whatsapp_access_token_env TEXT;
-- Space-separated origins allowed to frame the app for this organization.
ALTER TABLE organizations ADD COLUMN frame_origins TEXT NOT NULL DEFAULT '';

-- An organization may send from several WhatsApp numbers; each number
-- belongs to one organization, and inbound webhooks are routed by it. The
-- first one added is the one requests go out from.
CREATE TABLE whatsapp_numbers (
    phone_number_id  TEXT PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    added_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX whatsapp_numbers_by_organization ON whatsapp_numbers (organization_id, added_at);
INSERT INTO whatsapp_numbers (phone_number_id, organization_id)
SELECT whatsapp_phone_number_id, id FROM organizations WHERE whatsapp_phone_number_id IS NOT NULL;
ALTER TABLE organizations DROP COLUMN whatsapp_phone_number_id;
-- One SMS sender number per organization, owned by one organization.
CREATE UNIQUE INDEX organizations_by_sms_number ON organizations (sms_number);
CREATE UNIQUE INDEX organizations_by_name ON organizations (name);

-- The mode each consent-record step was recorded in (NULL before modes were
-- recorded); it is part of the step's hash when present.
ALTER TABLE consent_events ADD COLUMN mode TEXT CHECK (mode IN ('production', 'sandbox'));

-- Webhooks for a number no organization owns are kept (never lost) until an
-- admin provisions the number and replays them.
ALTER TABLE webhook_reviews ADD COLUMN business_number TEXT;
ALTER TABLE webhook_reviews ADD COLUMN replayed_at TEXT;
