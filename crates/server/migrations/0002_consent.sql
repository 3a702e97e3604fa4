-- Consent, messages, the outbox and the consent record (evidence).

-- Which WhatsApp business number and SMS sender belong to an organization,
-- so webhooks can be routed to it; and whether WhatsApp is enabled.
ALTER TABLE organizations ADD COLUMN whatsapp_phone_number_id TEXT;
ALTER TABLE organizations ADD COLUMN sms_number TEXT;
ALTER TABLE organizations ADD COLUMN whatsapp_enabled INTEGER NOT NULL DEFAULT 1;

-- Approved templates, configured per organization (purpose 'opt_in' is the request itself).
CREATE TABLE templates (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    language        TEXT NOT NULL,
    category        TEXT NOT NULL,
    purpose         TEXT NOT NULL CHECK (purpose IN ('opt_in', 'message')),
    body            TEXT NOT NULL,
    UNIQUE (organization_id, name, language)
);

-- Consent per (organization, number): an opt-out binds every advisor of the organization.
CREATE TABLE consents (
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT NOT NULL,
    state            TEXT NOT NULL,
    status_json      TEXT NOT NULL,
    last_inbound_at  TEXT,
    sms_opted_out    INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, phone_e164)
);

-- Every opt-in request or resend; its id travels in the Yes/No button payloads.
CREATE TABLE opt_in_requests (
    id               TEXT PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT NOT NULL,
    advisor_id       INTEGER NOT NULL REFERENCES advisors(id),
    kind             TEXT NOT NULL CHECK (kind IN ('request', 'resend')),
    idempotency_key  TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (advisor_id, idempotency_key)
);

-- Messages both ways, on both channels, with delivery status.
CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164          TEXT NOT NULL,
    channel             TEXT NOT NULL CHECK (channel IN ('whatsapp', 'sms')),
    direction           TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    purpose             TEXT NOT NULL,
    advisor_id          INTEGER REFERENCES advisors(id),
    opt_in_request_id   TEXT REFERENCES opt_in_requests(id),
    template_name       TEXT,
    template_language   TEXT,
    body                TEXT NOT NULL,
    provider_message_id TEXT UNIQUE,
    status              TEXT NOT NULL,
    error_code          INTEGER,
    error_title         TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX messages_by_number ON messages (organization_id, phone_e164, id);

-- Durable outbox: written in the same transaction as the message it sends.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    message_id       INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    payload_json     TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- Webhook items already applied (re-deliveries are acknowledged and skipped).
CREATE TABLE webhook_receipts (
    dedupe_key   TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL
);

-- The consent record: append-only, hash-chained per organization. Its ids
-- are also the ids of the live event stream.
CREATE TABLE consent_events (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    seq              INTEGER NOT NULL,
    phone_e164       TEXT NOT NULL,
    advisor_id       INTEGER,
    kind             TEXT NOT NULL,
    cause            TEXT NOT NULL,
    state_after      TEXT,
    provider_time    TEXT,
    received_at      TEXT NOT NULL,
    detail_json      TEXT NOT NULL,
    raw_body         TEXT,
    signature_valid  INTEGER,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL,
    UNIQUE (organization_id, seq)
);
CREATE INDEX consent_events_by_number ON consent_events (organization_id, phone_e164, seq);

CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent record is append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent record is append-only'); END;

-- Statuses that arrived before the send's response told us the message id;
-- applied when the id is stored.
CREATE TABLE parked_statuses (
    id                  INTEGER PRIMARY KEY,
    provider_message_id TEXT NOT NULL,
    status_json         TEXT NOT NULL,
    raw_body            TEXT NOT NULL,
    received_at         TEXT NOT NULL
);
CREATE INDEX parked_statuses_by_message ON parked_statuses (provider_message_id);
