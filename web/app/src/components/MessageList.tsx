import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Message, SendjayClient } from '@sendjay/client';
import { t } from '../i18n.ts';
import { MessageRow } from './MessageRow.tsx';

/** Height assumed for a row not measured yet. */
const ESTIMATED_ROW_PX = 64;
/** Rows rendered above and below the viewport, in pixels. */
const OVERSCAN_PX = 600;
/** Closer than this to the top loads older messages. */
const LOAD_OLDER_PX = 400;

/** What a row needs besides its message. */
export interface RowActions {
  selfId: string;
  /** The client, for the signed URLs and downloads of files in messages. */
  client: SendjayClient;
  unreadOf: (seq: number) => number | undefined;
  onReply: (m: Message) => void;
  onRevoke: (m: Message) => void;
  /** Edits the user's own message; rejects with the server's error (shown in the editor). */
  onEdit: (m: Message, body: string) => Promise<void>;
  /** Adds (`on`) or takes back the user's reaction, and names who reacted with an emoji. */
  onReact: (m: Message, emoji: string, on: boolean) => void;
  whoReacted: (m: Message, emoji: string) => Promise<string>;
  onDelete: (m: Message) => void;
  onForward: (m: Message) => void;
  onShowUnread: (m: Message) => void;
  /** Whether the user saved the message (the star), and saving or unsaving it. */
  isSaved: (m: Message) => boolean;
  onToggleSave: (m: Message) => void;
  /** Whether the message is pinned in the room, and pinning or unpinning it. */
  isPinned: (m: Message) => boolean;
  onTogglePin: (m: Message) => void;
}

/**
 * The room's messages, virtualised: only the rows in (and near) the viewport are in the DOM, positioned from
 * measured heights, so a room with 100 000 messages costs as much as one screen. It sticks to the bottom while the
 * user is there, keeps the row under the top edge still when older pages arrive, and asks for older messages when
 * scrolled near the top.
 */
export function MessageList(props: {
  messages: Message[];
  hasOlder: boolean;
  onLoadOlder: () => Promise<void>;
  actions: RowActions;
  label: string;
  children?: ComponentChildren;
}) {
  const { messages } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<number, number>());
  const atBottom = useRef(true);
  const anchor = useRef<{ seq: number; delta: number } | null>(null);
  const loading = useRef(false);
  const [version, setVersion] = useState(0);
  const [view, setView] = useState({ top: 0, height: 600 });

  // Row offsets: recomputed only when the messages or a measured height change, not on every scroll frame.
  const { tops, total, indexOf } = useMemo(() => {
    const tops = new Array<number>(messages.length);
    const indexOf = new Map<number, number>();
    let total = 0;
    for (let i = 0; i < messages.length; i++) {
      tops[i] = total;
      indexOf.set(messages[i]!.seq, i);
      total += heights.current.get(messages[i]!.seq) ?? ESTIMATED_ROW_PX;
    }
    return { tops, total, indexOf };
  }, [messages, version]);
  const first = Math.max(0, lowerBound(tops, view.top - OVERSCAN_PX) - 1);
  const last = Math.min(messages.length, lowerBound(tops, view.top + view.height + OVERSCAN_PX) + 1);

  const onScroll = () => {
    const el = scroller.current;
    if (el === null) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    const i = Math.max(0, lowerBound(tops, el.scrollTop) - 1);
    const m = messages[i];
    anchor.current = m === undefined ? null : { seq: m.seq, delta: el.scrollTop - tops[i]! };
    setView({ top: el.scrollTop, height: el.clientHeight });
    if (el.scrollTop < LOAD_OLDER_PX && props.hasOlder && !loading.current) {
      loading.current = true;
      props.onLoadOlder().finally(() => {
        loading.current = false;
      });
    }
  };

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    let changed = false;
    for (const row of el.querySelectorAll<HTMLElement>('[data-seq]')) {
      const seq = Number(row.dataset['seq']);
      const h = row.offsetHeight;
      if (h > 0 && heights.current.get(seq) !== h) {
        heights.current.set(seq, h);
        changed = true;
      }
    }
    if (changed) {
      setVersion((v) => v + 1);
      return;
    }
    if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else if (anchor.current !== null) {
      const i = indexOf.get(anchor.current.seq);
      if (i !== undefined) {
        const want = tops[i]! + anchor.current.delta;
        if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want;
      }
    }
    if (el.clientHeight !== view.height) setView({ top: el.scrollTop, height: el.clientHeight });
  });

  const rows = [];
  for (let i = first; i < last; i++) {
    const m = messages[i]!;
    const previous = messages[i - 1];
    rows.push(
      <div key={m.seq} class="row" data-seq={m.seq} style={{ top: `${tops[i]}px` }}>
        <MessageRow message={m} showSender={previous?.sender_id !== m.sender_id || previous.kind === 'system'} actions={props.actions} />
      </div>,
    );
  }

  return (
    <div class="message-scroller" ref={scroller} onScroll={onScroll} role="log" aria-label={props.label} tabIndex={0}>
      <p class="history-edge">{props.hasOlder ? t.loadingOlder : messages.length === 0 ? t.noMessagesYet : t.beginning}</p>
      <div class="rows" style={{ height: `${total}px` }}>
        {rows}
      </div>
      {props.children}
    </div>
  );
}

/** The first index whose value is ≥ x (values ascending). */
function lowerBound(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
