// Live updates survive a blocked event stream: the app says "Reconnecting…",
// polls the open contact meanwhile, and resumes the stream when the browser
// is back online.
import type { Route } from '@playwright/test';
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, openPhone } from './flow';

test('without the event stream the answer still arrives, and the stream comes back', async ({ page, context, request, sam }) => {
  test.setTimeout(90_000);
  const contact = await newContact(request, sam, 'Offline Olga');
  // A proxy that drops the event stream (only in the advisor's tab): it
  // refuses the first attempt and holds every later one unanswered, so the
  // app sees one failure only. Polling must start from that first failure.
  let attempts = 0;
  const held: Route[] = [];
  await page.route('**/api/v1/events**', (route) => {
    attempts += 1;
    if (attempts === 1) return route.abort('connectionreset');
    held.push(route);
  });
  await sendOptIn(page, sam, contact);
  const reconnecting = page.getByRole('status').filter({ hasText: 'Reconnecting…' });
  await expect(reconnecting).toBeVisible();

  const { phone, problems } = await openPhone(page, context, contact);
  await phone.getByRole('button', { name: 'Yes' }).click();
  // Polling (from the first failed attempt) brings the answer without a reload.
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages` })).toBeVisible({ timeout: 30_000 });
  await expect(reconnecting).toBeVisible();
  expect(held.length, 'the app tried the stream again meanwhile, and that attempt is held').toBeGreaterThan(0);
  await screenshots(page, 'optin-reconnecting');

  // The network comes back: the stream reopens at once and the note goes away.
  for (const route of held) await route.abort('connectionreset');
  await page.unroute('**/api/v1/events**');
  await context.setOffline(true);
  await context.setOffline(false);
  await expect(reconnecting).toHaveCount(0, { timeout: 15_000 });
  await phone.getByRole('textbox', { name: 'Reply' }).fill('Looking forward to it');
  await phone.getByRole('button', { name: 'Send reply' }).click();
  await expect(page.getByRole('log', { name: 'WhatsApp messages' }).getByText('Looking forward to it')).toBeVisible();
  expect(problems, 'no errors on the phone page').toEqual([]);
});
