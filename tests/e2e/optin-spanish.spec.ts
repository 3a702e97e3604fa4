// Languages: a contact with a Spanish number is written to in Spanish. The
// confirm dialog shows the exact Spanish request (rendered by the service),
// the contact's phone receives it with Spanish buttons, and a typed "sí"
// opts them in, shown live on the advisor's screen.
import { APIRequestContext } from '@playwright/test';
import { test, expect, screenshots, DemoAdvisor } from './fixtures';
import { Contact, findContact, openPhone, expectAccessible, unique } from './flow';

/** Adds a contact with a fresh random Spanish mobile number (+34 6xx xxx xxx) for `advisor`. */
async function newSpanishContact(request: APIRequestContext, advisor: DemoAdvisor, name: string): Promise<Contact> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const digits = String(Math.floor(Math.random() * 100_000_000)).padStart(8, '0');
    const response = await request.post('/api/v1/contacts', {
      headers: { Authorization: `Bearer ${advisor.token}` },
      data: { name, phone: `+34 6${digits}` },
    });
    if (response.status() === 201) return response.json();
    expect(response.status(), 'only a duplicate number may make the add fail').toBe(409);
  }
  throw new Error('could not add a contact with a fresh number');
}

test('a Spanish-speaking contact gets the Spanish request and "sí" opts them in', async ({ page, context, request, sam }) => {
  // Two tabs and the sandbox's webhooks: give a busy machine room.
  test.setTimeout(60_000);
  const contact = await newSpanishContact(request, sam, unique('Lucía Gómez'));
  expect(contact.language, 'the language follows the number').toBe('es');
  expect(contact.display_phone).toMatch(/^\+34 6\d\d \d\d \d\d \d\d$/);

  const row = await findContact(page, sam, contact);
  await row.getByRole('button', { name: `WhatsApp ${contact.name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Send ${contact.name} an opt-in request?` });
  await expect(dialog).toBeVisible();
  const spanish = '¡Hola! Sam Rivera, de Acme Wealth, desea contactarle por WhatsApp sobre sus cuentas.';
  await expect(dialog.getByText('They\'ll get this WhatsApp message, in Español:')).toBeVisible();
  await expect(dialog.locator('blockquote')).toContainText(spanish);
  await expect(dialog.locator('figure')).toHaveAttribute('lang', 'es');
  await expect(dialog.getByText('You can message them once they tap "Sí".')).toBeVisible();
  await expectAccessible(page, 'the confirm dialog in Spanish');
  await screenshots(page, 'optin-confirm-spanish');
  const shown = await dialog.locator('blockquote').innerText();
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('heading', { level: 2, name: contact.name })).toBeVisible();
  await expect(page.getByText(contact.display_phone, { exact: true })).toBeVisible();
  await expect(page.getByLabel('Language')).toHaveValue('es');

  // The contact's phone received exactly what the dialog showed, with Spanish buttons.
  const { phone, problems } = await openPhone(page, context, contact);
  await expect(phone.getByText(shown)).toBeVisible();
  await expect(phone.getByRole('button', { name: 'Sí' })).toBeVisible();
  await expect(phone.getByRole('button', { name: 'No' })).toBeVisible();
  await screenshots(phone, 'optin-phone-spanish');

  // They type "sí" instead of tapping.
  await phone.getByRole('textbox', { name: 'Reply' }).fill('sí');
  await phone.getByRole('button', { name: 'Send reply' }).click();
  await expect(phone.getByText('Gracias. Ha aceptado recibir mensajes de WhatsApp de Acme Wealth (Sam Rivera).')).toBeVisible();

  // Back on the advisor's tab: no reload, the answer arrived by itself.
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages Today` })).toBeVisible();
  const log = page.getByRole('log', { name: 'WhatsApp messages' });
  await expect(log.getByText('sí', { exact: true })).toBeVisible();
  await expect(page.getByRole('form', { name: 'Send a WhatsApp message' }).getByRole('button', { name: 'Send' })).toBeEnabled();
  await expectAccessible(page, 'the opted-in Spanish contact');
  await screenshots(page, 'optin-spanish-accepted');
  expect(problems, 'no errors on the phone page').toEqual([]);
});

test('the advisor changes a contact\'s language and the request follows it', async ({ page, request, jane }) => {
  const contact = await newSpanishContact(request, jane, unique('Pierre Martin'));
  await findContact(page, jane, contact);
  await page.getByRole('link', { name: contact.name }).click();
  await expect(page.getByRole('heading', { level: 2, name: contact.name })).toBeVisible();
  const language = page.getByLabel('Language');
  await expect(language).toHaveValue('es');
  await language.selectOption({ label: 'Français' });
  // The service took it: a reload shows it.
  await expect(async () => {
    const response = await request.get(`/api/v1/contacts/${contact.id}`, { headers: { Authorization: `Bearer ${jane.token}` } });
    expect((await response.json()).language).toBe('fr');
  }).toPass({ timeout: 5_000 });
  await page.reload();
  await expect(page.getByLabel('Language')).toHaveValue('fr');
  await screenshots(page, 'contact-language');

  await page.getByRole('button', { name: /opt-in request/i }).first().click();
  const dialog = page.getByRole('dialog', { name: `Send ${contact.name} an opt-in request?` });
  await expect(dialog.getByText('They\'ll get this WhatsApp message, in Français:')).toBeVisible();
  await expect(dialog.locator('blockquote')).toContainText('Bonjour ! Jane Smith, de Acme Wealth, souhaite vous contacter sur WhatsApp');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
});
