// Single sign-on in headless Chromium (docs/protocol.md §2.5): a real OpenID provider (testkit/oidc, panva's
// oidc-provider) and a local cluster whose router trusts it. The browser clicks "Sign in with …", signs in on the
// provider's own page and must land in the room list; a provider account sendjay does not know is refused with
// the app's explanation.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, launchBrowser, newPerson, screenshot, startCluster, stopCluster } from './harness.mjs';

const CLIENT_ID = 'sendjay-e2e';
const CLIENT_SECRET = 'sendjay-e2e-client-secret-0123456789';

let cluster;
let chrome;
let provider;

/** A loopback port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts testkit/oidc/provider.mjs on `port` with one client redirecting to `redirect`; resolves once it answers. */
async function startProvider(port, redirect) {
  const dir = join(ROOT, 'testkit/oidc');
  if (!existsSync(join(dir, 'node_modules/oidc-provider'))) throw new Error('run npm ci in testkit/oidc (scripts/test.sh does)');
  const child = spawn(process.execPath, [join(dir, 'provider.mjs'), String(port)], {
    cwd: dir,
    env: { ...process.env, OIDC_CLIENT_ID: CLIENT_ID, OIDC_CLIENT_SECRET: CLIENT_SECRET, OIDC_REDIRECT_URIS: redirect },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const issuer = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the OpenID provider exited: ${output}`);
    try {
      if ((await fetch(`${issuer}/.well-known/openid-configuration`)).ok) return { child, issuer };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the OpenID provider did not answer within 30 s: ${output}`);
}

before(async () => {
  const routerPort = await freePort();
  const redirect = `http://127.0.0.1:${routerPort}/v1/sso/callback`;
  provider = await startProvider(await freePort(), redirect);
  cluster = startCluster({
    stateSuffix: '-sso',
    env: {
      SENDJAY_ROUTER_PORT: String(routerPort),
      SENDJAY_OIDC_ISSUER: provider.issuer,
      SENDJAY_OIDC_CLIENT_ID: CLIENT_ID,
      SENDJAY_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      SENDJAY_OIDC_REDIRECT_URL: redirect,
      SENDJAY_OIDC_LABEL: 'Example Corp',
    },
  });
  assert.equal(cluster.ROUTER_URL, `http://127.0.0.1:${routerPort}`, 'the router got the port the provider redirects to');
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  if (cluster !== undefined) stopCluster(cluster.stateDir);
  provider?.child.kill('SIGTERM');
});

/** Clicks "Sign in with Example Corp" and signs in as `account` on the provider's own login and consent pages. */
async function signInAtProvider(page, account) {
  await page.goto('/');
  await page.getByRole('button', { name: 'Sign in with Example Corp' }).click();
  await page.waitForURL((url) => url.href.startsWith(provider.issuer));
  await page.locator('input[name="login"]').fill(account);
  await page.locator('input[name="password"]').fill('whatever the provider checks');
  await page.locator('button[type="submit"]').click();
  await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
  await page.locator('button[type="submit"]').click();
}

test('alice signs in with the company account and lands in her room list', async () => {
  const page = await (await newPerson(chrome.browser, cluster)).newPage();
  await signInAtProvider(page, 'alice');
  await page.locator('.room', { hasText: 'General' }).first().waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the handoff was cleared from the address bar');
  await screenshot(page, 'sso-rooms');
});

test('a company account sendjay does not know is refused with an explanation', async () => {
  const page = await (await newPerson(chrome.browser, cluster)).newPage();
  await signInAtProvider(page, 'mallory');
  await page.getByRole('alert').filter({ hasText: 'has no messenger account' }).waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the error code was cleared from the address bar');
});
