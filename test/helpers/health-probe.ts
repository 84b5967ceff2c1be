import { Worker } from 'node:worker_threads';
import { EventLoopWatch, type LoopFigures } from './event-loop-watch.js';

/** What a {@link HealthProbe} saw: how many /health answers, the slowest one, and the failures. */
export interface HealthFigures {
  readonly probes: number;
  readonly worstMs: number;
  /** Status codes other than 200 that /health answered, or the errors of failed fetches. */
  readonly failures: (number | string)[];
}

// Plain JavaScript: the probe's worker needs no TypeScript loader.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
let stopped = false;
parentPort.once('message', () => (stopped = true));
(async () => {
  let probes = 0, worstMs = 0;
  const failures = [];
  while (!stopped) {
    const start = performance.now();
    // A blocked event loop can also cost the connection (a keep-alive timer fires late): count that too.
    const status = await fetch(workerData.url + '/health').then(
      async (res) => (await res.arrayBuffer(), res.status),
      (err) => err.message + ': ' + (err.cause ? err.cause.message : ''),
    );
    worstMs = Math.max(worstMs, performance.now() - start);
    probes++;
    if (status !== 200) failures.push(status);
    await new Promise((resolve) => setTimeout(resolve, workerData.intervalMs));
  }
  parentPort.postMessage({ probes, worstMs, failures });
})();
`;

/**
 * Asks `GET /health` every `intervalMs` until stopped, timing each answer, from a worker thread:
 * like an outside health checker, its timings are the server's, not those of a client sharing
 * the server's event loop. The server is responsive while the worst answer stays fast.
 */
export class HealthProbe {
  private readonly worker: Worker;
  private readonly done: Promise<HealthFigures>;

  constructor(url: string, intervalMs = 10) {
    this.worker = new Worker(PROBE, { eval: true, workerData: { url, intervalMs } });
    this.done = new Promise<HealthFigures>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
    });
  }

  /** Ends probing after the answer in flight; resolves with the figures. */
  async stop(): Promise<HealthFigures> {
    this.worker.postMessage('stop');
    const figures = await this.done;
    await this.worker.terminate();
    return figures;
  }
}

/** Runs `work` while probing /health and watching this thread's event loop; returns its result with both figures. */
export async function whileProbing<T>(url: string, work: () => Promise<T>): Promise<{ result: T; health: HealthFigures; loop: LoopFigures }> {
  const probe = new HealthProbe(url);
  const watch = new EventLoopWatch();
  let health: HealthFigures | undefined;
  try {
    const result = await work();
    health = await probe.stop();
    return { result, health, loop: watch.stop() };
  } finally {
    if (!health) {
      watch.stop();
      await probe.stop();
    }
  }
}
