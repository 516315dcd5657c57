import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Message, SendjayClient } from '@sendjay/client';
import { FileError, fileInfoOf } from '@sendjay/client';
import { t } from '../i18n.ts';
import { messagePreview } from '../message-text.ts';
import { roomName } from '../room-name.ts';
import { useClientEvent } from '../use-client.ts';
import { closeRoomNotifications } from '../web-push.ts';
import { Composer } from './Composer.tsx';
import { MessageList, type RowActions } from './MessageList.tsx';
import { ClearChatButton } from './ClearChatButton.tsx';
import { ForwardPicker } from './ForwardPicker.tsx';
import { PinnedBar } from './PinnedBar.tsx';
import { PendingMessage } from './PendingMessage.tsx';
import { PresenceDot } from './PresenceDot.tsx';
import { RoomInfoPanel } from './RoomInfoPanel.tsx';
import { RoomSearch } from './RoomSearch.tsx';
import { RoomFilesPanel } from './RoomFilesPanel.tsx';
import { TypingIndicator } from './TypingIndicator.tsx';
import { UploadList, type Upload } from './UploadList.tsx';

/** Ids of the uploads on screen. */
let nextUploadId = 1;

/**
 * One room: header (name, mute, new window), the message list, unsent messages and the composer. The room is opened
 * (and so marked read, §6.10) only while the window is visible, and new messages are marked read only while it is
 * visible and focused.
 */
