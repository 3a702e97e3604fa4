-- Duties one instance at a time does for all (delivering the archive feed):
-- whoever holds the lease, until it runs out.
CREATE TABLE service_leases (
    name       TEXT NOT NULL PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
