// Browser figures for `cargo xtask bench`, in Debian's Chromium through
// playwright-core. Prints one JSON object on stdout (progress on stderr).
//
// - startup: navigation to the contact list painted, the demo advisor (a
//   dozen contacts), median of BENCH_LOADS cold loads, each in a fresh context;
// - slow_phone: the same on Lighthouse's mobile profile applied (150 ms
//   round trips, 1.6 Mbit/s, CPU slowed 4×), BENCH_SLOW_LOADS loads (default 5);
// - big_list: the same with the second advisor, who has thousands of contacts
//   seeded (the first list paint budget);
// - keystroke: from a key press in the search box to the filtered list
//   painted, median and p95 over BENCH_KEYSTROKES key presses (the list is
//   virtual: it counts as showing a search's result when the rows it draws
//   are the first ones the API answers for that search, as many as it drew
//   after the load);
// - scroll: the list of thousands scrolled by 60 px each frame (a fast
//   flick) for BENCH_SCROLL_FRAMES frames (default 240), from the top down;
//   the time between frames shows whether drawing the rows kept up with 60 Hz;
// - back to the list: from "Back to contacts" clicked on a contact's screen
//   to the list's rows painted again, the list of thousands loaded (median
//   and p95 of BENCH_BACKS runs, default 10);
// - JS heap after load (CDP Performance.getMetrics, after a garbage collection).
//
// Times are taken in the page (performance.now() clock): a MutationObserver
// notes when nodes enter the DOM, and the frame after that (requestAnimationFrame,
// then a task) is when they are painted. The list is found only by its role
// and accessible name (list "Contacts", its list items, searchbox "Search contacts").
//
// Env: BASE_URL, DEMO_TOKENS_FILE (the service's demo-advisors.json),
// BENCH_LOADS (default 10), BENCH_KEYSTROKES (default 30).

import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const base = process.env.BASE_URL;
const tokensFile = process.env.DEMO_TOKENS_FILE;
if (!base || !tokensFile) {
  console.error('BASE_URL and DEMO_TOKENS_FILE must be set (run through `cargo xtask bench`)');
  process.exit(2);
}
const [demo, big] = JSON.parse(readFileSync(tokensFile, 'utf8'));
const loads = Number(process.env.BENCH_LOADS ?? 10);
const keystrokes = Number(process.env.BENCH_KEYSTROKES ?? 30);
const backs = Number(process.env.BENCH_BACKS ?? 10);
const scrollFrames = Number(process.env.BENCH_SCROLL_FRAMES ?? 240);
const slowLoads = Number(process.env.BENCH_SLOW_LOADS ?? 5);
const log = (...args) => console.error('[browser]', ...args);

