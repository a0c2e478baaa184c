// "Say it once": samplers and providers run every second, and a failure that repeats at each
// sample must reach the log once per kind of failure, not once per sample.

export class OnceLog {
  private readonly said = new Set<string>();

  constructor(private readonly sink: (message: string) => void) {}

  /** Passes `message` on the first time `kind` comes; later ones of the same kind are dropped. */
  say(kind: string, message: string): void {
    if (this.said.has(kind)) return;
    this.said.add(kind);
    this.sink(message);
  }
}

/** The errno code of a failed file operation (`ENOENT`, `EACCES`), else the error as text. */
export function errnoCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e && typeof e === 'object' && e.code ? e.code : String(err);
}
