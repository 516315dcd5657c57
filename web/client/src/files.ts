// The node's file API (docs/protocol.md §19) for the screens: upload with progress, signed URLs for <img>, and
// downloads with the bearer token. Files travel over HTTP on a node's data port, never over the WebSocket; any
// node accepts the token (access is checked on every request), so the login's node is used and, when it cannot be
// reached, the router is asked for another one.

import type { FileInfo, NodeAddress } from './protocol.js';
import type { RouterApi } from './router.js';

/** The answer of an upload or of `GET /v1/files/{id}/info` (§19.1, §19.3). */
export interface StoredFile {
  file_id: string;
  name: string;
  size: number;
  mime: string;
  width: number | null;
  height: number | null;
  expires_at_ms: number;
  expired: boolean;
  created_at_ms: number;
  sha256: string;
  state: string;
  room_id: number;
  /** Signed download URL (absolute), valid until `urls_expire_at_ms`. */
  url: string;
  /** Signed thumbnail URL (absolute; images only). */
  thumbnail_url: string | null;
  urls_expire_at_ms: number;
}

/** The documented error codes of §19 (unknown ones kept as strings). */
export type FileErrorCode =
  | 'bad_args'
  | 'upload_incomplete'
  | 'unauthorized'
  | 'token_expired'
  | 'not_member'
  | 'forbidden'
  | 'too_large'
  | 'content_type_mismatch'
  | 'image_too_large'
  | 'bad_image'
  | 'storage_unavailable'
  | 'database_unavailable'
  | 'not_found'
  | 'file_expired'
  | 'network'
  | (string & {});

/** A refused or failed file request: `code` from the node's JSON error, `network` when no node answered. */
export class FileError extends Error {
  /** The §19 error code. */
  readonly code: FileErrorCode;
  /** The HTTP status (0 for network failures). */
  readonly status: number;
  constructor(code: FileErrorCode, status: number, message: string) {
    super(message);
    this.name = 'FileError';
    this.code = code;
    this.status = status;
  }
}

/** Options of a FilesApi. */
export interface FilesApiOptions {
  /** The session token now (a function, so a refreshed token is picked up). */
  token: () => string;
  /** The node to use first (the login's). */
  node: NodeAddress;
  /** Asked for another node when this one cannot be reached. */
  router: RouterApi;
}

/** Upload progress: bytes sent of the total. */
export type UploadProgress = (sent: number, total: number) => void;

/** Uploads and downloads on the nodes' file API. */
export class FilesApi {
  private base: string;
  constructor(private readonly options: FilesApiOptions) {
    this.base = httpBase(options.node.url);
  }

  /** `POST /v1/files`: uploads `blob` to `roomId` as `name`; resolves with the stored file (send it next). */
  async upload(roomId: number, blob: Blob, name: string, onProgress?: UploadProgress): Promise<StoredFile> {
    const path = `/v1/files?room_id=${roomId}&name=${encodeURIComponent(name)}`;
    const type = blob.type === '' ? 'application/octet-stream' : blob.type;
    const body = await this.retryOnOtherNode(() => this.post(path, blob, type, onProgress));
    return this.absolute(body as StoredFile);
  }

  /** `GET /v1/files/{id}/info`: the metadata with fresh signed URLs (for <img src> and downloads). */
  async info(fileId: string): Promise<StoredFile> {
    const body = await this.retryOnOtherNode(async () => {
      const res = await fetchOrNetworkError(`${this.base}/v1/files/${encodeURIComponent(fileId)}/info`, this.options.token());
      if (!res.ok) throw await errorOf(res);
      return (await res.json()) as unknown;
    });
    return this.absolute(body as StoredFile);
  }

  /** `GET /v1/files/{id}`: the whole file's bytes. */
  async download(fileId: string): Promise<Blob> {
    return this.retryOnOtherNode(async () => {
      const res = await fetchOrNetworkError(`${this.base}/v1/files/${encodeURIComponent(fileId)}`, this.options.token());
      if (!res.ok) throw await errorOf(res);
      return res.blob();
    });
  }

  private absolute(file: StoredFile): StoredFile {
    return { ...file, url: new URL(file.url, this.base).href, thumbnail_url: file.thumbnail_url === null || file.thumbnail_url === undefined ? null : new URL(file.thumbnail_url, this.base).href };
  }

  /** Runs `attempt`; when no node answered, asks the router for a node and tries once more there. */
  private async retryOnOtherNode<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof FileError) || e.code !== 'network') throw e;
      const node = await this.options.router.assign(this.options.token());
      this.base = httpBase(node.url);
      return attempt();
    }
  }

  /** The upload: XMLHttpRequest where it exists (fetch reports no upload progress), fetch otherwise. */
  private post(path: string, blob: Blob, type: string, onProgress?: UploadProgress): Promise<unknown> {
    const url = `${this.base}${path}`;
    const token = this.options.token();
    if (typeof XMLHttpRequest === 'undefined') {
      return fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': type }, body: blob }).then(
        async (res) => {
          if (!res.ok) throw await errorOf(res);
          onProgress?.(blob.size, blob.size);
          return (await res.json()) as unknown;
        },
        () => {
          throw networkError();
        },
      );
    }
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.setRequestHeader('Content-Type', type);
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : blob.size);
      xhr.onerror = () => reject(networkError());
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText) as unknown;
        } catch {
          // not JSON
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(fromBody(xhr.status, body));
      };
      xhr.send(blob);
    });
  }
}

/** The FileInfo of `send` (§6.9) for a stored file: images carry their dimensions, other files none. */
export function fileInfoOf(file: StoredFile): FileInfo {
  const image = file.width !== null && file.height !== null && file.mime.startsWith('image/');
  return image
    ? { file_id: file.file_id, name: file.name, size: file.size, mime: file.mime, width: file.width, height: file.height }
    : { file_id: file.file_id, name: file.name, size: file.size, mime: file.mime };
}

/** `ws://host:port/v1/ws` → `http://host:port`. */
export function httpBase(wsUrl: string): string {
  const u = new URL(wsUrl);
  const scheme = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  return `${scheme}//${u.host}`;
}

async function fetchOrNetworkError(url: string, token: string): Promise<Response> {
  try {
    return await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw networkError();
  }
}

function networkError(): FileError {
  return new FileError('network', 0, 'the file server could not be reached; check the connection and try again');
}

async function errorOf(res: Response): Promise<FileError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON
  }
  return fromBody(res.status, body);
}

function fromBody(status: number, body: unknown): FileError {
  const b = (body ?? {}) as { error?: unknown; message?: unknown };
  const code = typeof b.error === 'string' ? b.error : `http_${status}`;
  const message = typeof b.message === 'string' ? b.message : `the file server answered ${status}`;
  return new FileError(code, status, message);
}