// Runs in every page before its own scripts.
function instrument() {
  const paintedAt = new WeakMap();
  const bench = (window.__bench = { paintedAt, expect: null, t0: null });

  // A frame after now, then a task: the DOM changes made so far are painted.
  const afterPaint = (callback) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => callback(performance.now());
      channel.port2.postMessage(null);
    });

  const accessibleName = (el) => {
    const label = el.getAttribute('aria-label');
    if (label) return label.trim();
    const ids = el.getAttribute('aria-labelledby');
    if (!ids) return '';
    return ids
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim();
  };
  // The element with role list and accessible name "Contacts", and its items.
  bench.list = () =>
    [...document.querySelectorAll('ul, ol, [role="list"]')].find(
      (el) => el.getAttribute('role') !== 'presentation' && el.getAttribute('role') !== 'none' && accessibleName(el) === 'Contacts',
    ) ?? null;
  bench.items = (list) =>
    [...list.querySelectorAll('li, [role="listitem"]')].filter(
      (item) => item.parentElement?.closest('ul, ol, [role="list"]') === list,
    );
  // Does the list show what the API answers for the query typed?
  bench.matches = ({ first, last, count }) => {
    const list = bench.list();
    if (!list) return false;
    const items = bench.items(list);
    return (
      items.length === count &&
      items[0].textContent.includes(first) &&
      items[count - 1].textContent.includes(last)
    );
  };
  bench.timeOf = (el) => {
    for (let node = el; node; node = node.parentNode) {
      const t = paintedAt.get(node);
      if (t !== undefined) return t;
    }
    return null;
  };

  document.addEventListener(
    'keydown',
    (event) => {
      if (bench.expect && bench.t0 === null) bench.t0 = event.timeStamp;
    },
    true,
  );

  // The first contact rows seen: the first screen drawn before the app runs
  // (src/first_screen.js, inert, so no role query finds it) or the app's,
  // whichever is painted first. A row in the app's page while it is still
  // hidden does not count.
  const rowSeen = () => [...document.querySelectorAll('ul[aria-label="Contacts"] > li')].some((li) => li.getClientRects().length);
  new MutationObserver((records) => {
    if (bench.rowsSeenAt === undefined && rowSeen()) {
      bench.rowsSeenAt = null;
      afterPaint((t) => (bench.rowsSeenAt = t));
    }
    const added = [];
    for (const record of records) for (const node of record.addedNodes) if (node.nodeType === 1) added.push(node);
    if (added.length) afterPaint((t) => added.forEach((node) => paintedAt.has(node) || paintedAt.set(node, t)));
    // An armed keystroke: the first change of the list that shows the expected result.
    const armed = bench.expect;
    if (!armed || bench.t0 === null || armed.matched) return;
    const list = bench.list();
    if (!list) return;
    const touched = records.some(
      (r) => list.contains(r.target) || [...r.addedNodes].some((n) => n.nodeType === 1 && n.contains(list)),
    );
    if (touched && bench.matches(armed)) {
      armed.matched = true;
      const t0 = bench.t0;
      const dom = performance.now();
      afterPaint((t1) => armed.resolve({ t0, dom, t1 }));
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });

  // Arms the next keystroke; `bench.done` resolves with its start and end times.
  bench.arm = (expected) => {
    performance.clearResourceTimings();
    bench.t0 = null;
    bench.expect = { ...expected, matched: false };
    bench.done = new Promise((resolve) => (bench.expect.resolve = resolve));
  };
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function api(token, query) {
  const response = await fetch(`${base}/api/v1/contacts?${new URLSearchParams(query)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`GET /api/v1/contacts: HTTP ${response.status}`);
  return response.json();
}

const contactsList = (page) => page.getByRole('list', { name: 'Contacts' });

/** A cold load in a fresh context: ms from navigation start to the first list item painted. */
async function coldLoad(token, { keepOpen = false, slowPhone = false } = {}) {
  const viewport = slowPhone ? { width: 412, height: 823 } : { width: 1280, height: 900 };
  const context = await browser.newContext({ viewport });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  if (slowPhone) await emulateSlowPhone(page, context);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${base}/#token=${token}`);
  const first = contactsList(page).getByRole('listitem').first();
  await first.waitFor({ state: 'visible', timeout: 30_000 });
  // Let the painted-at notes of that frame be written.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
  const paintedMs = await first.evaluate((el) => window.__bench.timeOf(el));
  const rowsSeenMs = await page.evaluate(() => window.__bench.rowsSeenAt);
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const resources = performance.getEntriesByType('resource');
    const wasm = resources.find((r) => r.name.endsWith('.wasm'));
    const contacts = resources.find((r) => r.name.includes('/api/v1/contacts'));
    const me = resources.find((r) => new URL(r.name).pathname === '/api/v1/me');
    return {
      dom_content_loaded_ms: nav?.domContentLoadedEventEnd,
      first_contentful_paint_ms: fcp?.startTime,
      wasm_loaded_ms: wasm?.responseEnd,
      contacts_request_start_ms: contacts?.startTime,
      contacts_response_end_ms: contacts?.responseEnd,
      me_response_end_ms: me?.responseEnd,
    };
  });
  const items = await contactsList(page).getByRole('listitem').count();
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  if (!keepOpen) {
    await context.close();
    return { paintedMs, rowsSeenMs, timing, items };
  }
  return { paintedMs, rowsSeenMs, timing, items, page, context };
}

/** Lighthouse's mobile profile, applied rather than simulated: 150 ms round
 * trips, 1.6 Mbit/s down, 750 kbit/s up, the CPU slowed 4×. */
async function emulateSlowPhone(page, context) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: 1.6e6 / 8,
    uploadThroughput: 750e3 / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
}

