// The first screen drawn before the app runs (src/first_screen.js): the
// advisor sees the list while the wasm downloads and compiles, then the app's
// own page takes its place. The two are written separately (JS and Rust), so
// these tests hold the wasm back, read the early screen, let the app run and
// compare the two: any drift between them fails here.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { newContact, nonce } from './flow';
import type { DemoAdvisor } from './fixtures';

/** Opens the app with its wasm held until `release` is called. */
async function openHeld(page: Page, advisor: DemoAdvisor) {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/*.wasm', async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(`/#token=${advisor.token}`);
  return release;
}

/** `element`'s markup without what only one of the two renderers writes:
 * comments and blank text (the app's anchors), ids and the page-title mark
 * (the early screen leaves them to the app's page), `inert`; attributes in
 * name order. */
async function markup(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((element) => {
    const copy = element.cloneNode(true) as Element;
    const walker = document.createTreeWalker(copy, NodeFilter.SHOW_COMMENT | NodeFilter.SHOW_TEXT);
    const drop: Node[] = [];
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.nodeType === Node.COMMENT_NODE || !node.textContent) drop.push(node);
    }
    drop.forEach((node) => node.parentNode?.removeChild(node));
    for (const el of [copy, ...copy.querySelectorAll('*')]) {
      for (const name of ['id', 'data-page-title', 'aria-labelledby', 'inert']) el.removeAttribute(name);
      // In name order: the two write them in different orders.
      const attributes = [...el.attributes].map((a) => [a.name, a.value]).sort(([a], [b]) => (a < b ? -1 : 1));
      for (const [name] of attributes) el.removeAttribute(name);
      for (const [name, value] of attributes) el.setAttribute(name, value);
    }
    copy.normalize();
    return copy.outerHTML;
  });
}

test('the list is drawn before the app runs, exactly as the app then draws it', async ({ page, jane }) => {
  const release = await openHeld(page, jane);
  const early = page.locator('#first-screen');
  await expect(early.locator('li.contact').first()).toBeVisible();
  await expect(early.getByText('Jane Smith · Acme Wealth')).toBeVisible();
  // Inert: nothing in it is offered to assistive technology or to a click.
  await expect(page.getByRole('list', { name: 'Contacts' })).toHaveCount(0);
  const earlyHeader = await markup(page, '#first-screen header');
  const earlyList = await markup(page, '#first-screen section.contacts');
  const firstName = (await early.locator('li.contact a.contact__name').first().textContent())!;
  const earlyRows = await early.locator('li.contact').count();
  // What the first frame after the hand-over paints: the app's rows, all of them.
  await page.evaluate(() => {
    const w = window as unknown as { rowsAtHandOver?: number };
    new MutationObserver((_, observer) => {
      if (document.getElementById('first-screen')) return;
      observer.disconnect();
      requestAnimationFrame(() => {
        w.rowsAtHandOver = document.querySelectorAll('body > main ul[aria-label="Contacts"] > li').length;
      });
    }).observe(document.body, { childList: true });
  });

  release();
  const list = page.getByRole('list', { name: 'Contacts' });
  await expect(list.getByRole('link', { name: firstName, exact: true })).toBeVisible();
  await expect(early).toHaveCount(0);
  expect(await page.evaluate(() => document.documentElement.hasAttribute('data-first-screen'))).toBe(false);
  expect(earlyRows).toBeGreaterThan(0);
  expect(await page.evaluate(() => (window as unknown as { rowsAtHandOver?: number }).rowsAtHandOver)).toBe(earlyRows);
  expect(await markup(page, 'body > header')).toBe(earlyHeader);
  expect(await markup(page, 'body section.contacts')).toBe(earlyList);
  // The app's page works: a row opens its contact.
  await list.getByRole('link', { name: firstName, exact: true }).click();
  await expect(page).toHaveURL(/\/contacts\/\d+$/);
});

test('a press on the early screen is kept and done by the app once it runs', async ({ page, jane }) => {
  const release = await openHeld(page, jane);
  const early = page.locator('#first-screen');
  const row = early.locator('li.contact').first();
  await expect(row).toBeVisible();
  const id = await row.getAttribute('data-contact-id');
  // Inert, so pressed where it is drawn, as a person would.
  const sms = row.locator('.icon-button:not(.icon-button--whatsapp)');
  const box = (await sms.boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await expect(sms).toHaveAttribute('data-pressed', '');
  expect(await page.evaluate(() => document.documentElement.hasAttribute('data-first-screen-pressed'))).toBe(true);
  // Nothing is done before the app runs; then the app does it, once.
  await page.waitForTimeout(200);
  expect(new URL(page.url()).pathname).toBe('/');
  release();
  await expect(page).toHaveURL(new RegExp(`/contacts/${id}/sms$`));
  expect(await page.evaluate(() => document.documentElement.hasAttribute('data-first-screen-pressed'))).toBe(false);
  expect(await page.evaluate(() => '__optinPressed' in window)).toBe(false);
});

test("the early screen writes a contact's name as text, never as markup", async ({ page, sam }) => {
  // Sorted before letters, so it is among the rows drawn.
  const name = `<img src=x onerror="window.__pwned=1">"${nonce()}" & co`;
  await newContact(page.request, sam, name);
  const release = await openHeld(page, sam);
  const early = page.locator('#first-screen');
  await expect(early.getByText(name)).toBeVisible();
  await expect(early.locator('img')).toHaveCount(0);
  const earlyList = await markup(page, '#first-screen section.contacts');
  release();
  await expect(page.getByRole('list', { name: 'Contacts' }).getByText(name)).toBeVisible();
  expect(await markup(page, 'body section.contacts')).toBe(earlyList);
  expect(await page.evaluate(() => '__pwned' in window)).toBe(false);
});

test('nothing is drawn early for a compliance officer: their first screen is not the list', async ({ page, compliance }) => {
  const release = await openHeld(page, compliance);
  // Both early answers have come back by the time the app asks (it is held).
  await page.waitForFunction(() => performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/v1/')).length >= 2);
  await page.waitForTimeout(100);
  await expect(page.locator('#first-screen')).toHaveCount(0);
  release();
  await expect(page.getByRole('heading', { name: 'Contacts' })).toHaveCount(0);
  await expect(page.locator('main')).toBeVisible();
});
