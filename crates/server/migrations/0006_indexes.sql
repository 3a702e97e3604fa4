-- Inbound messages look up the latest request of a number.
CREATE INDEX opt_in_requests_by_number ON opt_in_requests (organization_id, phone_e164, created_at);
