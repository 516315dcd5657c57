// Keeping messages in the browser (issue 18) against a real local cluster: a pin made by dave shows live in alice's
// pinned bar (they are on different nodes) and goes away when unpinned; a saved message is on the Saved screen;
// "Clear chat" asks first, then empties the chat for alice only, also after a reload, while dave keeps his; "Search"
// finds a text in all of alice's chats (Korean and English, by sender) and opens the chat of a result; a channel
// alice opens to the company is in dave's channel directory, and he joins it and talks.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, newPerson, openRoom, send, signIn, startCluster, stopCluster, waitForMessages } from './harness.mjs';

let cluster;
let chrome;

before(async () => {
  cluster = startCluster();
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  if (cluster !== undefined) stopCluster(cluster.stateDir);
});

const once = (texts, text) => texts.filter((t) => t === text).length === 1;
const row = (page, text) => page.locator('article.message', { hasText: text }).first();

test('pin, save and clear chat', async () => {
  assert.notEqual(cluster.NODE_OF_ALICE, cluster.NODE_OF_DAVE, 'alice and dave are on different nodes');
  const alice = await (await newPerson(chrome.browser, cluster)).newPage();
  const dave = await (await newPerson(chrome.browser, cluster)).newPage();
  await signIn(alice, 'alice');
  await signIn(dave, 'dave');
  await openRoom(alice, 'General');
  await openRoom(dave, 'General');
  await send(alice, 'the agenda for friday');
  await send(alice, 'see you there');
  await waitForMessages(dave, (t) => once(t, 'the agenda for friday') && once(t, 'see you there'));

  // Dave pins; alice sees the bar and the system line live.
  await row(dave, 'the agenda for friday').getByRole('button', { name: 'Pin' }).click();
  const bar = alice.locator('.pinned-bar');
  await bar.getByText('1 pinned').waitFor();
  await bar.getByText('the agenda for friday').waitFor();
  await alice.locator('.message.system', { hasText: 'dave pinned a message' }).waitFor();
  // Alice opens the list and unpins; the bar goes at dave's too.
  await bar.getByRole('button', { name: /1 pinned/ }).click();
  await bar.getByRole('button', { name: 'Unpin' }).click();
  await dave.locator('.message.system', { hasText: 'alice unpinned a message' }).waitFor();
  await dave.locator('.pinned-bar').waitFor({ state: 'detached' });

  // Alice saves a message: it is on her Saved screen.
  await row(alice, 'see you there').getByRole('button', { name: /Save/ }).click();
  await row(alice, 'see you there').getByRole('button', { name: /Unsave/ }).waitFor();
  await alice.locator('.sidebar-header').getByRole('button', { name: 'Saved' }).click();
  await alice.locator('.saved-item', { hasText: 'see you there' }).waitFor();
  await alice.locator('.saved-item').getByRole('button', { name: 'Open chat' }).click();
  await alice.locator('#room-title', { hasText: 'General' }).waitFor();
  await waitForMessages(alice, (t) => once(t, 'see you there'));

  // Clear chat asks first; cancelling keeps everything.
  await alice.getByRole('button', { name: 'Clear chat' }).click();
  const question = alice.getByRole('alertdialog', { name: 'Clear chat' });
  await question.getByRole('button', { name: 'Cancel' }).click();
  await waitForMessages(alice, (t) => once(t, 'see you there'));
  await alice.getByRole('button', { name: 'Clear chat' }).click();
  await question.getByRole('button', { name: 'Clear chat' }).click();
  await waitForMessages(alice, (t) => t.length === 0, 20_000, 'an empty chat at alice');
  // Dave keeps his; after a reload alice's chat is still empty, and new messages show.
  await alice.waitForTimeout(500);
  await waitForMessages(dave, (t) => once(t, 'the agenda for friday') && once(t, 'see you there'));
  await alice.reload();
  await alice.locator('#room-title', { hasText: 'General' }).waitFor();
  await alice.locator('.history-edge').waitFor();
  await send(dave, 'after the clear');
  await waitForMessages(alice, (t) => t.length === 1 && t[0] === 'after the clear', 20_000, 'only the new message at alice');
  await alice.context().close();
  await dave.context().close();
});

