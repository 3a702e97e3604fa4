import { test, expect, openApp, screenshots } from './fixtures';

test('the seeded contacts are listed for the signed-in advisor', async ({ page, jane }) => {
  await openApp(page, jane);
  const list = page.getByRole('list', { name: 'Contacts' });
  await expect(list.getByRole('listitem')).toHaveCount(12);
  await expect(list.getByText('Kerry Fisher')).toBeVisible();
  await expect(list.getByText('+447911123456')).toBeVisible();
  await expect(page.getByRole('button', { name: 'WhatsApp Kerry Fisher' })).toBeVisible();
  await expect(page.getByText('Jane Smith · Acme Wealth')).toBeVisible();
  await expect(page, 'the token leaves the address bar').not.toHaveURL(/token=/);
  await screenshots(page, 'contacts');
});

test('searching filters by name or number as you type', async ({ page, jane }) => {
  await openApp(page, jane);
  const list = page.getByRole('list', { name: 'Contacts' });
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('yuki');
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list.getByText('Yuki Tanaka')).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('+49 151');
  await expect(list.getByText('Tom Becker')).toBeVisible();
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('nobody by this name');
  await expect(page.getByText('No contact matches')).toBeVisible();
});

test('a contact added through the form is still there after a reload', async ({ page, jane }) => {
  await openApp(page, jane);
  await page.getByLabel('Name').fill('Ravi Patel');
  await page.getByLabel('Phone number').fill('+44 7911 222333');
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Added Ravi Patel (+447911222333).' })).toBeVisible();
  await page.reload();
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('Ravi');
  const list = page.getByRole('list', { name: 'Contacts' });
  await expect(list.getByText('Ravi Patel')).toBeVisible();
  await expect(list.getByText('+447911222333')).toBeVisible();
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

test('a duplicate number and an empty name are refused with field errors', async ({ page, jane }) => {
  await openApp(page, jane);
  await page.getByLabel('Name').fill('Kerry Again');
  await page.getByLabel('Phone number').fill('+44 7911 123456');
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(page.locator('#contact-phone-error')).toContainText('already have a contact');
  await page.getByLabel('Name').fill('   ');
  await page.getByRole('button', { name: 'Add contact' }).click();
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#contact-name-error')).toContainText('Enter a name');
});

test("advisor A cannot read advisor B's contact through the API", async ({ request, jane, sam }) => {
  const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
  const sams = await request.get('/api/v1/contacts', { headers: auth(sam.token) });
  expect(sams.status()).toBe(200);
  const samsContact = (await sams.json()).items[0];
  const own = await request.get(`/api/v1/contacts/${samsContact.id}`, { headers: auth(sam.token) });
  expect(own.status()).toBe(200);
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
