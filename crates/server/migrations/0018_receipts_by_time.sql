-- Webhook receipts are pruned by age once the providers' retry horizon has
-- passed; this keeps that sweep from reading the whole table.
CREATE INDEX webhook_receipts_by_time ON webhook_receipts (received_at);
