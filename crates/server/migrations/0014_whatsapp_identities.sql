-- A contact's WhatsApp identity per organization. `phone_e164` is the number
-- the service keys the person's consent, contacts, messages and evidence by;
-- `wa_number` is the number WhatsApp last shared for them (NULL once WhatsApp
-- withholds it, after a change of business-scoped user id); `user_id` is
-- their business-scoped user id (BSUID), learned from webhooks that carry
-- it beside the number. Webhooks that carry only the BSUID are matched here.
CREATE TABLE whatsapp_identities (
    organization_id  INTEGER NOT NULL REFERENCES organizations(id),
    phone_e164       TEXT NOT NULL,
    wa_number        TEXT,
    user_id          TEXT,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, phone_e164)
);
-- One person per BSUID in an organization (NULLs do not collide).
CREATE UNIQUE INDEX whatsapp_identities_by_user_id ON whatsapp_identities (organization_id, user_id);
