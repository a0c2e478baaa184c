// A typed event emitter for the engine's events, and the Disposable every subscription returns.
// A listener that throws is reported through the constructor's callback and never breaks the
// emitter's caller (the sampling loop, a task call).

export interface Disposable {
  dispose(): void;
}

/** A small typed emitter: a listener that throws is reported, never breaks the loop. */
export class TypedEmitter<E> {
  private readonly listeners = new Map<keyof E, Set<(payload: never) => void>>();

  constructor(private readonly onListenerError: (event: keyof E, err: unknown) => void) {}

  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): Disposable {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return { dispose: () => void set.delete(listener as (payload: never) => void) };
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: E[K]) => void)(payload);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  clear(): void {
    this.listeners.clear();
  }
}
