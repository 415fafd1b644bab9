// Debian's chromium, headless, driven by playwright-core (no browser is downloaded), for the tests in
// test/e2e/. Without /usr/bin/chromium those tests are skipped, saying why (.ci/run installs it).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
/** The `skip` option of a test that needs the browser. */
export const skipWithoutBrowser: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`;

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A fresh browser profile, closed and removed when the test ends. `hosts` maps names to addresses
 * (as /etc/hosts would), so a page can be opened under a name other than localhost while the server
 * listens on 127.0.0.1 alone.
 */
export async function openBrowser(t: Teardown, hosts: Record<string, string> = {}): Promise<BrowserContext> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'bg-page-e2e-'));
  const rules = Object.entries(hosts).map(([name, address]) => `MAP ${name} ${address}`);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(rules.length > 0 ? [`--host-resolver-rules=${rules.join(', ')}`] : []),
    ],
    acceptDownloads: true,
    viewport: { width: 1200, height: 900 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(30_000);
  t.teardown(async () => {
    await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  });
  return context;
}
