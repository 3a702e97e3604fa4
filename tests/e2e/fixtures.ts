// Shared fixtures: the demo advisors' tokens, a page that fails the test on
// any console error or unhandled rejection, and screenshots at two widths.
import { test as base, expect, Page } from '@playwright/test';
import { readFileSync, mkdirSync } from 'node:fs';

/** A demo person: the two advisors, then the compliance officer (`role` says which). */
export type DemoAdvisor = { name: string; token: string; role?: 'advisor' | 'compliance' | 'admin' };

export function demoAdvisors(): DemoAdvisor[] {
  const file = process.env.DEMO_TOKENS_FILE;
  if (!file) throw new Error('DEMO_TOKENS_FILE is not set: run the specs through `cargo xtask test`');
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The shared sandbox clock; see the `clock` fixture. */
export type SandboxClock = { offsetSeconds: () => Promise<number> };

export const test = base.extend<{ page: Page; jane: DemoAdvisor; sam: DemoAdvisor; compliance: DemoAdvisor; clock: SandboxClock }>({
  jane: async ({}, use) => use(demoAdvisors()[0]),
  sam: async ({}, use) => use(demoAdvisors()[1]),
  // The demo compliance officer: reads every number of the organization, never sends.
  compliance: async ({}, use) => {
    const officer = demoAdvisors()[2];
    expect(officer?.role, 'the third demo person is the compliance officer').toBe('compliance');
    await use(officer);
  },
  // A test that moves the shared sandbox clock takes this fixture: whether the
  // test passes or fails, the clock is put back to the wall clock afterwards,
  // so no later spec runs with it moved.
  clock: async ({ request }, use) => {
    const offsetSeconds = async () => {
      const response = await request.get('/sandbox/clock');
      expect(response.ok()).toBe(true);
      return (await response.json()).offset_seconds as number;
    };
    await use({ offsetSeconds });
    const reset = await request.post('/sandbox/clock/reset');
    expect(reset.ok(), 'the sandbox clock is reset').toBe(true);
    expect(await offsetSeconds(), 'the sandbox clock is back to the wall clock').toBe(0);
  },
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (message) => {
      // Chromium also logs every HTTP error status; those are judged below from the responses.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    page.on('response', (response) => {
      const status = response.status();
      const isApi = new URL(response.url()).pathname.startsWith('/api/');
      // API refusals (4xx) are answers the app shows; anything else failing is a defect.
      if (status >= 500 || (status >= 400 && !isApi)) problems.push(`HTTP ${status}: ${response.url()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await use(page);
    expect(problems, 'no console errors or unhandled rejections').toEqual([]);
  },
});

export { expect };

/** Opens the app signed in as `advisor`, the way the printed URL does. */
export async function openApp(page: Page, advisor: DemoAdvisor) {
  await page.goto(`/#token=${advisor.token}`);
  await expect(page.getByRole('heading', { name: 'Contacts' })).toBeVisible();
}

/** Saves the current screen at a side-panel width and a full-tab width. */
export async function screenshots(page: Page, name: string) {
  mkdirSync('tests/e2e/screenshots', { recursive: true });
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `tests/e2e/screenshots/${name}-${width}.png`, fullPage: true });
  }
}
