-- The sandbox keeps its data in a database of its own (crates/sandbox/migrations)
-- and is not part of a production build: the service's database no longer
-- holds its tables (0003 created them; it stays as applied, for checksums).
DROP INDEX IF EXISTS sandbox_messages_by_phone;
DROP TABLE IF EXISTS sandbox_messages;
DROP TABLE IF EXISTS sandbox_phones;
