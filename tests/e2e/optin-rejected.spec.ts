// Outcome: the contact taps No. Messaging is disabled with the reason; the
// contact is told they can opt in any time by replying "yes", and when they
// do, the advisor sees it live.
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, openPhone, expectAccessible } from './flow';

test('a rejected opt-in disables messaging until the contact replies "yes"', async ({ page, context, request, sam }) => {
  // Two tabs and the sandbox's webhooks: give a busy machine room.
  test.setTimeout(60_000);
  const contact = await newContact(request, sam, 'Rejecting Rob');
  await sendOptIn(page, sam, contact);
  const { phone, problems } = await openPhone(page, context, contact);
  await phone.getByRole('button', { name: 'No' }).click();
  await expect(phone.getByText('You have opted out of WhatsApp messages from Acme Wealth. You can opt in at any time by replying "yes".')).toBeVisible();

  const status = page.getByRole('status').filter({ hasText: 'opted out of WhatsApp messages' });
  await expect(status).toContainText(`${contact.name} opted out of WhatsApp messages Today`);
  const composer = page.getByRole('form', { name: 'Send a WhatsApp message' });
  await expect(composer.getByLabel('Message type')).toBeDisabled();
  await expect(composer.getByRole('textbox', { name: 'Message' })).toBeDisabled();
  await expect(composer.getByRole('button', { name: 'Send' })).toBeDisabled();
  await expect(composer.getByText(`${contact.name} opted out. They can opt in again at any time by replying "yes".`)).toBeVisible();
  await expect(composer.getByRole('group')).toHaveAccessibleDescription(`${contact.name} opted out. They can opt in again at any time by replying "yes".`);
  await expect(page.getByRole('button', { name: /opt-in request/i }), 'only the contact can opt back in').toHaveCount(0);
  await expectAccessible(page, 'the opted-out contact screen');
  await screenshots(page, 'optin-rejected');

  await phone.getByRole('textbox', { name: 'Reply' }).fill('yes');
  await phone.getByRole('button', { name: 'Send reply' }).click();
  await expect(phone.getByText('Thank you. You have opted in')).toBeVisible();
  await screenshots(phone, 'optin-phone-rejected-then-yes');

  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages Today` })).toBeVisible();
  await expect(composer.getByLabel('Message type')).toBeEnabled();
  await expect(composer.getByRole('button', { name: 'Send' })).toBeEnabled();
  await expect(page.getByRole('log', { name: 'WhatsApp messages' }).getByText('yes', { exact: true })).toBeVisible();
  await screenshots(page, 'optin-rejected-then-yes');
  expect(problems, 'no errors on the phone page').toEqual([]);
});
