// Node 18 (Debian 12's nodejs) has no global Web Crypto; browsers and Node 20 do. The client uses
// crypto.getRandomValues for client_msg_ids.
import { webcrypto } from 'node:crypto';

if (globalThis.crypto === undefined) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto });
}