async function jsHeap(page, context) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const metric = (name) => metrics.find((m) => m.name === name)?.value;
  return {
    js_heap_used_bytes: metric('JSHeapUsedSize'),
    js_heap_total_bytes: metric('JSHeapTotalSize'),
    dom_nodes: metric('Nodes'),
  };
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1];
};
const round = (x) => (x == null ? null : Math.round(x * 10) / 10);
const median = (values) => round(quantile(values, 0.5));

/** `count` cold loads; the last one stays open for the heap and what follows. */
async function loadSeries(token, count, { slowPhone = false } = {}) {
  const samples = [];
  const seen = [];
  const timings = [];
  let last;
  for (let i = 0; i < count; i++) {
    last = await coldLoad(token, { keepOpen: i === count - 1, slowPhone });
    samples.push(last.paintedMs);
    if (last.rowsSeenMs != null) seen.push(last.rowsSeenMs);
    timings.push(last.timing);
  }
  const heap = await jsHeap(last.page, last.context);
  const medianOf = (key) => median(timings.map((t) => t[key]).filter((v) => v != null));
  const rendering = samples
    .map((ms, i) => (timings[i].contacts_response_end_ms == null ? null : ms - timings[i].contacts_response_end_ms))
    .filter((v) => v != null);
  return {
    figures: {
      loads: count,
      items_rendered: last.items,
      // The app's own list painted: usable from then on.
      median_ms: median(samples),
      p95_ms: round(quantile(samples, 0.95)),
      samples_ms: samples.map(round),
      // The first rows painted, drawn early or by the app: seen from then on.
      rows_seen_median_ms: median(seen),
      rows_seen_p95_ms: round(quantile(seen, 0.95)),
      rows_seen_samples_ms: seen.map(round),
      breakdown_median_ms: {
        dom_content_loaded: medianOf('dom_content_loaded_ms'),
        first_contentful_paint: medianOf('first_contentful_paint_ms'),
        wasm_loaded: medianOf('wasm_loaded_ms'),
        contacts_request_start: medianOf('contacts_request_start_ms'),
        contacts_response_end: medianOf('contacts_response_end_ms'),
        me_response_end: medianOf('me_response_end_ms'),
        list_painted_after_response: median(rendering),
      },
      ...heap,
    },
    page: last.page,
    context: last.context,
  };
}

/** Words to type: first names and surnames of contacts spread over the list. */
async function wordsToType(token, total) {
  const words = [];
  for (const fraction of [0.13, 0.41, 0.77, 0.29, 0.58, 0.91, 0.05, 0.66, 0.35, 0.84]) {
    const page = await api(token, { offset: Math.floor(fraction * total), limit: 1 });
    for (const word of (page.items[0]?.name ?? '').split(' ').reverse()) {
      if (/^[A-Za-z]{3,}$/.test(word) && !words.includes(word.toLowerCase())) words.push(word.toLowerCase());
    }
  }
  return words;
}

/** What the list should show for a query: its first and last names and its length. */
async function expectedList(token, q, cap) {
  const answer = await api(token, { q, limit: cap });
  const items = answer.items.slice(0, cap);
  return {
    ids: items.map((c) => c.id).join(','),
    expected: items.length && { first: items[0].name, last: items[items.length - 1].name, count: items.length },
  };
}

