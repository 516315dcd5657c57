// Client message ids: UUIDv7 in 32 lowercase hex digits, as docs/protocol.md §6.4 recommends (time-ordered, unique).

/** A fresh client_msg_id. */
export function newClientMsgId(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // RFC 4122 variant
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
