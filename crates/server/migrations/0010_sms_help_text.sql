-- What an organization answers to HELP / INFO by SMS (carriers require an
-- answer naming the business and how to opt out); NULL uses the standard text.
ALTER TABLE organizations ADD COLUMN sms_help_text TEXT;