async function keystrokeSeries(page, token, target) {
  const box = page.getByRole('searchbox', { name: 'Search contacts' });
  const list = contactsList(page);
  const cap = await list.getByRole('listitem').count();
  const inPage = await page.evaluate(() => window.__bench.items(window.__bench.list()).length);
  if (inPage !== cap) throw new Error(`the list found in the page has ${inPage} items, Playwright sees ${cap}`);
  const total = (await api(token, { q: '', limit: 1 })).total;
  const words = await wordsToType(token, total);
  const everything = await expectedList(token, '', cap);
  const samples = [];
  const unchanged = [];
  for (const word of words) {
    if (samples.length >= target) break;
    await box.fill('');
    await page.waitForFunction((e) => window.__bench.matches(e), everything.expected);
    let shown = everything.ids;
    let typed = '';
    for (const char of word) {
      if (samples.length >= target) break;
      typed += char;
      const { ids, expected } = await expectedList(token, typed, cap);
      if (!expected) break;
      if (ids === shown) {
        // The same list as before: nothing to paint, so nothing to time.
        await box.press(char);
        await page.waitForTimeout(300);
        unchanged.push(typed);
        continue;
      }
      shown = ids;
      await page.evaluate((e) => window.__bench.arm(e), expected);
      await box.press(char);
      const timing = await page.evaluate(
        async (q) => {
          const done = await Promise.race([window.__bench.done, new Promise((r) => setTimeout(() => r(null), 5000))]);
          window.__bench.expect = null;
          if (!done) return null;
          // The search request of this keystroke, to split the time into network and rendering.
          const request = performance
            .getEntriesByType('resource')
            .filter((r) => r.name.includes('/api/v1/contacts') && new URL(r.name).searchParams.get('q') === q)
            .pop();
          return { ...done, response_end: request?.responseEnd ?? null, request_start: request?.startTime ?? null };
        },
        typed,
      );
      if (!timing) throw new Error(`the list never showed the result for "${typed}"`);
      const { t0, dom, t1, response_end } = timing;
      // The app filters the rows it has loaded at once; the search's response
      // may come after the list already showed the result (or not be in yet).
      const beforeAnswer = response_end == null || dom < response_end;
      samples.push({
        query: typed,
        rows: expected.count,
        ms: round(t1 - t0),
        // Key press to the search's response received (null: not received yet).
        request_ms: response_end == null ? null : round(response_end - t0),
        // Key press to the list changed in the DOM (filtering or JSON decoding, Leptos, DOM calls).
        key_to_dom_ms: round(dom - t0),
        // Response to the list changed, when the list waited for it.
        update_dom_ms: beforeAnswer ? null : round(dom - response_end),
        // DOM changed to painted (style, layout, paint).
        paint_ms: round(t1 - dom),
        painted_before_answer: beforeAnswer,
      });
    }
  }
  const values = samples.map((s) => s.ms);
  const part = (key) => samples.map((s) => s[key]).filter((v) => v != null);
  return {
    contacts: total,
    items_rendered: cap,
    measured: values.length,
    median_ms: median(values),
    p95_ms: round(quantile(values, 0.95)),
    max_ms: round(Math.max(...values)),
    request_median_ms: median(part('request_ms')),
    key_to_dom_median_ms: median(part('key_to_dom_ms')),
    update_dom_median_ms: median(part('update_dom_ms')),
    paint_median_ms: median(part('paint_ms')),
    painted_before_answer: samples.filter((s) => s.painted_before_answer).length,
    samples,
    unchanged_keystrokes_not_timed: unchanged,
  };
}

/** Frames while the list scrolls 60 px a frame: their intervals, and those over 20 ms (a frame missed).
 * Beside it, what each frame's main thread did: the scroll event and the app's
 * work up to this script's frame callback ("script"), then style, layout and
 * paint up to a task posted from that callback ("render"). And as a baseline,
 * the same number of frames in the same page without scrolling: frames this
 * browser misses on this machine with nothing to do. */
