-- Parts of validly signed webhooks the service could not understand: kept
-- raw with the reason for review, never refused (the provider would retry
-- them for days) and never silently dropped.
CREATE TABLE webhook_reviews (
    id               INTEGER PRIMARY KEY,
    provider         TEXT NOT NULL CHECK (provider IN ('whatsapp', 'sms')),
    organization_id  INTEGER REFERENCES organizations(id),
    reason           TEXT NOT NULL,
    item             TEXT NOT NULL,
    raw_body         TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    reviewed_at      TEXT
);

CREATE INDEX webhook_reviews_open ON webhook_reviews (reviewed_at, id);
