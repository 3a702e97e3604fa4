// Outcome: no answer. Before 24 hours there is no resend control; once the
// sandbox clock passes 24 hours, the banner says so and the request can be sent again.
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, openPhone, expectAccessible } from './flow';

const NO_ANSWER = "The contact hasn't responded to the opt-in request for more than 24 hours. You can try sending the request again.";

// The `clock` fixture puts the shared sandbox clock back afterwards, so the
// 24 hours moved here are not seen by any other spec.
test('without an answer for 24 hours the opt-in request can be resent', async ({ page, context, request, sam, clock }) => {
  // Two tabs and the sandbox's webhooks: give a busy machine room.
  test.setTimeout(60_000);
  const contact = await newContact(request, sam, 'Silent Sue');
  await sendOptIn(page, sam, contact);
  await expect(page.getByText(/^Opt-in request sent Today, /)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Resend Opt-In Request' })).toHaveCount(0);

  const { phone, problems } = await openPhone(page, context, contact);
  await expect(phone.getByText('would like to contact you on WhatsApp')).toBeVisible();
  const before = await clock.offsetSeconds();
  await phone.getByRole('button', { name: 'Advance 24 hours' }).click();
  await expect(phone.getByText(/24 h ahead/)).toBeVisible();
  expect(await clock.offsetSeconds()).toBe(before + 24 * 3600);

  // The advisor's tab follows the sandbox clock without a reload.
  await expect(page.getByText(NO_ANSWER, { exact: true })).toBeVisible();
  await expect(page.locator('.banner__stamp')).toHaveText(/^Today, \d\d:\d\d [AP]M$/);
  const resend = page.getByRole('button', { name: 'Resend Opt-In Request' });
  await expect(resend).toBeVisible();
  await expectAccessible(page, 'the no-answer contact screen');
  await screenshots(page, 'optin-no-answer');

  await resend.click();
  await expect(page.getByText(/^Opt-in request sent Today, \d\d:\d\d [AP]M\. Waiting for a response\./)).toBeVisible();
  await expect(resend).toHaveCount(0);
  await expect(page.getByRole('log', { name: 'WhatsApp messages' }).getByText('Opt-in request')).toHaveCount(2);
  await expect(phone.getByRole('button', { name: 'Yes' })).toHaveCount(2);
  await screenshots(page, 'optin-resent');

  // The contact answers the new request.
  await phone.getByRole('button', { name: 'Yes' }).last().click();
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages` })).toBeVisible();
  expect(problems, 'no errors on the phone page').toEqual([]);
});
