// A double click on Confirm sends one opt-in request, not two.
import { test, expect, screenshots } from './fixtures';
import { newContact, findContact } from './flow';

test('a double click on Confirm sends one opt-in request', async ({ page, request, sam }) => {
  const contact = await newContact(request, sam, 'Double Dana');
  const sent: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === `/api/v1/contacts/${contact.id}/opt-in`) {
      sent.push(r.headers()['idempotency-key'] ?? '');
    }
  });
  const row = await findContact(page, sam, contact);
  await row.getByRole('button', { name: `WhatsApp ${contact.name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Send ${contact.name} an opt-in request?` });
  await dialog.getByRole('button', { name: 'Confirm' }).dblclick();
  await expect(page.getByRole('heading', { level: 2, name: contact.name })).toBeVisible();
  await expect(page.getByText(/^Opt-in request sent Today, /)).toBeVisible();
  expect(sent, 'one request, with an idempotency key').toHaveLength(1);
  expect(sent[0]).toMatch(/^[0-9a-f]{32}$/);
  await expect(page.getByRole('log', { name: 'WhatsApp messages' }).getByText('Opt-in request')).toHaveCount(1);
  await screenshots(page, 'optin-double-click');

  // Even a request repeated with the same key is one request on the service.
  const again = await request.post(`/api/v1/contacts/${contact.id}/opt-in`, {
    headers: { Authorization: `Bearer ${sam.token}`, 'Idempotency-Key': sent[0] },
  });
  expect(again.status()).toBe(202);
  const messages = await request.get(`/api/v1/contacts/${contact.id}/messages`, {
    headers: { Authorization: `Bearer ${sam.token}` },
  });
  const optIns = (await messages.json()).filter((m: { purpose: string }) => m.purpose === 'opt_in');
  expect(optIns).toHaveLength(1);
});
