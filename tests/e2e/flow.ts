// Helpers for the opt-in specs: a fresh contact per test (so specs do not
// depend on each other or on the seeded contacts), the contact's sandbox phone
// opened the way a person opens it, and accessibility checks.
import { APIRequestContext, BrowserContext, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { expect, DemoAdvisor, openApp } from './fixtures';

/** A contact as the API answers it: `display_phone` is how the app shows the number. */
export type Contact = { id: number; name: string; phone: string; display_phone: string; language: string };

/** A few random lowercase letters (no digits, so a name search never matches a number). */
export function nonce(): string {
  return Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
}

/** `name` made unique to this test run, so a spec never meets another spec's contacts. */
export function unique(name: string): string {
  return `${name} ${nonce()}`;
}

/** A random UK mobile number in the 0xxxxx block (`newContact` uses 1xxxxx), formatted with spaces. */
export function freshPhone(): { typed: string; e164: string } {
  const digits = String(Math.floor(Math.random() * 100_000)).padStart(5, '0');
  return { typed: `+44 7700 0${digits}`, e164: `+4477000${digits}` };
}

/** Adds a contact with a fresh random UK mobile number for `advisor`. */
export async function newContact(request: APIRequestContext, advisor: DemoAdvisor, name: string): Promise<Contact> {
  for (let attempt = 0; attempt < 5; attempt++) {
    // +44 7700 0xxxxx and 1xxxxx are valid UK mobiles (9xxxxx is the drama range, refused).
    const digits = String(Math.floor(Math.random() * 100_000)).padStart(5, '0');
    const response = await request.post('/api/v1/contacts', {
      headers: { Authorization: `Bearer ${advisor.token}` },
      data: { name, phone: `+44 7700 1${digits}` },
    });
    if (response.status() === 201) return response.json();
    expect(response.status(), 'only a duplicate number may make the add fail').toBe(409);
  }
  throw new Error('could not add a contact with a fresh number');
}

/** Opens the app as `advisor` and finds `contact` in the list by searching its number, as a person would. */
export async function findContact(page: Page, advisor: DemoAdvisor, contact: Contact) {
  await openApp(page, advisor);
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill(contact.phone);
  // Rows show the number as people read it (`+44 7700 100123`), never bare E.164.
  const row = page.getByRole('list', { name: 'Contacts' }).getByRole('listitem').filter({ hasText: contact.display_phone });
  await expect(row).toHaveCount(1);
  return row;
}

/** Clicks the WhatsApp icon of `contact` and confirms the opt-in request; ends on the contact's screen. */
export async function sendOptIn(page: Page, advisor: DemoAdvisor, contact: Contact) {
  const row = await findContact(page, advisor, contact);
  await expect(row.getByText('Not asked')).toBeVisible();
  await row.getByRole('button', { name: `WhatsApp ${contact.name}` }).click();
  const dialog = page.getByRole('dialog', { name: `Send ${contact.name} an opt-in request?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('heading', { level: 2, name: contact.name })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/contacts/${contact.id}$`));
}

/** Fails the test on console errors and failed requests of a second tab, like the `page` fixture does. */
export function watchForProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    const status = response.status();
    const path = new URL(response.url()).pathname;
    const answered = path.startsWith('/api/') || path.startsWith('/sandbox/');
    if (status >= 500 || (status >= 400 && !answered)) problems.push(`HTTP ${status}: ${response.url()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

/** Opens the contact's sandbox phone from the contact's screen (a new tab). */
export async function openPhone(page: Page, context: BrowserContext, contact: Contact) {
  const [phone] = await Promise.all([
    context.waitForEvent('page'),
    page.getByRole('link', { name: new RegExp(`^Open ${contact.name}'s phone \\(sandbox\\)`) }).click(),
  ]);
  const problems = watchForProblems(phone);
  await phone.waitForLoadState();
  await expect(phone.getByRole('heading', { name: 'Sandbox phone' })).toBeVisible();
  await expect(phone.getByText(contact.phone).first()).toBeVisible();
  return { phone, problems };
}

/** No serious or critical accessibility violation on what is shown now. */
export async function expectAccessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} -> ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, `accessibility of ${what}`).toEqual([]);
}

/** The contact taps `button` ("Yes" / "No") on the opt-in request on their sandbox phone, once it has arrived. */
export async function tapOnPhone(request: APIRequestContext, phone: string, button: string) {
  const path = `/sandbox/phones/${encodeURIComponent(phone)}`;
  let tap: { message_id: string; payload: string } | undefined;
  await expect(async () => {
    const response = await request.get(path);
    expect(response.ok()).toBe(true);
    const view = await response.json();
    for (const message of view.messages) {
      const found = (message.buttons ?? []).find((b: { text: string }) => b.text === button);
      if (found) tap = { message_id: message.id, payload: found.payload };
    }
    expect(tap, `the phone shows a "${button}" button`).toBeDefined();
  }).toPass({ timeout: 15_000 });
  const tapped = await request.post(`${path}/tap`, { data: tap });
  expect(tapped.ok(), 'the tap is taken').toBe(true);
}

/** Opens the app as the compliance officer `person`; ends on the list of numbers. */
export async function openCompliance(page: Page, person: DemoAdvisor) {
  await page.goto(`/compliance#token=${person.token}`);
  const numbers = page.getByRole('heading', { level: 2, name: 'Numbers' });
  // Someone else already signed in on this page: a link's token never replaces
  // their session silently; the person chooses to switch.
  const switchSession = page.getByRole('button', { name: "Use the link's session" });
  await expect(numbers.or(switchSession)).toBeVisible();
  if (await switchSession.isVisible()) {
    await switchSession.click();
  }
  await expect(numbers).toBeVisible();
}
