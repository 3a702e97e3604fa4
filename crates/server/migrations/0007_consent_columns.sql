-- Consent in explicit columns instead of a JSON blob, so a row that cannot be
-- read is an error rather than "never asked", and every engine can store it.
CREATE TABLE consents_v2 (
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT NOT NULL,
    state            TEXT NOT NULL
        CHECK (state IN ('none', 'sending', 'pending', 'no_whatsapp', 'opted_in', 'opted_out')),
    requested_at     TEXT,
    last_request_at  TEXT,
    message_id       TEXT,
    failure_code     INTEGER,
    failure_at       TEXT,
    answered_at      TEXT,
    last_inbound_at  TEXT,
    sms_opted_out    INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, phone_e164)
);

-- Times in the old blob are RFC 3339 as chrono wrote them; rewrite them in
-- the fixed-width form every other column uses. Error code 0 was invented
-- for failures without a code: it becomes NULL.
INSERT INTO consents_v2 (organization_id, phone_e164, state, requested_at, last_request_at,
    message_id, failure_code, failure_at, answered_at, last_inbound_at, sms_opted_out, updated_at)
SELECT organization_id, phone_e164, state,
    strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(status_json, '$.requested_at')),
    strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(status_json, '$.last_request_at')),
    json_extract(status_json, '$.message_id'),
    NULLIF(json_extract(status_json, '$.last_failure.code'), 0),
    strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(status_json, '$.last_failure.at')),
    strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(status_json, '$.answered_at')),
    last_inbound_at, sms_opted_out, updated_at
FROM consents;

DROP TABLE consents;
ALTER TABLE consents_v2 RENAME TO consents;
