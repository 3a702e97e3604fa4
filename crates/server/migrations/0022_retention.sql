-- Retention: messages older than the organization's period are purged
-- (FINRA 4511: six years by default), unless a legal hold covers them.
ALTER TABLE organizations ADD COLUMN retention_months INTEGER NOT NULL DEFAULT 72
    CHECK (retention_months >= 36);

-- Legal holds: on one number, or (phone_e164 NULL) the whole organization.
-- Kept after release, so who held what and when stays known.
CREATE TABLE legal_holds (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT,
    reason           TEXT NOT NULL,
    placed_by        INTEGER NOT NULL REFERENCES advisors(id),
    placed_at        TEXT NOT NULL,
    released_by      INTEGER REFERENCES advisors(id),
    released_at      TEXT
);
CREATE INDEX legal_holds_active ON legal_holds (organization_id, released_at, phone_e164);

-- Purges look for the oldest messages first.
CREATE INDEX messages_by_age ON messages (organization_id, created_at);
