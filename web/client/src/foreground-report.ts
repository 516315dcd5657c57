// "The user is looking" for the server (docs/protocol.md §6.16 `set_foreground`): while one of a user's sessions is
// in the foreground the server pushes to none of the user's devices. A session counts as in the foreground only
// after it says so, and every new connection starts in the background. The tabs of a browser share one session
// (tabs.ts), so the session is in the foreground when ANY tab is visible: each tab reports its own visibility, the
// leader tab holds the union and sends it on change, and again after every (re)connect.

/** Where a tab's visibility comes from (injected: `documentVisibility()` in browsers, a fake in tests). */
export interface VisibilitySource {
  /** The tab is visible now. */
  visible(): boolean;
  /** Calls `listener` whenever the visibility may have changed; returns the removal. */
  subscribe(listener: () => void): () => void;
}

/** `document.visibilityState === 'visible'`, following `visibilitychange`; undefined where there is no document. */
export function documentVisibility(): VisibilitySource | undefined {
  interface DocumentLike {
    visibilityState: string;
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
  }
  const doc = (globalThis as { document?: DocumentLike }).document;
  if (doc === undefined) return undefined;
  return {
    visible: () => doc.visibilityState === 'visible',
    subscribe(listener) {
      doc.addEventListener('visibilitychange', listener);
      return () => doc.removeEventListener('visibilitychange', listener);
    },
  };
}

/** What a ForegroundUnion needs: the current connection and a way to send `set_foreground` on it. */
export interface ForegroundHost {
  /** The id of the connection that is online now, or undefined while there is none. */
  connectionId(): string | undefined;
  /** Sends `set_foreground`; failures (an older server without the op, a lost connection) are ignored. */
  send(foreground: boolean): Promise<unknown>;
}

/**
 * The foreground state of one session as the union of its tabs' reports. Sends `set_foreground` only when the
 * union differs from what the server holds for the current connection (false on a new connection).
 */
export class ForegroundUnion {
  private readonly byTab = new Map<string, boolean>();
  /** What was sent, on which connection. */
  private sent: { connectionId: string; foreground: boolean } | undefined;

  constructor(private readonly host: ForegroundHost) {}

  /** True when any tab reported that it is visible. */
  get foreground(): boolean {
    for (const visible of this.byTab.values()) if (visible) return true;
    return false;
  }

  /** Tab `tabId` is visible (or not) now. */
  report(tabId: string, visible: boolean): void {
    this.byTab.set(tabId, visible);
    this.flush();
  }

  /** Tab `tabId` closed. */
  drop(tabId: string): void {
    if (this.byTab.delete(tabId)) this.flush();
  }

  /** Forgets every tab (a new leader: the tabs report again). */
  clear(): void {
    this.byTab.clear();
    this.sent = undefined;
  }

  /** Sends the union if the server does not hold it yet; call it whenever a (new) connection is online. */
  flush(): void {
    const connectionId = this.host.connectionId();
    if (connectionId === undefined) return; // offline: the next connection gets it
    const held = this.sent?.connectionId === connectionId ? this.sent.foreground : false;
    const wanted = this.foreground;
    if (wanted === held) return;
    this.sent = { connectionId, foreground: wanted };
    this.host.send(wanted).catch(() => undefined);
  }
}

/** One tab's report: follows its visibility source and hands the state to `report`. */
export class ForegroundReport {
  private readonly stop: () => void;
  private override: boolean | undefined;

  constructor(
    private readonly source: VisibilitySource | undefined,
    private readonly report: (visible: boolean) => void,
  ) {
    this.stop = source?.subscribe(() => this.update()) ?? (() => undefined);
    this.update();
  }

  /** The tab's state now: set by `set`, else the source's, else false. */
  get visible(): boolean {
    return this.override ?? this.source?.visible() ?? false;
  }

  /** Says the tab is (not) in the foreground regardless of the source; `undefined` follows the source again. */
  set(visible: boolean | undefined): void {
    this.override = visible;
    this.update();
  }

  /** Reports the state again (e.g. a new connection is online). */
  update(): void {
    this.report(this.visible);
  }

  /** Stops following the source. */
  close(): void {
    this.stop();
  }
}
