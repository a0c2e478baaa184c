// Failures of a repeating job (a sample every second, a GPU restart with backoff) reported once:
// the first failure of a kind and message is told, its repeats are only counted, and when that
// kind works again it is told once more and the next failure is news again.

export class FailureReport<Kind extends string> {
  /** Failures already told, by kind and message, with how often each has happened since. */
  private readonly open = new Map<string, number>();

  constructor(
    private readonly tell: (kind: Kind, message: string, cause: unknown) => void,
    private readonly tellRecovered: (kind: Kind) => void,
  ) {}

  failed(kind: Kind, message: string, cause: unknown): void {
    const key = `${kind}\u0000${message}`;
    const seen = this.open.get(key);
    if (seen !== undefined) {
      this.open.set(key, seen + 1);
      return;
    }
    this.open.set(key, 1);
    this.tell(kind, message, cause);
  }

  recovered(kind: Kind): void {
    for (const key of this.open.keys()) {
      if (key.startsWith(`${kind}\u0000`)) {
        this.open.delete(key);
        this.tellRecovered(kind);
      }
    }
  }
}
