-- Everything needed to re-verify a webhook outside the service: the
-- signature header exactly as received (`X-Hub-Signature-256`,
-- `X-Twilio-Signature`) and, for SMS, the URL the provider signed. Kept on
-- the consent record's steps and on what waits to become steps (parked
-- statuses, webhooks kept for review or for a number not provisioned yet).
ALTER TABLE consent_events ADD COLUMN signature_header TEXT;
ALTER TABLE consent_events ADD COLUMN signed_url TEXT;
ALTER TABLE parked_statuses ADD COLUMN signature_header TEXT;
ALTER TABLE parked_statuses ADD COLUMN signed_url TEXT;
ALTER TABLE webhook_reviews ADD COLUMN signature_header TEXT;
ALTER TABLE webhook_reviews ADD COLUMN signed_url TEXT;

-- The form a step's hash was computed over: 1 for the steps recorded before
-- this migration (without the signature fields), 2 since (with them). Each
-- step is verified in its own form, so older steps keep verifying.
ALTER TABLE consent_events ADD COLUMN hash_form INTEGER NOT NULL DEFAULT 1 CHECK (hash_form IN (1, 2));
