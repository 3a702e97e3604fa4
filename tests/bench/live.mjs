// Live latency for `cargo xtask bench`: from a signed webhook sent to the
// service to the outcome painted in the advisor's page, in Debian's Chromium
// through playwright-core. Prints one JSON object on stdout (progress on stderr).
//
// Each run: a fresh contact is asked to opt in (the API, as the app's confirm
// button does), the advisor's page shows that contact (the app's own
// navigation, no reload), the request is settled (sent, delivered), then the
// contact's "yes" arrives as a WhatsApp webhook signed like Meta's. The time
// runs from just before the webhook is posted (so the service's whole
// handling is inside it) to the frame after the page's status says the
// contact opted in (requestAnimationFrame, then a task). Both ends read the
// same wall clock (performance.timeOrigin + performance.now(), in node and
// in the page).
//
// Two modes: "stream" (the app's live event stream) and "polling" (the event
// stream refused, as by a proxy that drops it: the app falls back to polling
// the open contact).
//
// Env: BASE_URL, DEMO_TOKENS_FILE (the service's demo-advisors.json),
// WEBHOOK_SECRET (the service's app secret), PHONE_NUMBER_ID (the sandbox's
// business number id), BENCH_LIVE_RUNS (per mode, default 100).

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';

const base = process.env.BASE_URL;
const tokensFile = process.env.DEMO_TOKENS_FILE;
const secret = process.env.WEBHOOK_SECRET;
const phoneNumberId = process.env.PHONE_NUMBER_ID;
if (!base || !tokensFile || !secret || !phoneNumberId) {
  console.error('BASE_URL, DEMO_TOKENS_FILE, WEBHOOK_SECRET and PHONE_NUMBER_ID must be set (run through `cargo xtask bench`)');
  process.exit(2);
}
const [advisor] = JSON.parse(readFileSync(tokensFile, 'utf8'));
const runs = Number(process.env.BENCH_LIVE_RUNS ?? 100);
const log = (...args) => console.error('[live]', ...args);
const now = () => performance.timeOrigin + performance.now();
// The app's polling period without the event stream (`POLL_EVERY` in src/live.rs).
const POLL_PERIOD_MS = 4000;
// Stream failures in a row before the app polls (`POLL_AFTER_FAILURES` in src/live.rs).
const POLL_AFTER_FAILURES = 1;

// Runs in the page before its own scripts: notes the frame in which a status
// saying `want` is painted.
function instrument() {
  const live = (window.__live = { want: null, paintedAt: null });
  const afterPaint = (callback) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => callback(performance.timeOrigin + performance.now());
      channel.port2.postMessage(null);
    });
  const shown = () =>
    [...document.querySelectorAll('[role="status"]')].some((el) => el.textContent.includes(live.want));
  new MutationObserver(() => {
    if (live.want && live.paintedAt === null && !live.seen && shown()) {
      live.seen = true;
      afterPaint((t) => (live.paintedAt = t));
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
  live.arm = (want) => Object.assign(live, { want, paintedAt: null, seen: false });
}

async function call(method, path, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${advisor.token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  return { status: response.status, body: answer };
}

/** A contact with a fresh UK mobile number (+44 7700 1xxxxx, as the e2e tests use), asked to opt in. */
async function askedContact(name) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const digits = String(Math.floor(Math.random() * 100_000)).padStart(5, '0');
    const added = await call('POST', '/contacts', { name, phone: `+44 7700 1${digits}` });
    if (added.status === 409) continue;
    if (added.status !== 201) throw new Error(`POST /contacts: HTTP ${added.status} ${JSON.stringify(added.body)}`);
    const asked = await call('POST', `/contacts/${added.body.id}/opt-in`);
    if (asked.status !== 202) throw new Error(`POST /contacts/{id}/opt-in: HTTP ${asked.status} ${JSON.stringify(asked.body)}`);
    return added.body;
  }
  throw new Error('could not add a contact with a fresh number');
}

/** The contact's "yes", as Meta posts it. */
function yesWebhook(contact, run) {
  const from = contact.phone.replace(/^\+/, '');
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '102290129340398',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
          contacts: [{ profile: { name: contact.name }, wa_id: from }],
          messages: [{
            from,
            id: `wamid.live${Date.now()}x${run}`,
            timestamp: String(Math.floor(Date.now() / 1000)),
            type: 'text',
            text: { body: 'yes' },
          }],
        },
      }],
    }],
  });
}

