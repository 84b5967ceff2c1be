/**
 * fuzz-soak — the server fuzz suite (test/e2e/serial/server-fuzz.test.ts) for much longer: `arbor serve`
 * (dist/, its own process, on the qwen2 test fixture) gets N generated hostile requests over every
 * route, 8 in flight, while a worker thread polls /health every 10 ms. Prints the figures issue 12
 * asks for: requests sent, 5xx, 4xx without the field, the slowest /health, KV slots left after.
 * A correctness soak, not a ratio: nothing goes to bench/RESULTS.md; one JSON line per run goes
 * to bench/results/fuzz-soak.jsonl.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, REPO_DIR } from '../lib/common.js';
import { OtherCpuMeter } from '../../tools/lib/cpu-load.js';
import { startHealthProbe } from '../../test/helpers/fuzz/health-probe.js';
import { runFuzz } from '../../test/helpers/fuzz/run.js';
import { problemCount, summarize } from '../../test/helpers/fuzz/tally.js';

export interface FuzzSoakOptions {
  readonly requests: number;
  readonly seed: number;
}

const MAX_BODY_BYTES = 256 * 1024;
const FIXTURE = join(REPO_DIR, 'test', 'fixtures', 'qwen2');

/** Starts `arbor serve` on a free port; resolves with its URL once the model is loaded. */
async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const cli = join(REPO_DIR, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) spawnSync('npm', ['run', 'build'], { cwd: REPO_DIR, stdio: 'inherit' });
  const args = ['serve', '--model-path', FIXTURE, '--port', '0', '--context-length', '64', '--max-body-bytes', String(MAX_BODY_BYTES), '--enable-metrics'];
  const child = spawn(process.execPath, [cli, ...args], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /arbor serving .* at (http:\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`arbor serve exited (${code}) before it was ready:\n${out}`)));
  });
  return { child, url };
}

interface KvState {
  running: number;
  queued: number;
  used: number;
  evictable: number;
}

async function kvState(url: string): Promise<KvState> {
  const info = (await (await fetch(`${url}/get_server_info`)).json()) as { internal_states: Record<string, number>[] };
  const s = info.internal_states[0]!;
  return { running: s['num_running_reqs']!, queued: s['num_queue_reqs']!, used: s['kv_slots_used']!, evictable: s['kv_slots_evictable']! };
}

/** KV slots still held once the server is idle and its radix cache flushed (0 when nothing leaked). */
async function leakedSlots(url: string): Promise<{ leaked: number; idle: KvState }> {
  let idle = await kvState(url);
  for (let i = 0; i < 500 && (idle.running > 0 || idle.queued > 0 || idle.used !== idle.evictable); i++) {
    await new Promise((r) => setTimeout(r, 10));
    idle = await kvState(url);
  }
  const flushed = await fetch(`${url}/flush_cache`, { method: 'POST' });
  await flushed.arrayBuffer();
  if (flushed.status !== 200) return { leaked: idle.used, idle };
  return { leaked: (await kvState(url)).used, idle };
}

export async function runFuzzSoak(o: FuzzSoakOptions): Promise<void> {
  const { child, url } = await startServer();
  console.log(`fuzz-soak: ${o.requests} requests, seed ${o.seed}, against ${url} (qwen2 fixture, context 64)`);
  try {
    const probe = startHealthProbe(url);
    // The server is a child process: "others" here also counts it, so this is the rest of the box.
    const meter = OtherCpuMeter.start();
    const step = Math.max(1, Math.floor(o.requests / 10));
    let next = step;
    const report = await runFuzz({
      url,
      requests: o.requests,
      batch: 8,
      seed: o.seed,
      maxBodyBytes: MAX_BODY_BYTES,
      mode: 'soak',
      onProgress: (sent) => {
        if (sent < next) return;
        next += step;
        console.log(`  ${sent} sent`);
      },
    });
    const health = await probe.stop();
    const othersAndServer = meter.otherShare();
    const { leaked, idle } = await leakedSlots(url);
    console.log(`${summarize(report)} in ${report.seconds.toFixed(0)} s (${(report.sent / report.seconds).toFixed(0)} requests/s)`);
    console.log(`requests sent: ${report.sent} (client aborts: ${report.aborted})`);
    console.log(`5xx: ${report.serverErrors}`);
    console.log(`4xx without the field: ${report.unnamed} (bad error shape: ${report.badShape})`);
    console.log(`/health: ${health.count} probes, ${health.failures} failed, p99 ${health.p99Ms.toFixed(1)} ms, max ${health.maxMs.toFixed(1)} ms`);
    console.log(`CPU of other processes, the server included: ${(100 * othersAndServer).toFixed(0)}% of the machine`);
    console.log(`KV after: running ${idle.running}, queued ${idle.queued}, slots used ${idle.used} (evictable ${idle.evictable}); leaked slots after flush: ${leaked}`);
    for (const f of report.findings) console.log(`  finding: ${f}`);
    mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
    const line = { date: new Date().toISOString(), seed: o.seed, ...report, findings: report.findings.length, health, leaked };
    appendFileSync(join(BENCH_DIR, 'results', 'fuzz-soak.jsonl'), `${JSON.stringify(line)}\n`);
    if (problemCount(report) > 0 || leaked > 0 || health.failures > 0) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
  }
}
