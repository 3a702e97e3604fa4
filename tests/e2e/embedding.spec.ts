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
// The app's own origin (where BASE_URL points).
const appOrigin = new URL(process.env.BASE_URL ?? 'http://127.0.0.1:8080').origin;

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
  // The browser reports refusing the frame (frame-ancestors): that report,
  // not a pause, says the frame is settled before the checks below.
  const refusal = page.waitForEvent('console', (m) => /^Framing '.*' violates .*frame-ancestors.*blocked/.test(m.text()));
  await page.goto(disallowedHost);
  expect((await refusal).text()).toContain(`Framing '${appOrigin}/'`);
  // The frame holds the browser's error page.
  await expect.poll(() => page.frames().filter((f) => f !== page.mainFrame()).map((f) => f.url())).toEqual(['chrome-error://chromewebdata/']);
  await expect(page.locator('#host-log')).toBeAttached();
  // Framing is refused, so the app never says it is ready.
  await expect(page.locator('#host-log')).not.toContainText('app ready');
  // The frame holds the browser's refusal, not the app.
  const app = page.frameLocator('iframe[title="WhatsApp opt-in"]');
  await expect(app.locator('main.page')).toHaveCount(0);
  await expect(app.getByText('Connecting to your CRM')).toHaveCount(0);
});

test('the embedded app ignores messages from another origin or another window', async ({ page }) => {
  await page.goto(allowedHost);
  await expect(page.locator('#host-log')).toContainText('sent session and contact');
  const app = page.frameLocator('iframe[title="WhatsApp opt-in"]');
  // The app shows its contacts until it has opened the host's record: wait for the record.
  const record = await page.locator('#record-name').textContent();
  await expect(app.getByRole('heading', { level: 2, name: record! })).toBeVisible();
  const isApp = (f: import('@playwright/test').Frame) => f.parentFrame() === page.mainFrame() && f.url().startsWith(appOrigin);
  await expect.poll(() => page.frames().some(isApp)).toBe(true);
  const appFrame = page.frames().find(isApp)!;
  expect(appFrame, 'the app is framed').toBeTruthy();
  // Every theme the app applies from now on, in order (a theme message is
  // applied synchronously on arrival; nothing else changes the theme).
  await appFrame.evaluate(() => {
    const seen: (string | null)[] = ((window as any).themesApplied = []);
    new MutationObserver(() => seen.push(document.documentElement.getAttribute('data-theme'))).observe(
      document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  });
  const themes = () => appFrame.evaluate(() => (window as any).themesApplied as (string | null)[]);
  const dark = { type: 'optin:theme', version: 1, theme: 'dark' };

  // From the parent window but another origin (only a forged event can say
  // so; a real one would need the parent to be elsewhere): ignored.
  await appFrame.evaluate(({ data, origin }) =>
    window.dispatchEvent(new MessageEvent('message', { data, origin, source: window.parent })), { data: dark, origin: disallowedHost });
  // From the host's origin but not from the parent window: ignored.
  await appFrame.evaluate(({ data, origin }) =>
    window.dispatchEvent(new MessageEvent('message', { data, origin, source: window })), { data: dark, origin: allowedHost });
  // A real message from another frame on the host's page (the host's origin,
  // another window): ignored.
  await page.evaluate(() => {
    const frame = document.createElement('iframe');
    frame.name = 'same-origin-intruder';
    document.body.append(frame);
  });
  // Playwright learns of a new frame asynchronously: wait until it knows it.
  await expect.poll(() => page.frame({ name: 'same-origin-intruder' }) !== null).toBe(true);
  const sameOrigin = page.frame({ name: 'same-origin-intruder' })!;
  await sameOrigin.evaluate(({ data, origin }) => {
    const target = window.parent.document.getElementById('optin-frame') as HTMLIFrameElement;
    target.contentWindow!.postMessage(data, origin);
  }, { data: dark, origin: appOrigin });
  // A real message from a frame of another origin (the app's own) on the host's page: ignored.
  await page.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.name = 'cross-origin-intruder';
    frame.src = src;
    document.body.append(frame);
  }, `${appOrigin}/embed/config`);
  await expect.poll(() => page.frame({ name: 'cross-origin-intruder' })?.url()).toBe(`${appOrigin}/embed/config`);
  const crossOrigin = page.frame({ name: 'cross-origin-intruder' })!;
  await crossOrigin.waitForLoadState();
  await crossOrigin.evaluate(({ data, origin }) => {
    const target = window.parent.frames[0];
    if (!target.location.href.startsWith(origin)) throw new Error('frames[0] is not the app');
    target.postMessage(data, origin);
  }, { data: dark, origin: appOrigin });

  // The parent's own message, sent after all of those, is applied; none of the others was.
  await page.evaluate((origin) => {
    const frame = document.getElementById('optin-frame') as HTMLIFrameElement;
    frame.contentWindow!.postMessage({ type: 'optin:theme', version: 1, theme: 'light' }, origin);
  }, appOrigin);
  await expect.poll(themes).toEqual(['light']);
  // And a forged event with the right origin and window is applied: the two
  // forged ones above were refused for their origin or window, not for being forged.
  await appFrame.evaluate(({ data, origin }) =>
    window.dispatchEvent(new MessageEvent('message', { data, origin, source: window.parent })), { data: dark, origin: allowedHost });
  expect(await themes()).toEqual(['light', 'dark']);
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
