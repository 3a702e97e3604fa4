-- Messages from contacts that read as a request to stop: flagged for a
-- person to decide, never applied or ignored silently.
CREATE TABLE stop_flags (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('whatsapp', 'sms')),
    message_id       INTEGER REFERENCES messages(id),
    text             TEXT NOT NULL,
    flagged_at       TEXT NOT NULL,
    decision         TEXT CHECK (decision IN ('revocation', 'not_a_revocation')),
    decided_by       INTEGER REFERENCES advisors(id),
    decided_at       TEXT
);
CREATE INDEX stop_flags_open ON stop_flags (organization_id, decided_at, phone_e164);

-- Revocations a contact gave by other means (phone, e-mail, in person, a
-- letter, a plain-words message a reviewer applied), recorded by a person of
-- the organization. The consent record holds each as evidence too (its
-- detail names the row's id); this table is what the contact's screen reads.
CREATE TABLE revocations (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    given_at         TEXT NOT NULL,
    note             TEXT NOT NULL,
    recorded_by      INTEGER NOT NULL REFERENCES advisors(id),
    recorded_at      TEXT NOT NULL,
    stop_flag_id     INTEGER REFERENCES stop_flags(id)
);
CREATE INDEX revocations_by_number ON revocations (organization_id, phone_e164, id);
