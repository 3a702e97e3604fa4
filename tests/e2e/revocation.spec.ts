// Revocation by any reasonable means: an advisor records a revocation the
// contact gave on a phone call; the contact's screen shows it, messaging is
// off for every advisor of the firm, and the record export holds it. A
// plain-words "please stop" is flagged for a person, never applied silently:
// compliance sees it in the list and applies it from the number's screen.
import { APIRequestContext, Page } from '@playwright/test';
import { test, expect, screenshots, DemoAdvisor } from './fixtures';
import { Contact, newContact, expectAccessible, openCompliance } from './flow';

/** The contact writes `text` on WhatsApp from their sandbox phone. */
async function contactWrites(request: APIRequestContext, phone: string, text: string) {
  const reply = await request.post(`/sandbox/phones/${encodeURIComponent(phone)}/reply`, {
    data: { text, channel: 'whatsapp' },
  });
  expect(reply.ok(), `the phone sends "${text}"`).toBe(true);
}

/** `advisor`'s contact with `phone`, added through the API. */
async function addContact(request: APIRequestContext, advisor: DemoAdvisor, name: string, phone: string): Promise<Contact> {
  const response = await request.post('/api/v1/contacts', {
    headers: { Authorization: `Bearer ${advisor.token}` },
    data: { name, phone },
  });
  expect(response.status()).toBe(201);
  return response.json();
}

/** Opens `contact`'s WhatsApp screen as `advisor`. */
async function openContact(page: Page, advisor: DemoAdvisor, contact: Contact) {
  await page.goto(`/contacts/${contact.id}#token=${advisor.token}`);
  await expect(page.getByRole('heading', { level: 2, name: contact.name })).toBeVisible();
}

test('a revocation given on a phone call disables messaging for every advisor and is in the record', async ({ page, context, request, jane, sam }) => {
  test.setTimeout(60_000);
  const contact = await newContact(request, jane, 'Calling Cleo');
  await contactWrites(request, contact.phone, 'yes');
  const samsContact = await addContact(request, sam, 'Cleo (Sam)', contact.phone);

  await openContact(page, jane, contact);
  const banner = page.getByRole('status').filter({ hasText: 'opted in to WhatsApp messages' });
  await expect(banner).toBeVisible();

  await page.getByRole('button', { name: 'Record a revocation' }).click();
  const form = page.locator('#record-revocation-form');
  await form.getByLabel('How the contact said it').selectOption('phone');
  await expect(form.getByLabel('When')).not.toHaveValue('');
  await form.getByLabel('Note').fill('Called the office at 9:10: asked us to stop all messages.');
  await expectAccessible(page, 'the revocation form');
  await screenshots(page, 'revocation-form');
  await form.getByRole('button', { name: 'Record revocation' }).click();
  await expect(form, 'the form closes once recorded').toBeHidden();
  await expect(page.getByText('Revocation recorded. Messaging is now off for this contact.')).toBeVisible();

  const revoked = page.getByRole('status').filter({ hasText: 'revoked consent to messages' });
  await expect(revoked).toContainText(`${contact.name} revoked consent to messages.`);
  await expect(revoked).toContainText('Revoked by phone call, Today');
  await expect(revoked).toContainText('Recorded by Jane Smith (Advisor), Today');
  await expect(revoked).toContainText('Called the office at 9:10: asked us to stop all messages.');
  const composer = page.getByRole('form', { name: 'Send a WhatsApp message' });
  await expect(composer.getByRole('textbox', { name: 'Message' })).toBeDisabled();
  await expect(composer.getByRole('button', { name: 'Send' })).toBeDisabled();
  await expect(page.getByRole('button', { name: /opt-in request/i }), 'no advisor can ask again').toHaveCount(0);
  await expectAccessible(page, 'the revoked contact screen');
  await screenshots(page, 'revocation-recorded');

  // Sam, another advisor of the firm, sees it and cannot message either.
  const samsPage = await context.newPage();
  await openContact(samsPage, sam, samsContact);
  await expect(samsPage.getByRole('status').filter({ hasText: 'revoked consent to messages' })).toContainText('Recorded by Jane Smith (Advisor)');
  await expect(samsPage.getByRole('form', { name: 'Send a WhatsApp message' }).getByRole('button', { name: 'Send' })).toBeDisabled();
  const auth = { Authorization: `Bearer ${sam.token}` };
  const whatsapp = await request.post(`/api/v1/contacts/${samsContact.id}/messages`, {
    headers: auth,
    data: { type: 'template', name: 'meeting_reminder', language: 'en_US', parameters: ['Cleo', 'Monday'] },
  });
  expect(whatsapp.status()).toBe(409);
  expect((await whatsapp.json()).code).toBe('not_opted_in');
  const sms = await request.post(`/api/v1/contacts/${samsContact.id}/sms`, { headers: auth, data: { body: 'About Monday' } });
  expect(sms.status()).toBe(409);
  expect((await sms.json()).code).toBe('sms_opted_out');
  await samsPage.getByRole('link', { name: `SMS with ${samsContact.name}` }).click();
  await expect(samsPage.getByText('revoked consent to messages, so no SMS can be sent')).toBeVisible();
  await samsPage.close();

  // The record export holds it, with who recorded it.
  const record = await request.get(`/api/v1/contacts/${contact.id}/consent/record?format=csv`, {
    headers: { Authorization: `Bearer ${jane.token}` },
  });
  expect(record.ok()).toBe(true);
  const csv = await record.text();
  expect(csv).toContain('revocation_recorded');
  expect(csv).toContain('asked us to stop all messages');
  expect(csv).toContain('Jane Smith');
  await page.getByText('Consent history').click();
  await expect(page.getByRole('list', { name: 'Consent history' })).toContainText('Revocation recorded');
});

