-- Who read or took away what: every compliance view of a conversation or of
-- raw evidence, every export and every bundle or archive download.
-- Append-only, like the consent record.
CREATE TABLE access_log (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    person_id        INTEGER NOT NULL REFERENCES advisors(id),
    role             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    phone_e164       TEXT,
    detail           TEXT,
    at               TEXT NOT NULL
);
CREATE INDEX access_log_by_organization ON access_log (organization_id, id);

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
