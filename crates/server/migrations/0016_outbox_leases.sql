-- Outbox leases. A job is claimed before its provider call (state 'claimed',
-- its attempt counted, held until lease_until) and that is committed; a call
-- whose outcome is unknown (no answer, a process that died, an answer that
-- could not be recorded) leaves the job 'unknown' until a status carrying its
-- key proves the send or the grace period ends. SQLite cannot alter a CHECK,
-- so the table is rebuilt.
CREATE TABLE outbox_leased (
    id               INTEGER PRIMARY KEY,
    message_id       INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    payload_json     TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'unknown', 'done', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,
    last_error       TEXT
);
INSERT INTO outbox_leased (id, message_id, payload_json, idempotency_key, state, attempts,
                           next_attempt_at, last_error)
    SELECT id, message_id, payload_json, idempotency_key, state, attempts, next_attempt_at, last_error
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_leased RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_leases ON outbox (state, lease_until);
