// Outcome: the number is not on WhatsApp. The advisor is asked whether to
// send an SMS instead: No returns to the contacts, Yes opens the SMS screen.
import { test, expect, screenshots } from './fixtures';
import { newContact, findContact, openPhone, expectAccessible } from './flow';

test('a number without WhatsApp is offered SMS, and the SMS is sent', async ({ page, context, request, sam }) => {
  // Two tabs and the sandbox's webhooks: give a busy machine room.
  test.setTimeout(60_000);
  const contact = await newContact(request, sam, 'Landline Lee');
  // The person playing the contact switches WhatsApp off on the sandbox phone.
  const row = await findContact(page, sam, contact);
  await row.getByRole('link', { name: contact.name }).click();
  await expect(page.getByText(`${contact.name} hasn't been asked for consent to WhatsApp messages yet.`)).toBeVisible();
  const { phone, problems } = await openPhone(page, context, contact);
  const onWhatsApp = phone.getByRole('switch', { name: 'On WhatsApp' });
  await expect(onWhatsApp).toBeChecked();
  await onWhatsApp.click();
  await expect(onWhatsApp).not.toBeChecked();

  await page.getByRole('link', { name: 'Back to contacts' }).click();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill(contact.phone);
  await page.getByRole('listitem').filter({ hasText: contact.display_phone }).getByRole('button', { name: `WhatsApp ${contact.name}` }).click();
  await page.getByRole('dialog', { name: `Send ${contact.name} an opt-in request?` }).getByRole('button', { name: 'Confirm' }).click();

  const question = page.getByRole('alertdialog', { name: `${contact.name} is not a WhatsApp user. Send an SMS instead?` });
  await expect(question).toBeVisible();
  await expectAccessible(page, 'the not-on-WhatsApp question');
  await screenshots(page, 'optin-not-on-whatsapp');
  await question.getByRole('button', { name: 'No' }).click();
  await expect(page.getByRole('heading', { name: 'Contacts' })).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill(contact.phone);
  const listed = page.getByRole('listitem').filter({ hasText: contact.display_phone });
  await expect(listed.getByText('Not on WhatsApp')).toBeVisible();

  await listed.getByRole('button', { name: `WhatsApp ${contact.name}` }).click();
  await expect(question).toBeVisible();
  await question.getByRole('button', { name: 'Yes' }).click();
  await expect(page.getByRole('heading', { level: 2, name: `SMS with ${contact.name}` })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/contacts/${contact.id}/sms$`));

  await page.getByRole('textbox', { name: 'SMS message' }).fill('Hello Lee, this is Sam from Acme Wealth. Can we talk on Friday?');
  await expect(page.getByText('63 characters · 1 SMS')).toBeVisible();
  await page.getByRole('button', { name: 'Send SMS' }).click();
  const log = page.getByRole('log', { name: 'SMS messages' });
  const sms = log.getByRole('listitem').filter({ hasText: 'Can we talk on Friday?' });
  await expect(sms).toBeVisible();
  await expect(sms.getByText(/^(Sent|Delivered)$/)).toBeAttached();
  await expect(phone.getByText('Can we talk on Friday?')).toBeVisible();
  await expectAccessible(page, 'the SMS screen');
  await screenshots(page, 'optin-sms-sent');

  // The contact answers STOP by SMS: the advisor sees SMS blocked.
  await phone.getByLabel('Reply on').selectOption('sms');
  await phone.getByRole('textbox', { name: 'Reply' }).fill('STOP');
  await phone.getByRole('button', { name: 'Send reply' }).click();
  await expect(page.getByText(`${contact.name} replied STOP to your SMS, so no SMS can be sent until they reply START.`).first()).toBeVisible();
  await expect(page.getByRole('button', { name: 'Send SMS' })).toBeDisabled();
  await screenshots(page, 'optin-sms-blocked');
  expect(problems, 'no errors on the phone page').toEqual([]);
});
