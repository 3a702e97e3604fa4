// Retention, legal holds and the access log, as a compliance officer uses
// them: the number's page says how long its messages are kept; the officer
// places a legal hold with a reason and releases it; the list's access log
// shows that the officer opened the number's conversation.
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, openCompliance, expectAccessible, unique } from './flow';

test('compliance holds a number, releases it, and finds the visit in the access log', async ({ page, jane, compliance, request }) => {
  test.setTimeout(60_000);
  const contact = await newContact(request, jane, unique('Held Hana'));
  await sendOptIn(page, jane, contact);

  await openCompliance(page, compliance);
  await page.getByRole('searchbox', { name: 'Search' }).fill(contact.name);
  const row = page.getByRole('list', { name: 'Numbers' }).getByRole('listitem').filter({ hasText: contact.name });
  await row.getByRole('link').click();

  const retention = page.getByRole('region', { name: 'Retention' });
  await expect(retention).toContainText('Messages with this number are kept 6 years, then deleted, unless a legal hold keeps them.');
  await expect(retention.getByText('No legal hold.')).toBeVisible();

  // A hold needs a reason: refused before any request, next to the form.
  const place = retention.getByRole('button', { name: 'Place legal hold' });
  await place.click();
  await expect(retention.getByRole('alert')).toHaveText('Say why the records are held (the matter or request).');
  await retention.getByLabel('Reason for a legal hold').fill('Matter 2026-17: <b>subpoena</b>');
  await place.click();
  // Shown as text, never as markup.
  await expect(retention.getByText('On legal hold: Matter 2026-17: <b>subpoena</b>')).toBeVisible();
  await expect(retention.getByText(`Placed by ${compliance.name} · Today,`)).toBeVisible();
  await expect(retention.getByRole('button', { name: 'Place legal hold' })).toHaveCount(0);
  await expect(retention.locator('p.error')).toHaveText('');
  await expectAccessible(page, 'a held number');
  await screenshots(page, 'retention-held');

  // The hold is the organization's record: the service lists it.
  const holds = await request.get('/api/v1/compliance/holds', { headers: { Authorization: `Bearer ${compliance.token}` } });
  expect(holds.ok()).toBe(true);
  const held = (await holds.json()).holds.filter((h: { phone: string; released_at: string | null }) => h.phone === contact.phone && h.released_at === null);
  expect(held).toHaveLength(1);

  await retention.getByRole('button', { name: 'Release hold' }).click();
  await expect(retention.getByText('No legal hold.')).toBeVisible();
  await expect(retention.getByRole('button', { name: 'Place legal hold' })).toBeVisible();

  // The access log on the list names the officer's visit to this number.
  await page.getByRole('link', { name: 'Back to all numbers' }).click();
  const log = page.getByRole('region', { name: 'Access log' });
  const visit = log.getByRole('listitem').filter({ hasText: contact.phone }).filter({ hasText: 'Opened the conversation' });
  await expect(visit.first()).toBeVisible();
  await expect(visit.first()).toContainText(`${compliance.name} (Compliance)`);
  await visit.first().scrollIntoViewIfNeeded();
  await expectAccessible(page, 'the compliance list with its access log');
  await screenshots(page, 'access-log');
});