export function RoomView(props: { client: SendjayClient; roomId: number; watching: boolean; popup: boolean; onBack: () => void }) {
  const { client, roomId, watching } = props;
  const [opened, setOpened] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [quote, setQuote] = useState<Message | null>(null);
  const [unreadOf, setUnreadOf] = useState<{ seq: number; users: string[] } | null>(null);
  const [panel, setPanel] = useState<'none' | 'info' | 'search' | 'files'>('none');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [forwarding, setForwarding] = useState<Message | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useClientEvent(client, 'room', (p) => p.roomId === roomId);
  useClientEvent(client, 'rooms');
  useClientEvent(client, 'outbox');
  useClientEvent(client, 'pins', (p) => p.roomId === roomId);
  useClientEvent(client, 'saved', (p) => p.roomId === roomId);
  const online = client.state.status === 'online';

  useEffect(() => {
    setOpened(false);
    setQuote(null);
    setUnreadOf(null);
    setForwarding(null);
    setNotice(null);
    let cancelled = false;
    const open = () => {
      if (document.visibilityState !== 'visible' || cancelled) return;
      document.removeEventListener('visibilitychange', open);
      client.openRoom(roomId).then(
        () => {
          void closeRoomNotifications(roomId).catch(() => undefined); // opening marks the room read (§6.10)
          if (!cancelled) setOpened(true);
          void client.loadPins(roomId).catch(() => undefined); // then they follow the room's pin messages
        },
        (e: unknown) => !cancelled && setError(e instanceof Error ? e.message : String(e)),
      );
    };
    document.addEventListener('visibilitychange', open);
    open();
    return () => {
      cancelled = true;
      document.removeEventListener('visibilitychange', open);
      client.closeRoom(roomId);
    };
  }, [client, roomId]);

  const room = client.room(roomId);
  const unread = room?.unread ?? 0;
  useEffect(() => {
    if (opened && watching && online && unread > 0)
      void client
        .markRead(roomId)
        .then(() => closeRoomNotifications(roomId))
        .catch(() => undefined);
  }, [opened, watching, online, unread, roomId]);

  const held = client.messages(roomId); // the same array until the room changes
  const messages = useMemo(() => held.filter((m) => !m.hidden), [held]);
  const pending = client.outbox(roomId);
  const name = roomName(room);

  // Upload each file (progress shown), then send it as an image or a file; failures stay listed with their reason.
  // One upload at a time, in the order chosen: the messages keep that order, and the node is not flooded.
  const attach = (files: File[]) => {
    let chain: Promise<unknown> = Promise.resolve();
    for (const f of files) {
      const id = nextUploadId++;
      const update = (change: Partial<Upload>) => setUploads((list) => list.map((u) => (u.id === id ? { ...u, ...change } : u)));
      setUploads((list) => [...list, { id, name: f.name, sent: 0, total: f.size, error: null }]);
      chain = chain.then(() => client.files.upload(roomId, f, f.name === '' ? 'pasted.png' : f.name, (sent, total) => update({ sent, total }))).then(
        (stored) => {
          setUploads((list) => list.filter((u) => u.id !== id));
          const info = fileInfoOf(stored);
          const kind = info.width != null ? 'image' : 'file';
          return client.send(roomId, '', { kind, file: info });
        },
        (e: unknown) => update({ error: t.uploadError(e instanceof FileError ? e.code : 'network') }),
      ).catch((e: unknown) => setError(String(e)));
    }
  };

  const actions: RowActions = {
    selfId: client.userId,
    client,
    unreadOf: (seq) => client.unreadCount(roomId, seq),
    onReply: (m) => setQuote(m),
    onRevoke: (m) => void client.request('revoke', { room_id: roomId, seq: m.seq }).catch((e: unknown) => setError(String(e))),
    onReact: (m, emoji, on) => void client.react(roomId, m.seq, emoji, on).catch((e: unknown) => setError(String(e))),
    whoReacted: async (m, emoji) => {
      const { userIds, count } = await client.reactors(roomId, m.seq, emoji);
      return t.whoReacted(userIds.slice(0, 20), count - Math.min(count, 20));
    },
    onEdit: async (m, body) => {
      await client.editMessage(roomId, m.seq, body);
    },
    onDelete: (m) => void client.request('delete_for_me', { room_id: roomId, seq: m.seq }).catch((e: unknown) => setError(String(e))),
    onForward: (m) => {
      setNotice(null);
      setForwarding(m);
    },
    isSaved: (m) => client.isSaved(roomId, m.seq),
    onToggleSave: (m) =>
      void (client.isSaved(roomId, m.seq) ? client.unsaveMessage(roomId, m.seq) : client.saveMessage(roomId, m.seq)).catch((e: unknown) =>
        setError(String(e)),
      ),
    isPinned: (m) => (client.pins(roomId) ?? []).some((p) => p.message.seq === m.seq),
    onTogglePin: (m) => {
      const pinned = (client.pins(roomId) ?? []).some((p) => p.message.seq === m.seq);
      void (pinned ? client.unpinMessage(roomId, m.seq) : client.pinMessage(roomId, m.seq)).catch((e: unknown) => setError(String(e)));
    },
    onShowUnread: (m) =>
      void client
        .request('unread_members', { room_id: roomId, seq: m.seq })
        .then((r) => setUnreadOf({ seq: m.seq, users: r.user_ids }), (e: unknown) => setError(String(e))),
  };

  const toggleMute = () =>
    void client
      .request('set_room_prefs', { room_id: roomId, notifications: !(room?.notifications ?? true) })
      .catch((e: unknown) => setError(String(e)));

  const openWindow = () => {
    window.open(`/rooms/${roomId}?popup=1`, `sendjay-room-${roomId}`, 'width=480,height=720');
  };

  return (
    <section class="room-view" aria-labelledby="room-title">
      <header class="room-header">
        {!props.popup && (
          <button type="button" class="link back" onClick={props.onBack} aria-label={t.back}>
            ←
          </button>
        )}
        <h2 id="room-title">{name}</h2>
        {room !== undefined && room.kind === 'direct' && room.peer_id !== null && <PresenceDot client={client} userId={room.peer_id} />}
        {room !== undefined && room.kind === 'group' && <span class="member-count">{t.members(room.member_count)}</span>}
        <span class="spacer" />
        <button type="button" class="link" aria-pressed={room?.notifications === false} onClick={toggleMute}>
          {room?.notifications === false ? t.unmute : t.mute}
        </button>
        <button type="button" class="link" aria-expanded={panel === 'search'} onClick={() => setPanel(panel === 'search' ? 'none' : 'search')}>
          {t.search}
        </button>
        <button type="button" class="link" aria-expanded={panel === 'files'} onClick={() => setPanel(panel === 'files' ? 'none' : 'files')}>
          {t.files}
        </button>
        <ClearChatButton onClear={() => void client.clearRoom(roomId).catch((e: unknown) => setError(String(e)))} />
        <button type="button" class="link" aria-expanded={panel === 'info'} onClick={() => setPanel(panel === 'info' ? 'none' : 'info')}>
          {t.roomInfo}
        </button>
        {!props.popup && (
          <button type="button" class="link" onClick={openWindow}>
            {t.openInNewWindow}
          </button>
        )}
      </header>
      {error !== null && (
        <p class="error" role="alert">
          {error}{' '}
          <button type="button" class="link" onClick={() => setError(null)}>
            {t.close}
          </button>
        </p>
      )}
      {notice !== null && (
        <p class="notice" role="status">
          {notice}{' '}
          <button type="button" class="link" onClick={() => setNotice(null)}>
            {t.close}
          </button>
        </p>
      )}
      {forwarding !== null && (
        <ForwardPicker
          client={client}
          roomId={roomId}
          message={forwarding}
          onClose={() => setForwarding(null)}
          onDone={(text) => {
            setForwarding(null);
            setNotice(text);
          }}
        />
      )}
      {panel === 'search' && <RoomSearch client={client} roomId={roomId} onClose={() => setPanel('none')} />}
      {panel === 'files' && <RoomFilesPanel client={client} roomId={roomId} onClose={() => setPanel('none')} />}
      {panel === 'info' && room !== undefined && (
        <RoomInfoPanel client={client} room={room} onClose={() => setPanel('none')} onLeft={props.onBack} />
      )}
      {unreadOf !== null && (
        <div class="unread-members" role="dialog" aria-label={t.notReadByLabel(unreadOf.users.length)}>
          <p>
            {t.notReadByLabel(unreadOf.users.length)}: {unreadOf.users.join(', ')}
          </p>
          <button type="button" class="link" onClick={() => setUnreadOf(null)}>
            {t.close}
          </button>
        </div>
      )}
      <PinnedBar client={client} roomId={roomId} onError={setError} />
      <MessageList
        messages={messages}
        hasOlder={opened && client.hasOlder(roomId)}
        onLoadOlder={() => client.loadOlder(roomId).then(() => undefined)}
        actions={actions}
        label={name}
      >
        {pending.length > 0 && (
          <ul class="pending-list">
            {pending.map((entry) => (
              <PendingMessage
                key={entry.client_msg_id}
                entry={entry}
                onRetry={() => void client.retry(entry.client_msg_id)}
                onDiscard={() => void client.discard(entry.client_msg_id)}
              />
            ))}
          </ul>
        )}
      </MessageList>
      <UploadList uploads={uploads} onDismiss={(id) => setUploads((list) => list.filter((u) => u.id !== id))} />
      <TypingIndicator client={client} roomId={roomId} />
      <Composer
        quote={quote === null ? null : `${t.replyingTo(quote.sender_id)}: ${messagePreview(quote)}`}
        onCancelQuote={() => setQuote(null)}
        onSend={(body) => {
          const extras = quote === null ? {} : { reply_to: quote.seq };
          setQuote(null);
          void client.send(roomId, body, extras).catch((e: unknown) => setError(String(e)));
        }}
        onFiles={attach}
        onTyping={() => void client.typing(roomId).catch(() => undefined)}
      />
    </section>
  );
}
