-- The CRM's record id of a contact, so a host page can open a contact by it.
ALTER TABLE contacts ADD COLUMN crm_id TEXT;
CREATE UNIQUE INDEX contacts_by_crm_id ON contacts (advisor_id, crm_id);