async function scrollSeries(page, frames) {
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('');
  await page.waitForTimeout(300);
  const { idle, scrolling, scrolledPx, requests } = await page.evaluate(
    (frames) =>
      new Promise((resolve) => {
        const scroller = window.__bench.list().parentElement;
        scroller.scrollTop = 0;
        // `frames` frames, `each` called in each; per frame its interval and main-thread times.
        const series = (each) =>
          new Promise((done) => {
            const out = [];
            let previous = null;
            const step = (frameStart) => {
              const callback = performance.now();
              if (previous !== null) {
                const sample = { interval: frameStart - previous, script: callback - frameStart, render: null };
                out.push(sample);
                const channel = new MessageChannel();
                channel.port1.onmessage = () => (sample.render = performance.now() - callback);
                channel.port2.postMessage(null);
              }
              previous = frameStart;
              if (out.length >= frames) {
                setTimeout(() => done(out), 50);
                return;
              }
              each();
              requestAnimationFrame(step);
            };
            requestAnimationFrame(step);
          });
        (async () => {
          const idle = await series(() => {});
          const before = performance.getEntriesByType('resource').length;
          const scrolling = await series(() => (scroller.scrollTop += 60));
          const requests = performance.getEntriesByType('resource').length - before;
          resolve({ idle, scrolling, scrolledPx: scroller.scrollTop, requests });
        })();
      }),
    frames,
  );
  if (scrolledPx < 60 * (frames - 1)) throw new Error(`the list scrolled only ${scrolledPx} px`);
  const summary = (samples) => {
    const intervals = samples.map((s) => s.interval);
    const total = intervals.reduce((a, b) => a + b, 0);
    const slow = samples.filter((s) => s.interval > 20);
    return {
      frames: intervals.length,
      fps: round((1000 * intervals.length) / total),
      median_frame_ms: median(intervals),
      p95_frame_ms: round(quantile(intervals, 0.95)),
      frames_over_20ms: slow.length,
      script_median_ms: median(samples.map((s) => s.script)),
      render_median_ms: median(samples.map((s) => s.render).filter((v) => v != null)),
      // A slow frame whose main thread was busy less than a frame's time did
      // not miss for the page's work.
      slow_frames_main_thread_over_16ms: slow.filter((s) => s.script + (s.render ?? 0) > 16.7).length,
      slow_frames: slow.map((s) => ({ interval: round(s.interval), script: round(s.script), render: round(s.render) })),
    };
  };
  return {
    scrolled_px: scrolledPx,
    requests_while_scrolling: requests,
    ...summary(scrolling),
    idle_baseline: summary(idle),
  };
}

/** Opens a contact from the list, then times "Back to contacts" to the list's rows painted. */
async function backToListSeries(page, runs) {
  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('');
  const samples = [];
  for (let i = 0; i < runs; i++) {
    await contactsList(page).getByRole('listitem').nth(i % 5).getByRole('link').first().click();
    await page.getByRole('link', { name: 'Back to contacts' }).waitFor();
    // The contact's own requests answered.
    await page.waitForTimeout(300);
    const ms = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const back = [...document.querySelectorAll('a')].find(
            (a) => (a.getAttribute('aria-label') ?? a.textContent).trim() === 'Back to contacts',
          );
          let t0;
          const observer = new MutationObserver(() => {
            const list = window.__bench.list();
            if (!list || !window.__bench.items(list).length) return;
            observer.disconnect();
            requestAnimationFrame(() => {
              const channel = new MessageChannel();
              channel.port1.onmessage = () => resolve(performance.now() - t0);
              channel.port2.postMessage(null);
            });
          });
          observer.observe(document, { childList: true, subtree: true });
          t0 = performance.now();
          back.click();
        }),
    );
    samples.push(ms);
    await page.waitForTimeout(300);
  }
  return { runs, median_ms: median(samples), p95_ms: round(quantile(samples, 0.95)), samples_ms: samples.map(round) };
}

const result = { chromium: browser.version() };
try {
  const demoTotal = (await api(demo.token, { q: '', limit: 1 })).total;
  log(`startup: ${loads} cold loads, ${demoTotal} contacts`);
  const startup = await loadSeries(demo.token, loads);
  await startup.context.close();
  result.startup = { contacts: demoTotal, ...startup.figures };
  log(`slow phone: ${slowLoads} cold loads, ${demoTotal} contacts`);
  const slow = await loadSeries(demo.token, slowLoads, { slowPhone: true });
  await slow.context.close();
  result.slow_phone = { contacts: demoTotal, ...slow.figures };

  const bigTotal = (await api(big.token, { q: '', limit: 1 })).total;
  log(`big list: ${loads} cold loads, ${bigTotal} contacts`);
  const bigList = await loadSeries(big.token, loads);
  result.big_list = { contacts: bigTotal, ...bigList.figures };

  log(`keystrokes: ${keystrokes}`);
  result.keystroke = await keystrokeSeries(bigList.page, big.token, keystrokes);
  log(`scroll: ${scrollFrames} frames`);
  result.scroll = { contacts: bigTotal, ...(await scrollSeries(bigList.page, scrollFrames)) };
  log(`back to the list: ${backs} runs`);
  result.back_to_list = { contacts: bigTotal, ...(await backToListSeries(bigList.page, backs)) };
  await bigList.context.close();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
