// The MessagePack codec of the wire (docs/protocol.md §4): one map per binary message, str keys.
//
// int64 decision: frames are decoded with `useBigInt64: false`, so every integer is a JavaScript number. That is
// exact because the server's integers stay below 2^53: room ids are PostgreSQL identity columns counting from 1,
// seqs count from 1 per room, timestamps are Unix milliseconds (~1.7e12) and file sizes are capped at 10 GiB
// (migrations/0001_init.sql, common/src/protocol.rs). A decoded integer that is NOT a safe integer would have been
// rounded: it is refused with a ProtocolError instead of being passed on silently.

import { decode, encode } from '@msgpack/msgpack';
import { ProtocolError } from './errors.js';
import type { RequestFrame, ServerFrame } from './protocol.js';

/** Encodes one request frame; keys whose value is `undefined` are left out. */
export function encodeRequest(frame: RequestFrame): Uint8Array {
  checkSafe(frame, 'request');
  return encode(frame, { ignoreUndefined: true });
}

/** Decodes one server frame, checking its head and that every integer is exact. */
export function decodeFrame(data: ArrayBuffer | Uint8Array): ServerFrame {
  let value: unknown;
  try {
    value = decode(data, { useBigInt64: false });
  } catch (e) {
    throw new ProtocolError(`undecodable MessagePack frame from the node: ${(e as Error).message}`);
  }
  checkSafe(value, 'frame');
  if (!isRecord(value)) throw new ProtocolError('a server frame is not a map');
  const kind = value['kind'];
  if (kind === 'reply') {
    if (typeof value['id'] !== 'number' || !isRecord(value['result']) || typeof value['result']['op'] !== 'string') {
      throw new ProtocolError('a reply frame lacks an int id or a result map with an op');
    }
    return value as ServerFrame;
  }
  if (kind === 'error') {
    const id = value['id'] ?? null;
    if ((id !== null && typeof id !== 'number') || typeof value['code'] !== 'string') {
      throw new ProtocolError('an error frame lacks a code or has a non-integer id');
    }
    const message = value['message'];
    return { kind: 'error', id, code: value['code'], message: typeof message === 'string' ? message : '' };
  }
  if (kind === 'push') {
    const push = value['push'];
    if (!isRecord(push) || typeof push['event'] !== 'string') throw new ProtocolError('a push frame lacks push.event');
    return value as ServerFrame;
  }
  throw new ProtocolError(`unknown frame kind ${JSON.stringify(kind)}`);
}

/** True for a plain object (a decoded MessagePack map). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function checkSafe(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      throw new ProtocolError(`${path} = ${value} is beyond 2^53 and cannot be held exactly (see the int64 decision in web/client/README.md)`);
    }
    return;
  }
  if (typeof value === 'bigint') throw new ProtocolError(`${path} is a bigint: the client uses numbers below 2^53`);
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkSafe(v, `${path}[${i}]`));
    return;
  }
  if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) checkSafe(v, `${path}.${k}`);
  }
}