function percentile(sorted, p) {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

const round = (ms) => Math.round(ms * 10) / 10;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function measure(mode) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript(instrument);
  let refused = 0;
  if (mode === 'polling') {
    await page.route('**/api/v1/events**', (route) => {
      refused += 1;
      return route.abort('connectionreset');
    });
  }
  await page.goto(`${base}/#token=${advisor.token}`);
  await page.getByRole('heading', { name: 'Contacts' }).waitFor();
  if (mode === 'polling') {
    await page.getByRole('status').filter({ hasText: 'Reconnecting' }).first().waitFor({ timeout: 30_000 });
    // The app polls from the stream's `POLL_AFTER_FAILURES`th failure in a
    // row (src/live.rs): measured from there, or the first run times the
    // back-off before it.
    const started = now();
    while (refused < POLL_AFTER_FAILURES) {
      if (now() - started > 60_000) throw new Error(`the event stream was refused ${refused} times in 60 s`);
      await page.waitForTimeout(50);
    }
    await page.waitForTimeout(200);
  }
  const latencies = [];
  const acknowledgements = [];
  for (let run = 0; run < runs; run++) {
    const contact = await askedContact(`Live ${mode} ${run} ${Math.random().toString(36).slice(2, 7)}`);
    // The app's router follows history changes, as its own links do.
    await page.evaluate((path) => {
      history.pushState(null, '', path);
      dispatchEvent(new PopStateEvent('popstate'));
    }, `/contacts/${contact.id}`);
    await page.getByRole('heading', { level: 2, name: contact.name }).waitFor();
    await page.getByText('Waiting for a response').first().waitFor();
    // Let the sandbox's statuses for the request (sent, delivered) land first.
    await page.waitForTimeout(400);
    // The app polls every 4 s: a webhook lands anywhere in that period, so
    // each run waits a random part of it (else every run would sit at the
    // same point of the poll, right after the last one painted).
    if (mode === 'polling') await page.waitForTimeout(Math.random() * POLL_PERIOD_MS);
    await page.evaluate((want) => window.__live.arm(want), `${contact.name} opted in to WhatsApp messages`);
    const body = yesWebhook(contact, run);
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const t0 = now();
    const response = await fetch(`${base}/webhooks/whatsapp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
      body,
    });
    const acknowledged = now();
    if (response.status !== 200) throw new Error(`webhook: HTTP ${response.status} ${await response.text()}`);
    await page.waitForFunction(() => window.__live.paintedAt !== null, null, { timeout: 30_000 });
    const painted = await page.evaluate(() => window.__live.paintedAt);
    latencies.push(painted - t0);
    acknowledgements.push(acknowledged - t0);
    if ((run + 1) % 25 === 0) log(`${mode}: ${run + 1}/${runs}`);
  }
  await context.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  const acks = [...acknowledgements].sort((a, b) => a - b);
  return {
    runs,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted[sorted.length - 1]),
    webhook_acknowledged_p50_ms: round(percentile(acks, 50)),
    // In run order, so that a slow stretch (a busy machine) shows as one.
    samples_ms: latencies.map(round),
  };
}

const summary = ({ samples_ms, ...figures }) => JSON.stringify(figures);

try {
  const stream = await measure('stream');
  log('stream', summary(stream));
  const polling = await measure('polling');
  log('polling', summary(polling));
  console.log(JSON.stringify({ stream, polling }));
} finally {
  await browser.close();
}
