/**
 * Runs `work` one at a time: a call while it runs asks for one more run after it (any number of
 * such calls fold into that one), unless `stopped()` says the owner is gone by then. Every call
 * returns the run in progress, so a caller can wait for the look it caused or joined.
 */
export class OneAtATime {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly work: () => Promise<void>, private readonly stopped: () => boolean) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.work().finally(() => {
      this.running = null;
      if (this.again && !this.stopped()) {
        this.again = false;
        void this.run();
      }
    });
    return this.running;
  }
}
