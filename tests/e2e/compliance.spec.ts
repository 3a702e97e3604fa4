// The compliance view: the officer finds a number an advisor asked, reads
// its whole evidence timeline (request, acceptance, raw webhook body) and
// downloads its record; an advisor never gets the view.
import { readFileSync } from 'node:fs';
import { Download } from '@playwright/test';
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, tapOnPhone, openCompliance, expectAccessible, unique } from './flow';

async function contentOf(download: Download): Promise<string> {
  return readFileSync(await download.path(), 'utf8');
}

test('compliance finds a number, reads its timeline with raw evidence and downloads its record', async ({ page, request, jane, compliance }) => {
  test.setTimeout(90_000);
  // Jane asks, the contact taps Yes on their (sandbox) phone.
  const contact = await newContact(request, jane, unique('Compliance Carla'));
  await sendOptIn(page, jane, contact);
  await tapOnPhone(request, contact.phone, 'Yes');
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages` })).toBeVisible();

  // The officer: the chain's state, then the number by search.
  await openCompliance(page, compliance);
  await expect(page.getByText(/^Record intact · [\d,]+ events? · last checked Today, \d\d:\d\d [AP]M$/)).toBeVisible();
  const numbers = page.getByRole('list', { name: 'Numbers' });
  const search = page.getByRole('searchbox', { name: 'Search' });
  await search.fill(contact.name);
  const row = numbers.getByRole('listitem').filter({ hasText: contact.name });
  await expect(row).toHaveCount(1);
  await expect(numbers.getByRole('listitem')).toHaveCount(1);
  await expect(row).toContainText(`${contact.name} (${jane.name})`);
  await expect(row.getByText('Opted in')).toBeVisible();
  await expect(row.getByText(/^Changed Today, \d\d:\d\d [AP]M$/)).toBeVisible();

  // ... and by the state filter (and the advisor filter): found under "Opted in" only.
  const state = page.getByLabel('Consent state');
  await state.selectOption({ label: 'Pending' });
  await expect(page.getByText('No number matches these filters.')).toBeVisible();
  await expect(row).toHaveCount(0);
  await state.selectOption({ label: 'Opted in' });
  await page.getByLabel('Advisor').selectOption({ label: jane.name });
  await expect(row).toHaveCount(1);
  // Without the search, the state filter alone shows opted-in numbers only.
  await search.fill('');
  await expect(numbers.getByRole('listitem').first()).toBeVisible();
  await expect(numbers.locator('.badge').filter({ hasNotText: 'Opted in' })).toHaveCount(0);
  await search.fill(contact.name);
  await expect(numbers.getByRole('listitem')).toHaveCount(1);
  // The days are the officer's own: changed today, so not in a range that ends yesterday.
  const day = (offset: number) => page.evaluate((offset) => {
    const d = new Date();
    d.setDate(d.getDate() + offset);
    return d.toLocaleDateString('en-CA');
  }, offset);
  await page.getByLabel('Changed until').fill(await day(-1));
  await expect(page.getByText('No number matches these filters.')).toBeVisible();
  await page.getByLabel('Changed until').fill(await day(0));
  await page.getByLabel('Changed from').fill(await day(0));
  await expect(row).toHaveCount(1);
  await expectAccessible(page, 'the compliance list');
  await screenshots(page, 'compliance-list');

  // The number's timeline.
  await row.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/compliance/numbers/${encodeURIComponent(contact.phone)}$`));
  const heading = page.getByRole('heading', { level: 2 });
  await expect(heading).toBeVisible();
  await expect(page.getByText(contact.phone, { exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Held by' })).toContainText(`${contact.name} · ${jane.name}`);
  const timeline = page.getByRole('list', { name: 'Evidence timeline' });
  const requested = timeline.getByRole('listitem').filter({ hasText: 'Opt-in request queued' });
  await expect(requested).toHaveCount(1);
  await expect(requested).toContainText(`ByAdvisorAdvisor${jane.name}`);
  await expect(requested).toContainText(/Received\s*Today, \d\d:\d\d:\d\d [AP]M/);
  await expect(timeline.getByText(/would like to contact you on WhatsApp/).first()).toBeVisible();
  const accepted = timeline.getByRole('listitem').filter({ hasText: 'Contact tapped Yes' });
  await expect(accepted).toHaveCount(1);
  await expect(accepted).toContainText('Consent afteropted in');
  await expect(accepted).toContainText('Signature verified');
  // The demo runs against the sandbox: its evidence says so.
  await expect(accepted.getByText('Sandbox evidence')).toBeVisible();
  const messages = page.getByRole('log', { name: 'Messages' });
  await expect(messages.getByText(/would like to contact you on WhatsApp/)).toBeVisible();

  // Raw evidence of the webhook, on demand, as text.
  const showRaw = accepted.getByRole('button', { name: 'Show raw evidence' });
  await showRaw.click();
  await expect(accepted.getByRole('button', { name: 'Hide raw evidence' })).toHaveAttribute('aria-expanded', 'true');
  const raw = accepted.getByRole('region', { name: /^Raw evidence/ });
  await expect(raw.locator('pre').first()).toContainText('"entry"');
  await expect(raw.locator('pre').first()).toContainText(contact.phone.replace('+', ''));
  await expect(raw.getByText('Hash', { exact: true })).toBeVisible();
  await expectAccessible(page, 'the number timeline');
  await screenshots(page, 'compliance-timeline');
  await page.emulateMedia({ colorScheme: 'dark' });
  await expectAccessible(page, 'the number timeline, dark');
  await screenshots(page, 'compliance-timeline-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // The number's record as a download, in both formats.
  const csvDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download record (CSV)' }).click();
  const csvFile = await csvDownload;
  const digits = contact.phone.replace('+', '');
  expect(csvFile.suggestedFilename()).toBe(`consent-record-${digits}.csv`);
  const csv = await contentOf(csvFile);
  expect(csv).toContain(contact.phone);
  expect(csv).toContain('requested');
  expect(csv).toContain('accepted');
  await expect(page.getByText(`Downloaded consent-record-${digits}.csv.`)).toBeAttached();
  const jsonlDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download record (JSON lines)' }).click();
  const lines = (await contentOf(await jsonlDownload)).trim().split('\n').map((line) => JSON.parse(line));
  const kinds = lines.map((event) => event.kind);
  expect(kinds).toContain('requested');
  expect(kinds).toContain('accepted');
  expect(kinds.indexOf('requested')).toBeLessThan(kinds.indexOf('accepted'));
  expect(JSON.stringify(lines)).toContain(contact.phone);

  // Back keeps the list as it was left; the organization's export holds the number too.
  await page.goBack();
  await expect(page.getByRole('searchbox', { name: 'Search' })).toHaveValue(contact.name);
  await expect(numbers.getByRole('listitem').filter({ hasText: contact.name })).toHaveCount(1);
  const exportDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export all (JSON lines)' }).click();
  expect(await contentOf(await exportDownload)).toContain(contact.phone);

  // "Check again" verifies the chain anew.
  await page.getByRole('button', { name: 'Check again' }).click();
  await expect(page.getByText(/^Record intact · [\d,]+ events · last checked Today/)).toBeVisible();
});

test('an advisor never gets the compliance view', async ({ page, jane }) => {
  await page.goto(`/compliance#token=${jane.token}`);
  await expect(page.getByRole('heading', { name: 'This page does not exist' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Go to your contacts' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Numbers' })).toHaveCount(0);
});
