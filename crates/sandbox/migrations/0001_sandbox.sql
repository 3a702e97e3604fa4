-- The sandbox: a local stand-in for the WhatsApp Cloud API and the SMS
-- provider. It keeps each contact's "phone" and every message it received or
-- wrote, in its own database file (never the service's).

CREATE TABLE sandbox_phones (
    phone_e164    TEXT PRIMARY KEY,
    on_whatsapp   INTEGER NOT NULL DEFAULT 1,
    profile_name  TEXT,
    updated_at    TEXT NOT NULL
);

-- direction is seen from the contact: 'in' = received by the contact.
-- status: provider status for 'in' messages; for 'out' ones whether the
-- service accepted the webhook.
CREATE TABLE sandbox_messages (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    phone_e164       TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('whatsapp', 'sms')),
    direction        TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    text             TEXT NOT NULL,
    template_json    TEXT,
    buttons_json     TEXT,
    context_id       TEXT,
    raw              TEXT NOT NULL,
    status           TEXT NOT NULL,
    error_code       INTEGER,
    idempotency_key  TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (channel, idempotency_key)
);
CREATE INDEX sandbox_messages_by_phone ON sandbox_messages (phone_e164, seq);
