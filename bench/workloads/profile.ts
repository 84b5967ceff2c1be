/**
 * profile — where an arbor step's time goes, measured from outside the engine:
 * - every onnxruntime `session.run` in every thread is timed by bench/lib/ort-timer.mjs (preloaded
 *   with --import; workers inherit it), so a decode step splits into ORT time and the rest
 *   (feeds, KV write-back, logits copy, shard↔scheduler signalling, sampling, radix bookkeeping,
 *   event delivery to the caller): "scheduler + actor overhead";
 * - a second run under `node --cpu-prof` (one profile per thread) names the JS functions in the rest.
 *
 *   npm run bench -- profile [--model bench-135m] [--dtype fp32] [--repeats 5]
 *
 * The timed run repeats the batch-1 phase (prompt 512, 128 tokens) `repeats` times and publishes
 * the overhead share (median, min–max) to bench/RESULTS.md; issue 7's target is < 5 % of the step.
 *
 * The parent re-runs this program as children with the needed Node flags and then summarises the
 * .cpuprofile files (written under bench/results/cpuprof-<time>/).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { waitForQuiet } from '../../tools/lib/cpu-load.js';
import { BENCH_DIR, arborCacheDir, TokenIds, fmt, importArbor, machineLine, max, median, min, modelDir, percentile, quietestRun, readConfig, specialIds } from '../lib/common.js';
import { publishSection } from '../lib/report.js';
import type { ArborDType } from '../lib/common.js';

export interface ProfileOptions {
  model: string;
  dtype: ArborDType;
  threads: number;
  /** Runs of the batch-1 phase whose overhead is published. */
  repeats: number;
}

/** One phase's decode window split into ORT runs and everything else. */
interface PhaseSplit {
  readonly name: string;
  readonly stepMs: number;
  readonly ortRunMs: number;
  readonly betweenMs: number;
  /** Share of the decode window outside `session.run`, in %. */
  readonly overheadPct: number;
  /** Share of the machine other processes used, 0–1. */
  readonly others: number;
}

const HEADLINE = 'batch 1, prompt 512, 128 out';

interface OrtCall {
  thread: number;
  t0: number;
  t1: number;
}

const now = () => performance.timeOrigin + performance.now();

/** Child: runs the phases and prints the step split. */
export async function runProfileChild(o: ProfileOptions & { label: string; out?: string }): Promise<void> {
  if (!(globalThis as { __arborOrtTimer?: boolean }).__arborOrtTimer) throw new Error('run through `npm run bench -- profile` (needs --import bench/lib/ort-timer.mjs)');
  const calls: OrtCall[] = [];
  const ch = new BroadcastChannel('arbor-bench-ort-timer');
  ch.onmessage = (e: MessageEvent) => calls.push(e.data as OrtCall);
  const cfg = readConfig(o.model);
  const ids = new TokenIds(2024, cfg.vocab_size, specialIds(cfg));
  const { Engine } = await importArbor();
  const engine = await Engine.create({ model: modelDir(o.model), dtype: o.dtype, threadsPerShard: o.threads, ...arborCacheDir(o.dtype) });
  const settle = () => new Promise((r) => setTimeout(r, 50));

  /** One phase, repeated (up to 3 times, keeping the quietest) when other processes used > 20% of the machine. */
  const stream = async (prompts: number[][], out: number) => {
    await waitForQuiet(0.1, 30_000);
    const { result, share } = await quietestRun(
      async () => {
        await engine.flushCache();
        await settle();
        calls.length = 0;
        const start = now();
        const stamps = await Promise.all(
          prompts.map(async (p) => {
            const t: number[] = [];
            for await (const c of engine.stream({ inputIds: p, maxTokens: out, temperature: 0, ignoreEos: true })) {
              const n = now();
              for (let i = 0; i < c.tokenIds.length; i++) t.push(n);
            }
            return t;
          }),
        );
        await settle();
        return { start, stamps, calls: [...calls] };
      },
      { attempts: 3, maxOthers: 0.2, quietWaitMs: 30_000 },
    );
    return { ...result, others: share };
  };

  const report = (name: string, r: Awaited<ReturnType<typeof stream>>): PhaseSplit => {
    const s0 = r.stamps[0]!;
    // Decode window: from the last request's first token to the first request's last token, where
    // every request is decoding.
    const from = Math.max(...r.stamps.map((s) => s[0]!));
    const to = Math.min(...r.stamps.map((s) => s[s.length - 1]!));
    const inWin = r.calls.filter((c) => c.t0 >= from && c.t1 <= to);
    const steps = inWin.length;
    const ortMs = inWin.reduce((a, c) => a + (c.t1 - c.t0), 0);
    const winMs = to - from;
    const stepMs = winMs / Math.max(1, steps);
    const gaps = s0.slice(1).map((t, i) => t - s0[i]!);
    const runDur = inWin.map((c) => c.t1 - c.t0);
    // Per step: the time between one ORT run's end and the next one's start is everything else.
    const between = inWin.slice(1).map((c, i) => c.t0 - inWin[i]!.t1);
    const overheadPct = 100 - (100 * ortMs) / winMs;
    const prefillCalls = r.calls.filter((c) => c.t1 <= from + 1);
    const ttft = median(r.stamps.map((s) => s[0]! - r.start));
    console.log(
      `[${o.label}] ${name} (others' CPU ${fmt(100 * r.others)}%): TTFT ${fmt(ttft)} ms (ORT in prefill: ${prefillCalls.length} runs, ${fmt(prefillCalls.reduce((a, c) => a + c.t1 - c.t0, 0))} ms); ` +
        `decode: ${steps} steps in ${fmt(winMs)} ms → ${fmt(stepMs)} ms/step; ORT run median ${fmt(median(runDur))} ms (p90 ${fmt(percentile(runDur, 90))}); ` +
        `between runs median ${fmt(median(between))} ms (p90 ${fmt(percentile(between, 90))}); ORT share ${fmt(100 - overheadPct)}% → overhead ${fmt(overheadPct)}% of a step; ` +
        `token gap p50 ${fmt(percentile(gaps, 50))} p99 ${fmt(percentile(gaps, 99))} ms; ORT threads ${[...new Set(r.calls.map((c) => c.thread))].join(',')}`,
    );
    return { name, stepMs, ortRunMs: median(runDur), betweenMs: median(between), overheadPct, others: r.others };
  };

  await stream([ids.take(32)], 8); // warm-up
  const splits: PhaseSplit[] = [];
  for (let i = 0; i < o.repeats; i++) splits.push(report(HEADLINE, await stream([ids.take(512)], 128)));
  splits.push(report('batch 1, prompt 16, 128 out', await stream([ids.take(16)], 128)));
  splits.push(report('batch 8, prompt 128, 64 out', await stream(Array.from({ length: 8 }, () => ids.take(128)), 64)));
  splits.push(report('batch 64, prompt 128, 32 out', await stream(Array.from({ length: 64 }, () => ids.take(128)), 32)));
  if (o.out) writeFileSync(o.out, JSON.stringify(splits));
  ch.close();
  await engine.close();
}

