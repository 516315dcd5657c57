import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeRequest } from '../src/codec.js';
import { ProtocolError } from '../src/errors.js';
import { msg } from './support/messages.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('codec', () => {
  it('encodes the ping request of protocol §4.1 byte for byte', () => {
    expect(hex(encodeRequest({ id: 1, op: 'ping' }))).toBe('82a2696401a26f70a470696e67');
  });

  it('encodes the send request of §4.1 byte for byte and leaves out undefined keys', () => {
    const bytes = encodeRequest({ id: 2, op: 'send', args: { room_id: 7, client_msg_id: 'c-1', body: 'hi', reply_to: undefined } });
    expect(hex(bytes)).toBe(
      '83a2696402a26f70a473656e64a46172677383a7726f6f6d5f696407ad636c69656e745f6d73675f6964a3632d31a4626f6479a26869',
    );
  });

  it('decodes the ping reply of §4.1 (uint64 timestamp) to numbers', () => {
    const bytes = Buffer.from('83a46b696e64a57265706c79a2696401a6726573756c7482a26f70a470696e67ae7365727665725f74696d655f6d73cf0000018bcfe56800', 'hex');
    expect(decodeFrame(bytes)).toEqual({ kind: 'reply', id: 1, result: { op: 'ping', server_time_ms: 1700000000000 } });
  });

  it('round-trips a message push with every kind of field', () => {
    const push = {
      kind: 'push',
      push: {
        event: 'message',
        message: msg(2 ** 53 - 1, 4_294_967_296, { sender_id: '사용자', body: '안녕 hello', created_at_ms: -5 }),
      },
    };
    expect(decodeFrame(encode(push))).toEqual(push);
  });

  it('refuses an integer at or beyond 2^53 instead of rounding it', () => {
    const frame = encode({ kind: 'reply', id: 3, result: { op: 'history', room_id: 2n ** 53n } }, { useBigInt64: true });
    expect(() => decodeFrame(frame)).toThrow(ProtocolError);
    expect(() => decodeFrame(frame)).toThrow(/beyond 2\^53/);
    const negative = encode({ kind: 'push', push: { event: 'read', last_read_seq: -(2n ** 60n) } }, { useBigInt64: true });
    expect(() => decodeFrame(negative)).toThrow(ProtocolError);
  });

  it('refuses to encode a request with an unsafe integer', () => {
    expect(() => encodeRequest({ id: 1, op: 'history', args: { room_id: 2 ** 53 + 2 } })).toThrow(ProtocolError);
  });

  it('decodes an error with nil id and treats a missing id as nil', () => {
    expect(decodeFrame(encode({ kind: 'error', id: null, code: 'bad_frame', message: 'm' }))).toEqual({ kind: 'error', id: null, code: 'bad_frame', message: 'm' });
    expect(decodeFrame(encode({ kind: 'error', code: 'frame_too_large', message: 'm' }))).toMatchObject({ id: null, code: 'frame_too_large' });
  });

  it('refuses frames that are not protocol maps', () => {
    expect(() => decodeFrame(encode([1, 2]))).toThrow(ProtocolError);
    expect(() => decodeFrame(encode({ kind: 'reply', id: 1 }))).toThrow(/result/);
    expect(() => decodeFrame(encode({ kind: 'push', push: {} }))).toThrow(/event/);
    expect(() => decodeFrame(encode({ kind: 'other' }))).toThrow(/unknown frame kind/);
    expect(() => decodeFrame(new Uint8Array([0xc1]))).toThrow(ProtocolError);
  });
});
