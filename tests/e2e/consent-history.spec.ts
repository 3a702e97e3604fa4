// The consent record of a contact, as the advisor (and compliance) sees it:
// every step with time and actor, and a download of the record.
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, expectAccessible } from './flow';

test('the consent history lists every step with its actor and downloads as CSV', async ({ page, request, sam }) => {
  const contact = await newContact(request, sam, 'Historic Hana');
  await sendOptIn(page, sam, contact);
  await expect(page.getByText(/Opt-in request sent/)).toBeVisible();
  const reply = await request.post(`/sandbox/phones/${encodeURIComponent(contact.phone)}/reply`, {
    data: { text: 'Yes', channel: 'whatsapp' },
  });
  expect(reply.ok()).toBe(true);
  await expect(page.getByRole('status').filter({ hasText: 'opted in' })).toBeVisible();

  await page.getByText('Consent history').click();
  const history = page.getByRole('list', { name: 'Consent history' });
  await expect(history.getByText('Contact replied “yes”')).toBeVisible();
  await expect(history.getByRole('listitem').filter({ hasText: 'Contact replied “yes”' })).toContainText('Contact · consent: opted in');
  await expect(history.getByRole('listitem').filter({ hasText: 'Opt-in request queued' })).toContainText('Advisor');
  await expectAccessible(page, 'the consent history');
  await screenshots(page, 'consent-history');

  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download record (CSV)' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe(`consent-record-${contact.id}.csv`);
  const text = require('node:fs').readFileSync(await file.path(), 'utf8');
  expect(text.split('\n')[0]).toContain('seq,received_at');
  expect(text).toContain('keyword_opt_in');
});