test('"please stop texting me" is flagged for a person and compliance applies it', async ({ page, context, request, jane, compliance }) => {
  test.setTimeout(60_000);
  const contact = await newContact(request, jane, 'Flagging Fay');
  await contactWrites(request, contact.phone, 'yes');
  await openContact(page, jane, contact);
  await expect(page.getByRole('status').filter({ hasText: 'opted in to WhatsApp messages' })).toBeVisible();
  await contactWrites(request, contact.phone, 'Please stop texting me');

  // Shown prominently on the advisor's screen; consent is untouched.
  const flags = page.getByRole('region', { name: 'Possible request to stop' });
  await expect(flags).toContainText('Please stop texting me');
  await expect(flags.getByRole('button', { name: 'Apply as revocation' })).toBeVisible();
  await expect(flags.getByRole('button', { name: 'Not a revocation' })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'opted in to WhatsApp messages' })).toBeVisible();
  await expectAccessible(page, 'a flagged message on the contact screen');
  await screenshots(page, 'revocation-flagged');

  // Compliance lists it and applies it from the number's screen.
  const officer = await context.newPage();
  await openCompliance(officer, compliance);
  const open = officer.getByRole('region', { name: /Possible requests to stop/ });
  await expect(open).toContainText('Please stop texting me');
  await expect(officer.getByRole('region', { name: 'Webhook parts kept for review' })).toBeVisible();
  await screenshots(officer, 'revocation-compliance-list');
  await open.getByRole('link', { name: contact.phone }).first().click();
  const numberFlags = officer.getByRole('region', { name: 'Possible request to stop' });
  await numberFlags.getByRole('button', { name: 'Apply as revocation' }).click();
  await expect(numberFlags).toHaveCount(0);
  await expect(officer.getByText('Consent revoked: no advisor may message this number.')).toBeVisible();
  await expect(officer.getByRole('list', { name: 'Evidence timeline' })).toContainText('Flagged message applied as a revocation');
  await screenshots(officer, 'revocation-compliance-number');
  await officer.close();

  // The advisor's screen follows live.
  await expect(page.getByRole('status').filter({ hasText: 'revoked consent to messages' })).toContainText('Revoked by WhatsApp message');
  await expect(page.getByRole('region', { name: 'Possible request to stop' })).toHaveCount(0);
});
