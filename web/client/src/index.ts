// @sendjay/client — the sendjay wire protocol for browsers (and Node tests). See README.md for the API.

export { SendjayClient } from './client.js';
export type { ClientEvents, ClientOptions, ReadEvent, TypingEvent } from './client.js';
export { FileError, FilesApi, fileInfoOf, httpBase } from './files.js';
export type { FileErrorCode, FilesApiOptions, StoredFile, UploadProgress } from './files.js';
export { Credentials, fixedToken, RENEW_MARGIN_MS } from './credentials.js';
export type { TokenSource } from './credentials.js';
export { RouterApi } from './router.js';
export type { FetchLike, RouterOptions } from './router.js';
export type { ConnectionState } from './transport.js';
export type { Transport, TransportListener } from './transport.js';
export { decideOnClose, backoffDelayMs } from './close-codes.js';
export type { CloseDecision, EndReason } from './close-codes.js';
export { Connection, CLOSE_ABNORMAL, CLOSE_HEARTBEAT_LOST, CLOSE_PROTOCOL_VIOLATION } from './connection.js';
export type { ConnectionOptions, RawPush, WebSocketConstructor, WebSocketLike } from './connection.js';
export { SocketSession } from './socket-session.js';
export type { SocketSessionOptions } from './socket-session.js';
export { TabCoordinator } from './tabs.js';
export { documentVisibility, ForegroundReport, ForegroundUnion } from './foreground-report.js';
export type { ForegroundHost, VisibilitySource } from './foreground-report.js';
export { pushAction, roomTag, webPushKeyBytes } from './push-payload.js';
export type { PushAction, PushTexts } from './push-payload.js';
export type { BroadcastChannelLike, LockManagerLike, TabOptions } from './tabs.js';
export { IndexedDbOutboxStore, MemoryOutboxStore } from './outbox-store.js';
export type { OutboxEntry, OutboxStatus, OutboxStore } from './outbox-store.js';
export { RoomTimeline } from './room-timeline.js';
export { PinBoard } from './pins.js';
export type { PinChange } from './pins.js';
export type { StoreOutcome } from './room-timeline.js';
export { decodeFrame, encodeRequest } from './codec.js';
export { newClientMsgId } from './ids.js';
export {
  ConnectionClosedError,
  ProtocolError,
  RequestTimeoutError,
  RouterError,
  ServerError,
  SessionEndedError,
} from './errors.js';
export { RETRYABLE_CODES } from './protocol.js';
export type * from './protocol.js';
