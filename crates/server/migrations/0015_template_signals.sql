-- What Meta says about each template (#12): its status (paused, disabled,
-- missing, ...) beside its category, so a template Meta will not send is
-- refused before calling it; and the raw history of those signals.
ALTER TABLE templates ADD COLUMN status TEXT NOT NULL DEFAULT 'APPROVED';
ALTER TABLE templates ADD COLUMN status_reason TEXT;
ALTER TABLE templates ADD COLUMN status_changed_at TEXT;
UPDATE templates SET category = upper(category);

CREATE TABLE template_updates (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    language        TEXT NOT NULL,
    detail_json     TEXT NOT NULL,
    raw_body        TEXT NOT NULL,
    received_at     TEXT NOT NULL
);
CREATE INDEX template_updates_by_template ON template_updates (organization_id, name, language, id);

-- The opt-in template (by name) used when the primary cannot be sent.
ALTER TABLE organizations ADD COLUMN alternate_opt_in_template TEXT;

-- The contact tapped "Stop promotions" in WhatsApp (user_preferences), until resumed.
ALTER TABLE consents ADD COLUMN marketing_stopped_at TEXT;
