// Two service instances on one PostgreSQL, behind a load balancer as a firm
// runs them: the advisor's browser is on instance A; the one provider (the
// sandbox standing in for Meta) is on B and delivers its webhooks to B, with
// a copy of each to A at the same moment. Both instances run outbox workers.
import { test, expect, screenshots } from '../e2e/fixtures';
import { newContact, sendOptIn, unique, watchForProblems } from '../e2e/flow';

const instanceB = process.env.INSTANCE_B_URL ?? '';

test('an answer delivered to instance B shows live on A, and the contact gets each message once', async ({ page, context, request, sam }) => {
  test.setTimeout(60_000);
  expect(instanceB, 'INSTANCE_B_URL names the second instance (cargo xtask test sets it)').not.toBe('');
  const contact = await newContact(request, sam, unique('Two Instances'));
  await sendOptIn(page, sam, contact);
  await expect(page.getByRole('status').filter({ hasText: 'Waiting for a response' })).toBeVisible();

  // The contact's phone, at the provider on B.
  const phone = await context.newPage();
  const problems = watchForProblems(phone);
  await phone.goto(`${instanceB}/phone/${encodeURIComponent(contact.phone)}`);
  await expect(phone.getByText('would like to contact you on WhatsApp')).toBeVisible();
  await phone.getByRole('button', { name: 'Yes' }).click();
  await expect(phone.getByText('Thank you. You have opted in')).toBeVisible();

  // A's page, never reloaded, shows the answer B applied.
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages Today` })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Reconnecting' })).toHaveCount(0);
  await screenshots(page, 'two-instances-accepted');

  // The provider got one request and one confirmation, though both instances
  // send and every webhook reached both.
  const sent = async () => {
    const view = await (await request.get(`${instanceB}/sandbox/phones/${encodeURIComponent(contact.phone)}`)).json();
    return view.messages
      .filter((m: { channel: string; direction: string }) => m.channel === 'whatsapp' && m.direction === 'in')
      .map((m: { text: string }) => m.text);
  };
  await expect.poll(sent).toHaveLength(2);
  const [requested, confirmed] = await sent();
  expect(requested).toContain('would like to contact you on WhatsApp');
  expect(confirmed).toContain('You have opted in');

  // The record, read on either instance, holds the answer once.
  for (const base of [process.env.BASE_URL, instanceB]) {
    const record = await request.get(`${base}/api/v1/contacts/${contact.id}/consent/record`, {
      headers: { Authorization: `Bearer ${sam.token}` },
    });
    expect(record.ok(), `the record on ${base}`).toBe(true);
    const kinds = (await record.json()).map((e: { kind: string }) => e.kind);
    expect(kinds.filter((k: string) => k === 'accepted'), `one acceptance on ${base}: ${kinds}`).toHaveLength(1);
  }
  expect(problems, 'no errors on the phone page').toEqual([]);
});
