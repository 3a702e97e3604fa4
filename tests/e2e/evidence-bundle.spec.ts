// The evidence bundle: the compliance officer downloads the bundle of a
// number that went through an opt-in; unzipped, it verifies with the
// standard tools alone, by running the commands its own VERIFY.md gives
// (sha256sum, openssl, awk...), and one altered byte is caught.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, screenshots } from './fixtures';
import { newContact, sendOptIn, tapOnPhone, openCompliance, expectAccessible, unique } from './flow';

/** The commands of VERIFY.md's `sh` blocks: those that need nothing but the folder. */
function standardToolBlocks(guide: string): string[] {
  return [...guide.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

/** Runs one block with bash in `folder`, stopping at its first failing command. */
function run(block: string, folder: string): { status: number | null; output: string } {
  const ran = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block], { cwd: folder, encoding: 'utf8' });
  return { status: ran.status, output: `${ran.stdout}${ran.stderr}` };
}

/** Flips one bit of a byte of `file`. */
function alterOneByte(file: string, at: number) {
  const bytes = readFileSync(file);
  bytes[at] ^= 1;
  writeFileSync(file, bytes);
}

test('compliance downloads a number’s evidence bundle, which verifies with sha256sum and openssl alone', async ({ page, request, jane, compliance }) => {
  test.setTimeout(90_000);
  // Jane asks, the contact taps Yes on their (sandbox) phone.
  const contact = await newContact(request, jane, unique('Bundle Bea'));
  await sendOptIn(page, jane, contact);
  await tapOnPhone(request, contact.phone, 'Yes');
  await expect(page.getByRole('status').filter({ hasText: `${contact.name} opted in to WhatsApp messages` })).toBeVisible();

  // The officer opens the number's timeline.
  await openCompliance(page, compliance);
  await page.getByRole('searchbox', { name: 'Search' }).fill(contact.name);
  const row = page.getByRole('list', { name: 'Numbers' }).getByRole('listitem').filter({ hasText: contact.name });
  await expect(row).toHaveCount(1);
  await row.getByRole('link').click();
  const section = page.getByRole('region', { name: 'Evidence bundle' });
  const button = section.getByRole('button', { name: 'Download evidence bundle' });
  await expect(button).toBeVisible();
  await expect(button).toHaveAccessibleDescription(/sha256sum and openssl/);
  await expect(page.getByRole('list', { name: 'Evidence timeline' }).getByRole('listitem').filter({ hasText: 'Contact tapped Yes' })).toHaveCount(1);
  await expectAccessible(page, 'the number timeline with its evidence bundle');
  await screenshots(page, 'compliance-bundle');

  // The download, by keyboard as much as by mouse.
  const downloading = page.waitForEvent('download');
  await button.focus();
  await page.keyboard.press('Enter');
  const download = await downloading;
  const digits = contact.phone.replace('+', '');
  const name = `evidence-bundle-${digits}.zip`;
  expect(download.suggestedFilename()).toBe(name);
  await expect(section.getByRole('status')).toHaveText(`Downloaded ${name}.`);

  const dir = mkdtempSync(join(tmpdir(), 'evidence-bundle-'));
  try {
    const zip = join(dir, name);
    await download.saveAs(zip);
    const folder = join(dir, 'bundle');
    execFileSync('unzip', ['-q', zip, '-d', folder]);

    // The record is this number's, through the opt-in.
    const record = readFileSync(join(folder, 'record.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(record.map((event) => event.kind)).toEqual(expect.arrayContaining(['requested', 'accepted']));
    expect(new Set(record.map((event) => event.phone_e164))).toEqual(new Set([contact.phone]));

    // VERIFY.md names the checks, and its standard-tool commands all pass.
    const guide = readFileSync(join(folder, 'VERIFY.md'), 'utf8');
    expect(guide).toContain('sha256sum -c SHA256SUMS');
    expect(guide).toContain('openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig');
    expect(guide).toContain(`optin-server verify-bundle ${name}`);
    const blocks = standardToolBlocks(guide);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const said: string[] = [];
    for (const block of blocks) {
      const { status, output } = run(block, folder);
      expect(status, `${block}\n${output}`).toBe(0);
      said.push(output);
    }
    const all = said.join('\n');
    expect(all).toContain('record.jsonl: OK');
    expect(all).toContain('checkpoint.sig: OK');
    expect(all).toContain('Signature Verified Successfully');
    expect(all).toContain('chain.txt ends at the signed head');
    expect(all).toContain('every event of this number is a link of chain.txt');

    // One altered byte: sha256sum names the file; a changed signature fails openssl.
    const [sums, signature] = [blocks.find((b) => b.includes('sha256sum -c SHA256SUMS')), blocks.find((b) => b.includes('openssl pkeyutl'))];
    alterOneByte(join(folder, 'record.jsonl'), 10);
    const altered = run(sums!, folder);
    expect(altered.status).not.toBe(0);
    expect(altered.output).toContain('record.jsonl: FAILED');
    alterOneByte(join(folder, 'checkpoint.sig'), 0);
    const forged = run(signature!, folder);
    expect(forged.status).not.toBe(0);
    expect(forged.output).not.toContain('Signature Verified Successfully');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
