// Embedding across two origins: the "Example CRM" host (another port, so
// another origin) frames the app, hands it a session over postMessage, opens
// contacts, and hears when consent changes. A host on an origin that is not
// allowed gets nothing.
import { test as base } from '@playwright/test';
import { test, expect } from './fixtures';

const crmPort = process.env.DEMO_CRM_PORT;
const allowedHost = `http://127.0.0.1:${crmPort}`;
// Same machine, other host name: a different origin that is not on the allow-list.
const disallowedHost = `http://localhost:${crmPort}`;

test('the CRM embeds the app, opens records in it and hears about consent changes', async ({ page }) => {
  test.setTimeout(60_000);
  await page.goto(allowedHost);
  const app = page.frameLocator('iframe[title="WhatsApp opt-in"]');
  const log = page.locator('#host-log');
  await expect(log).toContainText('app ready');
  await expect(log).toContainText('sent session and contact');

  // The first record opened in the app without anyone copying a token.
  const first = await page.locator('#record-name').textContent();
  await expect(app.getByRole('heading', { level: 2, name: first! })).toBeVisible();

  // Switching records switches contacts, creating one the app did not know.
  await page.getByRole('navigation', { name: 'Records' }).getByRole('button', { name: 'Nora Lindqvist' }).click();
  await expect(app.getByRole('heading', { level: 2, name: 'Nora Lindqvist' })).toBeVisible();

  // The advisor runs an opt-in inside the frame; the host is told.
  await app.getByRole('button', { name: 'Send opt-in request' }).click();
  const dialog = app.getByRole('dialog', { name: 'Send Nora Lindqvist an opt-in request?' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(log).toContainText('consent of +46701234567 is now pending');
  await expect(page.locator('#record-consent')).toHaveText('pending');

  // A renewal (the host's answer to token-needed) keeps the open view.
  await page.evaluate(async () => {
    const { token, expires_at } = await (await fetch('/token', { method: 'POST' })).json();
    const frame = document.getElementById('optin-frame') as HTMLIFrameElement;
    frame.contentWindow!.postMessage({ type: 'optin:session', version: 1, token, expires_at }, document.body.dataset.appOrigin!);
  });
  await expect(app.getByRole('heading', { level: 2, name: 'Nora Lindqvist' })).toBeVisible();
  await expect(app.getByText(/Opt-in request sent/)).toBeVisible();
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: 'tests/e2e/screenshots/embedded-crm-1280.png' });
});

base('a host on an origin that is not allowed cannot frame the app or get it to talk', async ({ page }) => {
  await page.goto(disallowedHost);
  await expect(page.locator('#host-log')).toBeAttached();
  await page.waitForTimeout(1500);
  // Framing is refused by frame-ancestors, so the app never says it is ready.
  await expect(page.locator('#host-log')).not.toContainText('app ready');
  // The frame holds the browser's refusal, not the app.
  const app = page.frameLocator('iframe[title="WhatsApp opt-in"]');
  await expect(app.locator('main.page')).toHaveCount(0);
  await expect(app.getByText('Connecting to your CRM')).toHaveCount(0);
});

base('the app is served with a strict policy that names the allowed host', async ({ request }) => {
  const response = await request.get('/');
  const policy = response.headers()['content-security-policy'];
  expect(policy).toContain(`frame-ancestors 'self' ${allowedHost}`);
  expect(policy).toContain("default-src 'none'");
  expect(policy).not.toContain('localhost');
  const config = await (await request.get('/embed/config')).json();
  expect(config.allowed_origins).toEqual([allowedHost]);
});
