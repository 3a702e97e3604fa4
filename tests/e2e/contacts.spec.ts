// The contact list. Every test makes the contacts it looks for (names made
// unique to the run) and asserts them by name, so other specs adding contacts
// to the same advisors change nothing here.
import { test, expect, openApp, screenshots } from './fixtures';
import { newContact, nonce, unique, freshPhone } from './flow';

test("the signed-in advisor's contacts are listed, and no one else's", async ({ page, request, jane, sam }) => {
  const hers = await newContact(request, jane, unique('Listed Lena'));
  const his = await newContact(request, sam, unique('Hidden Hugo'));
  await openApp(page, jane);
  const list = page.getByRole('list', { name: 'Contacts' });
  // One of the seeded demo contacts, with its number and its WhatsApp button.
  await expect(list.getByText('Kerry Fisher')).toBeVisible();
  // Numbers as people read them, formatted by the service.
  await expect(list.getByText('+44 7911 123456')).toBeVisible();
  await expect(page.getByRole('button', { name: 'WhatsApp Kerry Fisher' })).toBeVisible();
  await expect(page.getByText('Jane Smith · Acme Wealth')).toBeVisible();
  await expect(page, 'the token leaves the address bar').not.toHaveURL(/token=/);
  await screenshots(page, 'contacts');

  const search = page.getByRole('searchbox', { name: 'Search contacts' });
  await search.fill(hers.name);
  await expect(list.getByRole('listitem')).toHaveText([new RegExp(`${hers.name}.*\\${hers.display_phone}`)]);
  // Another advisor's contact is not found, by name or by number.
  await search.fill(his.name);
  await expect(page.getByText('No contact matches')).toBeVisible();
  await search.fill(his.phone);
  await expect(page.getByText('No contact matches')).toBeVisible();
});

test('searching filters by name or number as you type', async ({ page, request, jane }) => {
  const tag = nonce();
  const yara = await newContact(request, jane, `Yara ${tag}`);
  const zeno = await newContact(request, jane, `Zeno ${tag}`);
  await openApp(page, jane);
  const list = page.getByRole('list', { name: 'Contacts' });
  const rows = list.getByRole('listitem');
  const search = page.getByRole('searchbox', { name: 'Search contacts' });
  await search.fill(tag);
  await expect(rows).toHaveText([new RegExp(yara.name), new RegExp(zeno.name)]);
  await search.fill(`yara ${tag}`.toUpperCase());
  await expect(rows).toHaveText([new RegExp(yara.name)]);
  // A number typed the way people write it: country code, spaces.
  const digits = zeno.phone.slice(3);
  await search.fill(`+44 ${digits.slice(0, 4)} ${digits.slice(4)}`);
  await expect(rows).toHaveText([new RegExp(zeno.name)]);
  await search.fill(`nobody ${tag}`);
  await expect(page.getByText('No contact matches')).toBeVisible();
});

test('a contact added through the form is still there after a reload', async ({ page, jane }) => {
  const name = unique('Ravi Patel');
  const phone = freshPhone();
  await openApp(page, jane);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Phone number').fill(phone.typed);
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Added ${name} (${phone.typed}).` })).toBeVisible();
  await page.reload();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill(name);
  const list = page.getByRole('list', { name: 'Contacts' });
  await expect(list.getByRole('listitem')).toHaveText([new RegExp(`${name}.*\\${phone.typed}`)]);
});

test('a bad phone number is explained next to the phone field', async ({ page, jane }) => {
  await openApp(page, jane);
  await page.getByLabel('Name').fill('Typo Person');
  const phone = page.getByLabel('Phone number');
  await phone.fill('12345');
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(phone).toHaveAttribute('aria-invalid', 'true');
  await expect(phone).toHaveAccessibleDescription(/phone number/i);
  await expect(page.locator('#contact-phone-error')).toContainText('phone number');
  await screenshots(page, 'add-contact-bad-phone');
});

test('a duplicate number and an empty name are refused with field errors', async ({ page, request, jane }) => {
  const existing = await newContact(request, jane, unique('Dora Duplicate'));
  await openApp(page, jane);
  await page.getByLabel('Name').fill(unique('Dora Again'));
  // The same number, typed with spaces.
  const digits = existing.phone.slice(3);
  await page.getByLabel('Phone number').fill(`+44 ${digits.slice(0, 4)} ${digits.slice(4)}`);
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(page.locator('#contact-phone-error')).toContainText('already have a contact');
  await page.getByLabel('Name').fill('   ');
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#contact-name-error')).toContainText('Enter a name');
});

test("advisor A cannot read advisor B's contact through the API", async ({ request, jane, sam }) => {
  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
  const samsContact = await newContact(request, sam, unique('Private Pia'));
  const own = await request.get(`/api/v1/contacts/${samsContact.id}`, { headers: auth(sam.token) });
  expect(own.status()).toBe(200);
  expect(await own.json()).toMatchObject({ name: samsContact.name, phone: samsContact.phone });
  const other = await request.get(`/api/v1/contacts/${samsContact.id}`, { headers: auth(jane.token) });
  expect(other.status()).toBe(404);
  expect(await other.json()).toMatchObject({ code: 'not_found' });
  const anonymous = await request.get('/api/v1/contacts');
  expect(anonymous.status()).toBe(401);
});

test('without a token the app says how to sign in', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'You are not signed in' })).toBeVisible();
});

test("the page asks for the advisor's first screen while the app loads, and the app asks nothing twice", async ({ page, jane }) => {
  const asked: string[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname === '/api/v1/me' || url.pathname === '/api/v1/contacts') asked.push(url.pathname + url.search);
  });
  const firstScreen = async () => {
    await expect(page.getByRole('list', { name: 'Contacts' }).getByText('Kerry Fisher')).toBeVisible();
    await expect(page.getByText('Jane Smith · Acme Wealth')).toBeVisible();
    // Both answers asked by `index.html` were taken by the app (it asked
    // neither again, below), and the page's copy of them and of the token is gone.
    expect(await page.evaluate(() => '__optinEarly' in window)).toBe(false);
    const me = asked.filter((a) => a === '/api/v1/me');
    const firstPage = asked.filter((a) => /^\/api\/v1\/contacts\?q=&offset=0&/.test(a));
    expect({ me, firstPage }).toEqual({ me: ['/api/v1/me'], firstPage: ['/api/v1/contacts?q=&offset=0&limit=200'] });
  };
  await openApp(page, jane);
  await firstScreen();
  // A reload: the token is the tab's own now, no longer in the address.
  asked.length = 0;
  await page.reload();
  await firstScreen();
});
