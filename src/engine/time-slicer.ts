import { performance } from 'node:perf_hooks';

/** Work done between two turns of the event loop: well under the 100 ms a /health check may take. */
export const SLICE_MS = 10;

/**
 * Cuts a long run of small synchronous jobs (submitting 20,000 requests, serialising their
 * answers) into slices of at most about `budgetMs`, letting the event loop serve timers and
 * sockets in between. Each job awaits `turn()` first: it resolves at once while the current slice
 * has time left; otherwise after a `setImmediate`, and the waiting jobs resume in order.
 */
export class TimeSlicer {
  /** When the current slice began; null once the event loop has turned since. */
  private sliceStart: number | null = null;
  /** The latest turn handed out: each turn is decided after the job before it has run. */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly budgetMs = SLICE_MS) {}

  turn(): Promise<void> {
    // Chained, so a job started together with thousands of others (a map over 20,000 prompts)
    // is let through only after its predecessor's work: the clock then counts that work.
    const next = this.tail.then(() => this.decide());
    this.tail = next;
    return next;
  }

  private decide(): Promise<void> | undefined {
    if (this.sliceStart === null) this.startSlice();
    else if (performance.now() - this.sliceStart >= this.budgetMs) {
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.startSlice());
    }
    return undefined;
  }

  private startSlice(): void {
    const start = performance.now();
    this.sliceStart = start;
    // The next turn of the loop ends this slice (unless a later one has begun meanwhile).
    setImmediate(() => this.sliceStart === start && (this.sliceStart = null));
  }
}

/** The one slicer of this thread's event loop, shared by the engine's front and the server. */
export const loopSlicer = new TimeSlicer();

/** `items.map(fn)` a slice at a time, for maps over the thousands of prompts of one request. */
export async function mapSliced<T, R>(items: readonly T[], fn: (item: T, index: number) => R): Promise<R[]> {
  const out: R[] = [];
  for (const [i, item] of items.entries()) {
    await loopSlicer.turn();
    out.push(fn(item, i));
  }
  return out;
}

/**
 * Calls `start` on every item a slice at a time (creating 200,000 engine requests in one loop
 * held up the event loop for 2 s, most of it garbage collection) and returns the started
 * promises in order. A rejection waits for the caller's await without counting as unhandled.
 */
export function startSliced<T, R>(items: readonly T[], start: (item: T, index: number) => Promise<R>): Promise<Promise<R>[]> {
  return mapSliced(items, (item, i) => {
    const p = start(item, i);
    p.catch(() => undefined);
    return p;
  });
}