test('search all chats: Korean and English, across rooms, with the sender filter, and open the chat', async () => {
  const alice = await (await newPerson(chrome.browser, cluster)).newPage();
  const dave = await (await newPerson(chrome.browser, cluster)).newPage();
  await signIn(alice, 'alice');
  await signIn(dave, 'dave');
  await openRoom(dave, 'General');
  await send(dave, '금요일 회의 자료는 공유 폴더에 있어요');
  await send(dave, 'Quarterly planning MEETING moved to 3pm');
  await openRoom(alice, 'General');
  await waitForMessages(alice, (t) => t.includes('Quarterly planning MEETING moved to 3pm'));

  await alice.locator('.sidebar-header').getByRole('button', { name: 'Search all chats' }).click();
  const form = alice.locator('.search-all-form');
  const results = alice.getByRole('list', { name: 'Search results' });
  const search = async (text, from = '') => {
    await form.getByRole('textbox', { name: 'Search all chats' }).fill(text);
    await form.getByRole('textbox', { name: 'From (user ID)' }).fill(from);
    await form.getByRole('button', { name: 'Search' }).click();
  };
  await search('회의');
  await results.locator('.saved-item', { hasText: '금요일 회의 자료' }).waitFor();
  assert.equal(await results.locator('.saved-item mark').first().textContent(), '회의', 'the match is marked');
  assert.match(await results.locator('.saved-item').first().textContent(), /General/, 'each result names its chat');
  await search('meeting');
  await results.locator('.saved-item', { hasText: 'Quarterly planning' }).waitFor();
  assert.equal(await results.locator('.saved-item').count(), 1);
  // Only alice's own messages: dave wrote these, so nothing is found.
  await search('meeting', 'alice');
  await alice.locator('.search-screen .empty', { hasText: 'No results' }).waitFor();
  await search('meeting', 'dave');
  await results.locator('.saved-item', { hasText: 'Quarterly planning' }).getByRole('button', { name: 'Open chat' }).click();
  await alice.locator('#room-title', { hasText: 'General' }).waitFor();
  await alice.context().close();
  await dave.context().close();
});

test('channels: alice opens one to the company, dave finds it in the directory, joins and talks', async () => {
  const alice = await (await newPerson(chrome.browser, cluster)).newPage();
  const dave = await (await newPerson(chrome.browser, cluster)).newPage();
  await signIn(alice, 'alice');
  await signIn(dave, 'dave');
  await alice.locator('.sidebar-header').getByRole('button', { name: 'Channels' }).click();
  const form = alice.getByRole('form', { name: 'New channel' });
  await form.getByRole('textbox', { name: 'Channel name' }).fill('Design reviews');
  await form.getByRole('button', { name: 'Create channel' }).click();
  await alice.locator('#room-title', { hasText: 'Design reviews' }).waitFor();

  await dave.locator('.sidebar-header').getByRole('button', { name: 'Channels' }).click();
  await dave.getByRole('textbox', { name: 'Find a channel' }).fill('design');
  await dave.locator('.channel-search').getByRole('button', { name: 'Search' }).click();
  const entry = dave.getByRole('list', { name: 'Channel directory' }).locator('.channel-item', { hasText: 'Design reviews' });
  await entry.getByText('1 members').waitFor();
  await entry.getByRole('button', { name: 'Join' }).click();
  await dave.locator('#room-title', { hasText: 'Design reviews' }).waitFor();
  await alice.locator('.message.system', { hasText: 'dave joined' }).waitFor();
  await send(dave, 'happy to review');
  await waitForMessages(alice, (t) => t.includes('happy to review'));
  // The channel is in dave's room list now, and the directory says he joined.
  await dave.locator('.sidebar').getByText('Design reviews').first().waitFor();
  await dave.locator('.sidebar-header').getByRole('button', { name: 'Channels' }).click();
  await dave.locator('.channel-item', { hasText: 'Design reviews' }).getByRole('button', { name: 'Open chat' }).waitFor();
  await alice.context().close();
  await dave.context().close();
});
