// The browser tests' harness: a private local cluster (deploy/local/cluster.sh --detach on its own --state-dir,
// stopped at the end even on failure) and Debian's chromium driven by playwright-core.
//
// Env: SENDJAY_E2E_PROFILE=debug|release (binaries of target/<profile>, default debug, never built here);
// CHROMIUM_PATH (default /usr/bin/chromium); SENDJAY_E2E_SCREENSHOTS=DIR (default docs/screenshots);
// SENDJAY_E2E_STATE_DIR=DIR (default a new temporary directory) for the cluster's state.

import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const ROOT = resolve(here, '../../..');
/** Where the screenshots of the main screens go (committed, linked from README.md). */
export const SCREENSHOTS = process.env.SENDJAY_E2E_SCREENSHOTS ?? join(ROOT, 'docs/screenshots');

/**
 * Starts a cluster with 2 nodes; returns its cluster.env as an object plus `stop()`. `env` is added to the
 * environment of cluster.sh (and so of the router and nodes); `stateSuffix` keeps a second test file's cluster
 * apart from the first's under SENDJAY_E2E_STATE_DIR.
 */
export function startCluster({ env: extraEnv = {}, stateSuffix = '' } = {}) {
  // SENDJAY_E2E_STATE_DIR lets scripts/test.sh stop a cluster this process could not (killed by its time limit).
  const stateDir =
    process.env.SENDJAY_E2E_STATE_DIR !== undefined
      ? process.env.SENDJAY_E2E_STATE_DIR + stateSuffix
      : mkdtempSync(join(tmpdir(), 'sendjay-e2e-'));
  mkdirSync(stateDir, { recursive: true });
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      stopCluster(stateDir);
      process.exit(130);
    });
  }
  const args = ['deploy/local/cluster.sh', '--detach', '--fresh', '--no-build', '--users', '0', '--state-dir', stateDir];
  if ((process.env.SENDJAY_E2E_PROFILE ?? 'debug') === 'debug') args.push('--debug');
  const log = join(stateDir, 'cluster.out');
  try {
    execFileSync('bash', ['-c', `bash ${args.map((a) => `'${a}'`).join(' ')} >'${log}' 2>&1`], {
      cwd: ROOT,
      timeout: 180_000,
      env: { ...process.env, ...extraEnv },
    });
  } catch (e) {
    let out = '';
    try {
      out = readFileSync(log, 'utf8');
    } catch {
      // no output
    }
    stopCluster(stateDir);
    throw new Error(`cluster.sh failed (${e.message}); its output:\n${out}`);
  }
  const env = parseEnv(readFileSync(join(stateDir, 'cluster.env'), 'utf8'));
  env.stateDir = stateDir;
  return env;
}

/** Stops the cluster and deletes its state. */
export function stopCluster(stateDir) {
  try {
    execFileSync('bash', [join(ROOT, 'deploy/local/stop.sh'), '--state-dir', stateDir, '--purge'], { cwd: ROOT, timeout: 90_000, stdio: 'ignore' });
  } catch {
    // best effort; the state dir goes anyway
  }
  rmSync(stateDir, { recursive: true, force: true });
}

/** kill -9 of one node of the cluster (by its pid file). */
export function killNode(cluster, nodeId) {
  const pid = readFileSync(join(cluster.stateDir, 'pids', `${nodeId}.pid`), 'utf8').trim();
  process.kill(Number(pid), 'SIGKILL');
}

function parseEnv(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m === null) continue;
    let value = m[2];
    // printf %q output: quoted with $'..', '..' or backslashes.
    if (value.startsWith("$'")) value = value.slice(2, -1);
    else if (value.startsWith("'")) value = value.slice(1, -1);
    else value = value.replace(/\\(.)/g, '$1');
    env[m[1]] = value;
  }
  return env;
}

/** Launches headless chromium with the flags this closed network needs. */
export async function launchBrowser() {
  // playwright-core gives chromium a fresh, empty --user-data-dir of its own (and removes it on close).
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/** Records `new Notification(...)` calls in `window.__notifications` (permission granted). */
export const RECORD_NOTIFICATIONS = `
  window.__notifications = [];
  window.__notificationObjects = [];
  class RecordedNotification {
    constructor(title, options) {
      window.__notifications.push({ title, body: options && options.body, tag: options && options.tag });
      window.__notificationObjects.push(this);
    }
    close() {}
    static get permission() { return 'granted'; }
    static requestPermission() { return Promise.resolve('granted'); }
  }
  window.Notification = RecordedNotification;
`;

/** A new browser context (one "browser" of one person) with English UI and recorded notifications. */
export async function newPerson(browser, cluster, { locale = 'en-US' } = {}) {
  // bypassCSP: Playwright evaluates waitForFunction predicates with eval, which the app's CSP (script-src 'self') forbids.
  const context = await browser.newContext({ baseURL: cluster.ROUTER_URL, locale, viewport: { width: 1100, height: 760 }, bypassCSP: true });
  await context.addInitScript(RECORD_NOTIFICATIONS);
  context.setDefaultTimeout(15_000);
  return context;
}

/** Signs `user` in on `page` through the login screen and waits for the room list. */
export async function signIn(page, user, path = '/') {
  await page.goto(path);
  await page.getByLabel(/User ID|아이디/).fill(user);
  await page.getByLabel(/^(Password|비밀번호)$/).fill('sendjay');
  await page.getByRole('button', { name: /^(Sign in|로그인)$/ }).click();
  await page.locator('.room').first().waitFor();
}

/** Opens the room named `name` from the list and waits for its history. */
export async function openRoom(page, name) {
  await page.locator('.room', { hasText: name }).first().click();
  await page.locator('#room-title', { hasText: name }).waitFor();
  await page.locator('.history-edge').waitFor();
}

/** Types and sends a message with Enter. */
export async function send(page, text) {
  const box = page.getByLabel(/^(Message|메시지)$/);
  await box.fill(text);
  await box.press('Enter');
}

/** The texts of the delivered messages on screen (pending ones excluded). */
export async function shownMessages(page) {
  return page.locator('.message-scroller .rows .body').allInnerTexts();
}

/** Waits until `predicate(texts)` holds for the shown messages, or fails after `ms` with what was shown. */
export async function waitForMessages(page, predicate, ms = 20_000, what = 'messages') {
  const deadline = Date.now() + ms;
  let texts = [];
  while (Date.now() < deadline) {
    texts = await shownMessages(page);
    if (predicate(texts)) return texts;
    await page.waitForTimeout(150);
  }
  throw new Error(`timed out waiting for ${what}; shown: ${JSON.stringify(texts.slice(-30))}`);
}

/** Saves a screenshot of `page` as docs/screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** axe-core injected into the page: the serious and critical violations. */
export async function seriousViolations(page) {
  const source = readFileSync(join(here, '../node_modules/axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Runs a command, resolving with its stdout. */
export function run(cmd, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { timeout: 60_000, ...options }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${err.message}\n${stderr}`)) : resolvePromise(stdout)));
  });
}
