// The seam between the chat logic (client.ts) and whoever holds the WebSocket: this tab (socket-session.ts) or the
// leader tab over a BroadcastChannel (tabs.ts). The chat logic sees the same requests, pushes and state either way.

import type { EndReason } from './close-codes.js';
import type { RawPush } from './connection.js';

/** The connection as the app sees it. */
export type ConnectionState =
  /** Opening the first connection (or after `useHere`). */
  | { status: 'connecting'; since: number }
  /** Connected and confirmed; `connectionId` changes with every new socket (the chat logic syncs on each). */
  | { status: 'online'; since: number; connectionId: string }
  /** The connection was lost at `since` and is being re-established; show "reconnecting…" once it lasts 2 s. */
  | { status: 'reconnecting'; since: number; attempt: number; lastCloseCode: number | null }
  /** Over for good: show the reason and wait for the user (log in again, or `useHere` for evicted/already_running). */
  | { status: 'ended'; since: number; reason: EndReason; closeCode: number | null; message: string };

/** What a transport reports. */
export interface TransportListener {
  push(push: RawPush): void;
  state(state: ConnectionState): void;
}

/** Requests, pushes and state, wherever the socket is. */
export interface Transport {
  /** The state now. */
  readonly state: ConnectionState;
  /** True when this tab holds the WebSocket (and therefore sends the outbox). */
  readonly holdsConnection: boolean;
  /** Sends a request; waits for `online` (up to the timeout) when the connection is being re-established. */
  request(op: string, args: unknown, timeoutMs?: number): Promise<unknown>;
  /** Registers a listener; returns its removal. */
  subscribe(listener: TransportListener): () => void;
  /** Starts connecting. */
  start(): void;
  /** After `ended` with `evicted` or `already_running`: connect again with launch=manual ("use the messenger here"). */
  useHere(): void;
  /** Stops for good (tab closing, logout done); releases the socket to another tab. */
  close(): void;
}
