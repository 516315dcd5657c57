// A small typed event emitter: listeners per event name, removal by the returned function.

/** Emits events of the map `Events` (event name → payload). */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Adds a listener; returns its removal. */
  on<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Calls every listener of `event`; a throwing listener does not stop the others. */
  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        (l as (payload: Events[E]) => void)(payload);
      } catch (e) {
        console.error(`sendjay: a ${String(event)} listener threw`, e);
      }
    }
  }
}
