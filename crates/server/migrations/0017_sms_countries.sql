-- The countries an organization may send SMS to (toll-fraud guard, #13):
-- ISO 3166 alpha-2 codes separated by spaces. NULL: only the country of the
-- organization's SMS sender number.
ALTER TABLE organizations ADD COLUMN sms_countries TEXT;

-- A sandbox demo seeded before this column reaches its contacts' countries,
-- as a newly seeded one does (its sender number is the sandbox's fictional one).
UPDATE organizations SET sms_countries = 'AU BR CN DE ES FR GB GG IN IT JP US'
WHERE name = 'Acme Wealth' AND sms_number = '+15550001111';
