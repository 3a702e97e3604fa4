// Outcome: the contact taps Yes. The advisor sees it without reloading, and
// can then message them (template, then free text inside the 24-hour window).
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, openPhone, expectAccessible, findContact } from './flow';

test('an accepted opt-in shows live, then templates and free text can be sent', async ({ page, context, request, sam }) => {
  // Two tabs and the sandbox's webhooks: give a busy machine room.
  test.setTimeout(60_000);
  const contact = await newContact(request, sam, 'Accepting Alice');
  await findContact(page, sam, contact);
  await expectAccessible(page, 'the contact list');
  const whatsApp = page.getByRole('button', { name: `WhatsApp ${contact.name}` });
  const dialog = page.getByRole('dialog', { name: `Send ${contact.name} an opt-in request?` });

  // The dialog keeps focus inside (Tab and Shift+Tab wrap around its
  // controls, never out to the page or the browser), closes on Escape and gives focus back.
  await whatsApp.focus();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeVisible();
  const confirm = dialog.getByRole('button', { name: 'Confirm' });
  const cancel = dialog.getByRole('button', { name: 'Cancel' });
  await expect(confirm).toBeFocused();
  for (const [key, next] of [['Tab', cancel], ['Tab', confirm], ['Tab', cancel], ['Shift+Tab', confirm], ['Shift+Tab', cancel]] as const) {
    await page.keyboard.press(key);
    await expect(next, `${key} keeps focus on a control inside the dialog`).toBeFocused();
    expect(await dialog.evaluate((d) => d.contains(document.activeElement) && document.hasFocus())).toBe(true);
  }
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(whatsApp).toBeFocused();
  await expect(page.getByText('Not asked').first()).toBeVisible();

  await whatsApp.click();
  await expect(dialog).toBeVisible();
  await expectAccessible(page, 'the confirm dialog');
  await screenshots(page, 'optin-confirm');
  await page.getByRole('button', { name: 'Confirm' }).click();

  const banner = page.getByRole('status').filter({ hasText: /Opt-in request sent|Sending opt-in request/ });
  await expect(banner.getByText(/^Opt-in request sent Today, \d\d:\d\d [AP]M\. Waiting for a response\./)).toBeVisible();
  await expect(banner).toContainText('you can send it again Tomorrow');
  const composer = page.getByRole('form', { name: 'Send a WhatsApp message' });
  await expect(composer.getByText(`You can message ${contact.name} on WhatsApp once they opt in.`)).toBeVisible();
  await expect(composer.getByRole('button', { name: 'Send' })).toBeDisabled();
  await expectAccessible(page, 'the pending contact screen');
  await screenshots(page, 'optin-pending');

  const { phone, problems } = await openPhone(page, context, contact);
  await expect(phone.getByText('would like to contact you on WhatsApp')).toBeVisible();
  await expectAccessible(phone, 'the sandbox phone');
  await phone.getByRole('button', { name: 'Yes' }).click();
  await expect(phone.getByText('Thank you. You have opted in')).toBeVisible();
  await screenshots(phone, 'optin-phone-accepted');

  // Back on the advisor's tab: no reload, the answer arrived by itself.
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages Today` })).toBeVisible();
  const log = page.getByRole('log', { name: 'WhatsApp messages' });
  await expect(log.getByText('Thank you. You have opted in')).toBeVisible();
  await expect(composer.getByRole('button', { name: 'Send' })).toBeEnabled();

  // A template, with a live preview of what the contact will read.
  await composer.getByLabel('Message type').selectOption({ label: 'Template: Meeting reminder' });
  await composer.getByLabel('Value {{1}}').fill('Alice');
  await composer.getByLabel('Value {{2}}').fill('Friday at 10:00');
  await expect(composer.getByText('Hello Alice, this is a reminder of our meeting on Friday at 10:00.')).toBeVisible();
  await composer.getByRole('button', { name: 'Send' }).click();
  await expect(log.getByText('Hello Alice, this is a reminder of our meeting on Friday at 10:00.')).toBeVisible();

  // The Yes tap opened the 24-hour window: free text is allowed.
  await composer.getByLabel('Message type').selectOption({ label: 'Free text' });
  await composer.getByRole('textbox', { name: 'Message' }).fill('Thanks Alice, talk soon.');
  await composer.getByRole('button', { name: 'Send' }).click();
  const sent = log.getByRole('listitem').filter({ hasText: 'Thanks Alice, talk soon.' });
  await expect(sent).toBeVisible();
  // The phone opens the chat, so the message ends up read (blue ticks).
  await expect(phone.getByText('Thanks Alice, talk soon.')).toBeVisible();
  await expect(sent.getByText('Read')).toBeAttached();

  await expect(page.getByRole('status').filter({ hasText: 'Reconnecting' })).toHaveCount(0);
  await expectAccessible(page, 'the opted-in contact screen');
  await screenshots(page, 'optin-accepted');
  await screenshots(phone, 'optin-phone-conversation');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expectAccessible(page, 'the opted-in contact screen, dark');
  await screenshots(page, 'optin-accepted-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // The list shows the new state too.
  await page.getByRole('link', { name: 'Back to contacts' }).click();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill(contact.phone);
  await expect(page.getByRole('listitem').filter({ hasText: contact.display_phone }).getByText('Opted in')).toBeVisible();
  expect(problems, 'no errors on the phone page').toEqual([]);
});
