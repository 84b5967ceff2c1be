import t from 'tap';
import { Worker } from 'node:worker_threads';
import { startHealthProbe } from '../../helpers/fuzz/health-probe.js';
import type { FuzzReport, FuzzRunOptions } from '../../helpers/fuzz/run.js';
import { summarize } from '../../helpers/fuzz/tally.js';
import { kvIdle, startTestServer } from '../../helpers/server.js';
import { OtherCpuMeter } from '../../../tools/lib/cpu-load.js';

// Issue 12, "Tests that stay": generated hostile requests over every route. The seed changes per
// run (ARBOR_FUZZ_SEED replays one); bench/workloads/fuzz-soak.ts runs the same generator longer.
// In test/e2e/serial/ (package.json "tap.serial"): /health latency is measured, so this file runs
// alone, not beside other test files competing for the two cores.
const MAX_BODY_BYTES = 256 * 1024;
/** Above this share of the machine taken by other processes, a slow /health says nothing about the server. */
const BUSY_MACHINE = 0.25;
const REQUESTS = Number(process.env['ARBOR_FUZZ_REQUESTS'] ?? 5_000);
const seed = Number(process.env['ARBOR_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
// A short context bounds what a request that happens to be valid can generate; one ORT thread
// leaves the second core to the server and the client.
const { url, engine, arbor } = await startTestServer({ maxBodyBytes: MAX_BODY_BYTES, enableMetrics: true }, { contextLength: 64, threadsPerShard: 1 });
t.teardown(() => arbor.close());

/** Runs the fuzz client in a worker thread: its own work must not delay this thread's server. */
function fuzzInWorker(options: FuzzRunOptions): Promise<FuzzReport> {
  const worker = new Worker(new URL('../../helpers/fuzz/fuzz-worker.ts', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

t.test(`${REQUESTS} generated requests: no 5xx, every 4xx names its field, /health stays fast, KV back to baseline`, async (t) => {
  t.comment(`seed ${seed} (ARBOR_FUZZ_SEED=${seed} replays this run)`);
  const probe = startHealthProbe(url);
  const meter = OtherCpuMeter.start();
  const report = await fuzzInWorker({ url, requests: REQUESTS, batch: 8, seed, maxBodyBytes: MAX_BODY_BYTES, mode: 'assert' });
  const health = await probe.stop();
  const others = meter.otherShare();
  t.comment(`${summarize(report)} in ${report.seconds.toFixed(1)} s`);
  t.comment(`/health: ${health.count} probes, p99 ${health.p99Ms.toFixed(1)} ms, slowest ${health.maxMs.toFixed(1)} ms; other processes used ${(100 * others).toFixed(0)}% of the machine`);
  for (const f of report.findings) t.comment(f);
  t.notOk(report.counterexample, report.counterexample?.split('\n').slice(0, 8).join('\n') ?? 'the property holds');
  t.ok(report.sent >= REQUESTS, `at least ${REQUESTS} requests sent (${report.sent})`);
  t.equal(report.serverErrors, 0, 'no 5xx');
  t.equal(report.unnamed + report.badShape, 0, 'every 4xx is {"error": {"message"}} naming the field, route or content type');
  t.equal(report.network, 0, 'no connection failed');
  t.equal(health.failures, 0, '/health answered 200 every time');
  // On a shared machine other processes can starve this one for longer than any server work takes
  // (the bench harness reruns such rounds); CI runs this file alone, so there it always counts.
  const starved = others > BUSY_MACHINE ? { skip: `other processes used ${(100 * others).toFixed(0)}% of the machine meanwhile` } : {};
  t.ok(health.maxMs < 100, `/health under 100 ms throughout (slowest ${health.maxMs.toFixed(1)} ms)`, starved);

  t.ok(await kvIdle(engine), 'nothing running or queued; KV holds only evictable cache (no locks left)');
  t.ok(await engine.flushCache(), 'the cache flushes (nothing in flight)');
  t.match(engine.stats(), { running: 0, queued: 0, slotsUsed: 0, healthy: true }, 'every KV slot is free again');
});
