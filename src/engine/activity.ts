/** A thread or port that may keep the process alive (Worker, MessagePort). */
export interface Referable {
  ref(): void;
  unref(): void;
}

/**
 * Keeps the process alive exactly while the engine has work in flight. Worker threads and their
 * message ports hold the process open for as long as they exist, so a script that never called
 * `close()` never exited; now they are unref'd whenever nothing is running or waiting for a reply.
 */
export class Activity {
  private active = 0;

  constructor(private readonly handles: readonly Referable[]) {
    for (const h of handles) h.unref();
  }

  /** Work starts: the process stays up until the matching `end()`. */
  begin(): void {
    if (this.active++ === 0) for (const h of this.handles) h.ref();
  }

  end(): void {
    if (--this.active === 0) for (const h of this.handles) h.unref();
  }

  /** Runs `work` as one piece of activity. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await work();
    } finally {
      this.end();
    }
  }
}
