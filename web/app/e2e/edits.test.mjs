// Editing a message in the browser (issue 18) against a real local cluster: alice edits her message in place, dave
// (on the other node) sees the new text live with the "edited" mark; then dave's connection is cut and held down
// (Playwright's WebSocket route closes it and refuses reconnects) while alice edits again, so the `edited` push
// cannot reach him: when he is let back, his client's `sync` with its change cursor brings the edit, shown once.
// Reactions: a click reacts, the other member sees the count live and who reacted, a second click takes it back.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, newPerson, openRoom, screenshot, send, signIn, startCluster, stopCluster, waitForMessages } from './harness.mjs';

let cluster;
let chrome;

before(async () => {
  cluster = startCluster({ stateSuffix: '-edits' });
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  if (cluster !== undefined) stopCluster(cluster.stateDir);
});

const count = (texts, text) => texts.filter((t) => t === text).length;
const row = (page, text) => page.locator('article.message', { hasText: text }).first();

/** Opens alice's editor on the message showing `from`, types `to` and saves with Enter. */
async function edit(page, from, to) {
  await row(page, from).getByRole('button', { name: 'Edit', exact: true }).click();
  const box = page.getByRole('textbox', { name: 'Edit your message' });
  await box.fill(to);
  await box.press('Enter');
  await box.waitFor({ state: 'detached' });
}

test('an edit shows live with its mark, and reaches a reader who was away through sync', async () => {
  assert.notEqual(cluster.NODE_OF_ALICE, cluster.NODE_OF_DAVE, 'alice and dave are on different nodes');
  const alice = await (await newPerson(chrome.browser, cluster)).newPage();
  const daveContext = await newPerson(chrome.browser, cluster);
  // Dave's WebSockets go through this route: `away` cuts them and refuses new ones until he is back.
  let away = false;
  const sockets = [];
  await daveContext.routeWebSocket(
    () => true,
    (ws) => {
      if (away) {
        ws.close({ code: 1012, reason: 'test: dave is away' });
        return;
      }
      ws.connectToServer();
      sockets.push(ws);
    },
  );
  const dave = await daveContext.newPage();
  await signIn(alice, 'alice');
  await signIn(dave, 'dave');
  await openRoom(alice, 'General');
  await openRoom(dave, 'General');
  await send(alice, 'meet at 3 in room B');
  await waitForMessages(dave, (t) => count(t, 'meet at 3 in room B') === 1);

  // Only one's own messages offer Edit.
  assert.equal(await row(dave, 'meet at 3 in room B').getByRole('button', { name: 'Edit', exact: true }).count(), 0);
  // Escape leaves the message as it was.
  await row(alice, 'meet at 3 in room B').getByRole('button', { name: 'Edit', exact: true }).click();
  await alice.getByRole('textbox', { name: 'Edit your message' }).fill('never sent');
  await screenshot(alice, 'edit-message');
  await alice.getByRole('textbox', { name: 'Edit your message' }).press('Escape');
  await waitForMessages(alice, (t) => count(t, 'meet at 3 in room B') === 1 && count(t, 'never sent') === 0);

  await edit(alice, 'meet at 3 in room B', 'meet at 4 in room B');
  const live = await waitForMessages(dave, (t) => count(t, 'meet at 4 in room B') === 1, 10_000, 'the edit, live');
  assert.equal(count(live, 'meet at 3 in room B'), 0, 'the old text is gone');
  await row(dave, 'meet at 4 in room B').locator('.edited', { hasText: 'edited' }).waitFor();
  await row(alice, 'meet at 4 in room B').locator('.edited', { hasText: 'edited' }).waitFor();
  await screenshot(dave, 'message-edited');

  // Dave is away: his connection is cut and held down while alice edits again.
  away = true;
  for (const ws of sockets.splice(0)) await ws.close({ code: 1012, reason: 'test: dave is away' });
  await dave.getByRole('status').filter({ hasText: /Reconnecting|Connecting/ }).waitFor({ timeout: 10_000 });
  await edit(alice, 'meet at 4 in room B', 'meet at 5 in room C');
  await dave.waitForTimeout(500);
  assert.equal(count(await waitForMessages(dave, () => true), 'meet at 4 in room B'), 1, 'nothing reached dave while away');

  // Back: the reconnect's sync brings the edit (its push was never delivered), once.
  away = false;
  const back = await waitForMessages(dave, (t) => count(t, 'meet at 5 in room C') === 1, 30_000, 'the edit made while away, from sync');
  assert.equal(count(back, 'meet at 4 in room B'), 0);
  await row(dave, 'meet at 5 in room C').locator('.edited').waitFor();
  // And the room still works both ways.
  await send(dave, 'see you in C');
  await waitForMessages(alice, (t) => count(t, 'see you in C') === 1);
  await alice.context().close();
  await daveContext.close();
});

test('reactions: one click reacts, the other member sees the count live, a second click takes it back', async () => {
  const alice = await (await newPerson(chrome.browser, cluster)).newPage();
  const dave = await (await newPerson(chrome.browser, cluster)).newPage();
  await signIn(alice, 'alice');
  await signIn(dave, 'dave');
  await openRoom(alice, 'General');
  await openRoom(dave, 'General');
  await send(dave, 'the build is green');
  await waitForMessages(alice, (t) => count(t, 'the build is green') === 1);

  // Alice reacts with 🎉 from the offered emoji; dave sees the chip with 1, not pressed (it is not his).
  await row(alice, 'the build is green').getByRole('button', { name: 'React', exact: true }).click();
  await row(alice, 'the build is green').getByRole('button', { name: 'React with 🎉' }).click();
  const alicesChip = row(alice, 'the build is green').locator('button.reaction', { hasText: '🎉' });
  await alicesChip.filter({ hasText: '1' }).waitFor();
  assert.equal(await alicesChip.getAttribute('aria-pressed'), 'true');
  const davesChip = row(dave, 'the build is green').locator('button.reaction', { hasText: '🎉' });
  await davesChip.filter({ hasText: '1' }).waitFor({ timeout: 10_000 });
  assert.equal(await davesChip.getAttribute('aria-pressed'), 'false');

  // Dave joins in by clicking the chip: 2 on both screens; hovering names who reacted.
  await davesChip.click();
  await alicesChip.filter({ hasText: '2' }).waitFor({ timeout: 10_000 });
  await davesChip.filter({ hasText: '2' }).waitFor();
  assert.equal(await davesChip.getAttribute('aria-pressed'), 'true');
  await alicesChip.hover();
  await alice.waitForFunction(() => document.querySelector('button.reaction.mine')?.getAttribute('title')?.includes('dave'), null, { timeout: 5_000 });
  assert.equal(await alicesChip.getAttribute('title'), 'alice, dave');
  await screenshot(alice, 'reactions');

  // Alice takes hers back: 1 again at dave's, her chip no longer pressed; after a reload the state is the same.
  await alicesChip.click();
  await davesChip.filter({ hasText: '1' }).waitFor({ timeout: 10_000 });
  assert.equal(await alicesChip.getAttribute('aria-pressed'), 'false');
  await alice.reload();
  await alice.locator('#room-title', { hasText: 'General' }).waitFor();
  await alice.locator('.history-edge').waitFor();
  const reloaded = row(alice, 'the build is green').locator('button.reaction', { hasText: '🎉' });
  await reloaded.filter({ hasText: '1' }).waitFor();
  assert.equal(await reloaded.getAttribute('aria-pressed'), 'false');
  await alice.context().close();
  await dave.context().close();
});