/** The RESULTS.md section: the headline phase's overhead over its repeats, then one run of each other phase. */
function overheadSection(o: ProfileOptions, splits: readonly PhaseSplit[]): string {
  const head = splits.filter((s) => s.name === HEADLINE);
  const pct = head.map((s) => s.overheadPct);
  const row = (s: PhaseSplit) => `| ${s.name} | ${fmt(s.stepMs)} | ${fmt(s.ortRunMs)} | ${fmt(s.betweenMs)} | ${fmt(s.overheadPct)}% | ${(100 * s.others).toFixed(0)}% |`;
  return [
    `### Overhead — scheduler + actors in a decode step (${o.model}, ${o.dtype})`,
    '',
    `${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} · ${machineLine()}`,
    '',
    `Settings: greedy, EOS ignored, ${o.threads} threads; every onnxruntime \`session.run\` in every thread timed (bench/lib/ort-timer.mjs).`,
    '- Overhead = share of the decode window (all requests decoding) outside `session.run`: step descriptor, feeds, KV write-back, logits copy, shard ↔ scheduler wake-ups, sampling, detokenization, events to the caller.',
    '',
    '| phase | step ms | ORT run ms (median) | between runs ms (median) | overhead | others\' CPU |',
    '|---|---|---|---|---|---|',
    ...splits.map(row),
    '',
    '| overhead share (per run) | median | min–max | runs | target |',
    '|---|---|---|---|---|',
    `| ${HEADLINE} | **${fmt(median(pct))}%** | ${fmt(min(pct))}–${fmt(max(pct))}% | ${pct.length} | < 5% |`,
  ].join('\n');
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time per function (ms) of one .cpuprofile, idle / GC / program separated. */
function summariseProfile(path: string, top: number): string[] {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const n = byId.get(id)!;
    const f = n.callFrame;
    const file = f.url.replace(/^.*\/(node_modules\/[^/]+|dist|src)\//, '$1/');
    const key = f.url ? `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}` : f.functionName;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const idle = self.get('(idle)') ?? 0;
  const busy = total - idle;
  const lines = [`${path.split('/').pop()}: ${fmt(total)} ms sampled, busy ${fmt(busy)} ms (${fmt((100 * busy) / total)}%)`];
  [...self.entries()]
    .filter(([k]) => k !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, v]) => lines.push(`    ${fmt(v).padStart(7)} ms  ${fmt((100 * v) / Math.max(busy, 1)).padStart(5)}% of busy  ${k}`));
  return lines;
}

/** Parent: runs the timed child, then the --cpu-prof child, and summarises the profiles. */
export async function runProfile(o: ProfileOptions): Promise<void> {
  const runTs = fileURLToPath(new URL('../run.ts', import.meta.url));
  const timer = pathToFileURL(join(BENCH_DIR, 'lib', 'ort-timer.mjs')).href;
  const args = ['profile-child', '--model', o.model, '--dtype', o.dtype, '--threads', String(o.threads)];
  console.log('— timed run (ORT calls timed, no CPU profiler) —');
  const tmp = mkdtempSync(join(tmpdir(), 'arbor-profile-'));
  const out = join(tmp, 'splits.json');
  let r = spawnSync(process.execPath, ['--import', 'tsx', '--import', timer, runTs, ...args, '--label', 'timed', '--repeats', String(o.repeats), '--out', out], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) throw new Error(`timed child failed (${r.status})`);
  const section = overheadSection(o, JSON.parse(readFileSync(out, 'utf8')) as PhaseSplit[]);
  rmSync(tmp, { recursive: true, force: true });
  console.log(`\n${section}\n`);
  publishSection(`OVERHEAD ${o.model} ${o.dtype}`, section);
  const dir = join(BENCH_DIR, 'results', `cpuprof-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  console.log(`— profiled run (node --cpu-prof, profiles in ${dir}) —`);
  r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250', '--import', 'tsx', '--import', timer, runTs, ...args, '--label', 'cpu-prof'], {
    stdio: 'inherit',
    env: process.env,
  });
  if (r.status !== 0) throw new Error(`profiled child failed (${r.status})`);
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
    for (const line of summariseProfile(join(dir, f), 14)) console.log(line);
  }
}
