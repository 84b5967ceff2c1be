import { Worker } from 'node:worker_threads';

/** What the probe saw. */
export interface ProbeFigures {
  readonly count: number;
  readonly failures: number;
  /** The slowest /health answer. */
  readonly maxMs: number;
  readonly p99Ms: number;
}

/** A running /health poller; `stop()` ends it and gives its figures. */
export interface HealthProbe {
  stop(): Promise<ProbeFigures>;
}

// Plain JavaScript evaluated in its own thread: the probe must not wait behind the work of the
// thread that sends the fuzz requests (that delay is not the server's), and an eval worker needs
// no TypeScript loader, so it also runs under tsx (bench) and tap.
const PROBE_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, intervalMs } = workerData;
let running = true;
parentPort.on('message', () => { running = false; });
(async () => {
  const times = [];
  let failures = 0;
  while (running) {
    const t0 = performance.now();
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status !== 200) failures++;
    } catch {
      failures++;
    }
    times.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  times.sort((a, b) => a - b);
  const at = (q) => (times.length ? times[Math.min(times.length - 1, Math.floor(q * times.length))] : 0);
  parentPort.postMessage({ count: times.length, failures, maxMs: times.at(-1) ?? 0, p99Ms: at(0.99) });
})();
`;

/** Starts polling `${base}/health` every `intervalMs` from a worker thread. */
export function startHealthProbe(base: string, intervalMs = 10): HealthProbe {
  const worker = new Worker(PROBE_SOURCE, { eval: true, workerData: { url: `${base}/health`, intervalMs } });
  const figures = new Promise<ProbeFigures>((resolve, reject) => {
    worker.once('message', (f: ProbeFigures) => resolve(f));
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const f = await figures;
      await worker.terminate();
      return f;
    },
  };
}
