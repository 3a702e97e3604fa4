-- The archive feed: one row per message and per consent-record step, in the
-- order they were written, numbered by one cursor (see store/archive.rs).
--
-- Rows are added by triggers, so they are written in the very transaction
-- that writes the message or the step: no code path can store one and
-- forget the other, and a rolled-back write leaves no row. SQLite lets one
-- writer at a time, so ids are taken in commit order: a reader that sees
-- item N has seen every item before it, and a cursor never skips one.
-- AUTOINCREMENT: an id is never used twice, even after the newest rows
-- were deleted (a purge), so an old cursor never hides a new item.
--
-- A message is an item once, when it is stored, with its status, provider
-- id and the number's consent state as they were then; what happens to it
-- later (accepted, delivered, read, failed) is recorded as consent-record
-- steps, which are items of their own.
CREATE TABLE archive_feed (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id      INTEGER NOT NULL,
    message_id           INTEGER,
    consent_event_id     INTEGER,
    message_status       TEXT,
    provider_message_id  TEXT,
    consent_state        TEXT,
    CHECK ((message_id IS NULL) <> (consent_event_id IS NULL))
);
CREATE INDEX archive_feed_by_organization ON archive_feed (organization_id, id);

-- What was written before this migration, oldest first (messages and steps
-- merged by time; a message before the steps written with it).
INSERT INTO archive_feed (organization_id, message_id, consent_event_id, message_status,
    provider_message_id, consent_state)
SELECT organization_id, message_id, consent_event_id, message_status, provider_message_id,
       consent_state
FROM (
    SELECT m.organization_id, m.id AS message_id, NULL AS consent_event_id,
           m.status AS message_status, m.provider_message_id, k.state AS consent_state,
           m.created_at AS at, 0 AS kind_order, m.id AS item_id
    FROM messages m
    LEFT JOIN consents k ON k.organization_id = m.organization_id AND k.phone_e164 = m.phone_e164
    UNION ALL
    SELECT e.organization_id, NULL, e.id, NULL, NULL, COALESCE(e.state_after, k.state),
           e.received_at, 1, e.id
    FROM consent_events e
    LEFT JOIN consents k ON k.organization_id = e.organization_id AND k.phone_e164 = e.phone_e164
)
ORDER BY at, kind_order, item_id;

CREATE TRIGGER messages_to_archive_feed AFTER INSERT ON messages
BEGIN
    INSERT INTO archive_feed (organization_id, message_id, message_status, provider_message_id,
        consent_state)
    VALUES (NEW.organization_id, NEW.id, NEW.status, NEW.provider_message_id,
        (SELECT state FROM consents
         WHERE organization_id = NEW.organization_id AND phone_e164 = NEW.phone_e164));
END;

CREATE TRIGGER consent_events_to_archive_feed AFTER INSERT ON consent_events
BEGIN
    INSERT INTO archive_feed (organization_id, consent_event_id, consent_state)
    VALUES (NEW.organization_id, NEW.id, COALESCE(NEW.state_after,
        (SELECT state FROM consents
         WHERE organization_id = NEW.organization_id AND phone_e164 = NEW.phone_e164)));
END;

-- How far SMTP delivery has gone, per organization: every item up to
-- `delivered_through` was accepted by the journaling server.
CREATE TABLE archive_deliveries (
    organization_id    INTEGER PRIMARY KEY REFERENCES organizations(id),
    delivered_through  INTEGER NOT NULL,
    delivered_at       TEXT NOT NULL
);
