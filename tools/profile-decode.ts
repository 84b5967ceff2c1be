/**
 * Times batch-B decode steps at given context lengths and splits a step's time into projection
 * matmuls, attention, and glue + overhead.
 *
 *   npx tsx tools/profile-decode.ts [--model DIR] [--dtype fp32|q8|q4] [--contexts 512,2048]
 *       [--batch 1] [--steps 20] [--profile-runs 10] [--threads 2] [--cache-dir .cache/arbor]
 *       [--quiet-threshold 0.1] [--quiet-wait 180] [--attempts 5]
 *
 * Per context C: prefill B sequences of C random token ids (chunks of ≤ 512 tokens, earlier chunks
 * passed as cachedSlots), then time decode steps through the real runtime (LocalTensorParallel →
 * ShardRuntime → session.run, with validation, feed building, KV write-back and logits copy). Every
 * step decodes one token per sequence against the same C cached slots (its K/V lands in the same
 * spare slot each time), so all timed steps see exactly context C. Before timing, it waits (up to
 * --quiet-wait s) for a second in which other processes use < --quiet-threshold of the CPUs; if
 * they used more than that during the timing, it waits and times again (up to --attempts times),
 * keeping the quietest attempt, and reports the share they used ("others' CPU").
 *
 * Two splits, both fed the inputs the runtime builds for that step (buildStepFeeds over the
 * runtime's own KV pool), with nodes classified by tools/lib/ort-profile.ts:
 * - **ablation** (the headline): sessions over the built graph with all matmul nodes, or all
 *   attention nodes, removed (tools/lib/graph-ablation.ts), timed in interleaved blocks with the
 *   runtime step and the full graph (all three take the same inputs). A class costs
 *   median(full) − median(graph without it), kernels and per-node executor work included; glue +
 *   overhead is the runtime step minus both.
 * - **profiler**: a session with `enableProfiling`; each node is charged its median kernel time
 *   over the profiled runs. Gives per-operator detail, but ORT's profiler adds ≈ 5 µs inside every
 *   kernel's time and ≈ 7 µs between kernels, which on bench-135m's 1,800-node decode graph
 *   exceeds the unprofiled step itself, so its class totals are reported, not subtracted from it.
 */
import ort from 'onnxruntime-node';
import { existsSync, linkSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalTensorParallel } from '../src/shards/local-tensor-parallel.js';
import type { ShardRuntime } from '../src/shards/shard-runtime.js';
import type { StepDescriptor } from '../src/shards/step.js';
import { buildStepFeeds } from '../src/shards/step-feeds.js';
import { RopeTable } from '../src/shards/rope.js';
import type { WeightDType } from '../src/shards/graph/quantize.js';
import { SeededRandom } from './lib/prng.js';
import { loadShardObserved } from './lib/observed-load.js';
import { classifyGraph, median, parseOrtTrace, splitProfile } from './lib/ort-profile.js';
import type { NodeClass, ProfileSplit } from './lib/ort-profile.js';
import { ablationVariants } from './lib/graph-ablation.js';
import { OtherCpuMeter, waitForQuiet } from './lib/cpu-load.js';

/** Longest prefill chunk, as the scheduler would issue. */
const PREFILL_CHUNK = 512;
/** Untimed runs before measuring: first runs pay for first-touch of arena and pool pages. */
const WARMUP_RUNS = 3;

interface Args {
  readonly model: string;
  readonly dtype: WeightDType;
  readonly contexts: number[];
  readonly batch: number;
  readonly steps: number;
  readonly profileRuns: number;
  readonly threads: number;
  readonly cacheDir: string;
  readonly quietThreshold: number;
  readonly quietWaitS: number;
  readonly attempts: number;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: join('bench', 'models', 'bench-135m') },
      dtype: { type: 'string', default: 'fp32' },
      contexts: { type: 'string', default: '512,2048' },
      batch: { type: 'string', default: '1' },
      steps: { type: 'string', default: '20' },
      'profile-runs': { type: 'string', default: '10' },
      threads: { type: 'string', default: '2' },
      'cache-dir': { type: 'string', default: join('.cache', 'arbor') },
      'quiet-threshold': { type: 'string', default: '0.1' },
      'quiet-wait': { type: 'string', default: '180' },
      attempts: { type: 'string', default: '5' },
    },
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`--${name} must be a positive integer (got ${v})`);
    return n;
  };
  if (!['fp32', 'q8', 'q4'].includes(values.dtype)) throw new RangeError(`--dtype must be fp32, q8 or q4 (got ${values.dtype})`);
  return {
    model: values.model,
    dtype: values.dtype as WeightDType,
    contexts: values.contexts.split(',').map((c) => int('contexts', c)),
    batch: int('batch', values.batch),
    steps: int('steps', values.steps),
    profileRuns: int('profile-runs', values['profile-runs']),
    threads: int('threads', values.threads),
    cacheDir: values['cache-dir'],
    quietThreshold: Number(values['quiet-threshold']),
    quietWaitS: Number(values['quiet-wait']),
    attempts: int('attempts', values.attempts),
  };
}

/**
 * The ORT-optimized graph the runtime runs, whose node names the profiler reports. The loader may
 * already have saved it beside the built graph (`seg0.opt.onnx`); otherwise it is produced once
 * into `scratch` from `seg0.onnx` with the same options.
 */
async function optimizedGraph(entry: string, options: ort.InferenceSession.SessionOptions, scratch: string): Promise<string> {
  if (existsSync(join(entry, 'seg0.opt.ok'))) return join(entry, 'seg0.opt.onnx');
  const out = join(scratch, 'seg0.opt.onnx');
  const s = await ort.InferenceSession.create(join(entry, 'seg0.onnx'), {
    ...options,
    optimizedModelFilePath: out,
    extra: { session: { optimized_model_external_initializers_file_name: 'seg0.opt.bin', optimized_model_external_initializers_min_size_in_bytes: '1024' } },
  });
  await s.release();
  return out;
}

/** Sessions over the full built graph and over it without matmuls / attention, and the zero feeds of their stub inputs. */
interface AblationSessions {
  readonly full: ort.InferenceSession;
  readonly noMatmul: ort.InferenceSession;
  readonly noAttention: ort.InferenceSession;
  readonly stubFeeds: (rows: number) => Record<string, ort.Tensor>;
  readonly stubCount: number;
}

/**
 * Opens the ablation variants of the built graph. The copies live in `scratch` beside a hard link
 * to the cache entry's weights.bin: ORT resolves external data relative to the model file and
 * rejects paths (symlinks included) that lead outside its folder.
 */
async function openAblations(entry: string, options: ort.InferenceSession.SessionOptions, scratch: string): Promise<AblationSessions> {
  linkSync(join(entry, 'weights.bin'), join(scratch, 'weights.bin'));
  const v = ablationVariants(readFileSync(join(entry, 'seg0.onnx')));
  const open = async (name: string, model: Uint8Array) => {
    writeFileSync(join(scratch, `${name}.onnx`), model);
    return ort.InferenceSession.create(join(scratch, `${name}.onnx`), options);
  };
  return {
    full: await open('full', v.full),
    noMatmul: await open('no-matmul', v.noMatmul),
    noAttention: await open('no-attention', v.noAttention),
    stubFeeds: (rows) => Object.fromEntries(v.stubs.map(({ name, width }) => [name, new ort.Tensor('float32', new Float32Array(rows * width), [rows, width])])),
    stubCount: v.stubs.length,
  };
}

/** Prefills `batch` sequences of C random ids each; sequence b owns slots [b·(C+1), b·(C+1)+C], the last for its decode token. */
async function prefill(model: LocalTensorParallel, C: number, batch: number, vocab: number, rng: SeededRandom): Promise<StepDescriptor> {
  const seqs: StepDescriptor['sequences'][number][] = [];
  for (let b = 0; b < batch; b++) {
    const base = b * (C + 1);
    const tokens = Array.from({ length: C }, () => rng.below(vocab));
    const slots = Array.from({ length: C }, (_, i) => base + i);
    for (let start = 0; start < C; start += PREFILL_CHUNK) {
      const end = Math.min(C, start + PREFILL_CHUNK);
      await model.forward({
        sequences: [{ tokens: tokens.slice(start, end), cachedSlots: slots.slice(0, start), newSlots: slots.slice(start, end), logitsFrom: end - start }],
      });
    }
    seqs.push({ tokens: [rng.below(vocab)], cachedSlots: slots, newSlots: [base + C], logitsFrom: 0 });
  }
  return { sequences: seqs };
}

/** Median time to build a step's feeds in JS (part of the runtime's per-step overhead). */
function timeFeeds(shard: ShardRuntime, step: StepDescriptor, n: number): number {
  const rope = new RopeTable(shard.cfg);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    buildStepFeeds(step, shard.cfg, shard.layout, rope, shard.pool, shard.poolSlots);
    ms.push(performance.now() - t);
  }
  return median(ms);
}

/** Interleaved blocks per action (A B C D A B C D …); more blocks spread slow drifts in machine load over all actions. */
const BLOCKS = 4;

/**
 * Times `runs` calls of each action, in BLOCKS rounds of blocks. Calls are grouped in blocks rather
 * than alternated one by one because each session has its own ORT thread pool, whose workers spin
 * for a while after a run: alternating sessions makes them fight the next session for the 2 cores,
 * which the runtime (one session, back-to-back steps) never sees. Each block's first call is
 * untimed for the same reason. Returns ms per action.
 */
async function timeInBlocks(actions: readonly (() => Promise<unknown>)[], runs: number): Promise<number[][]> {
  const ms = actions.map(() => [] as number[]);
  for (let b = 0; b < BLOCKS; b++) {
    const n = Math.ceil((runs * (b + 1)) / BLOCKS) - Math.ceil((runs * b) / BLOCKS);
    for (let a = 0; a < actions.length; a++) {
      for (let i = 0; i < (b === 0 ? WARMUP_RUNS : 1); i++) await actions[a]!();
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await actions[a]!();
        ms[a]!.push(performance.now() - t);
      }
    }
  }
  return ms;
}

async function profileStep(
  graph: string,
  feeds: Record<string, ort.Tensor>,
  options: ort.InferenceSession.SessionOptions,
  runs: number,
  scratch: string,
): Promise<ProfileSplit> {
  const traceDir = mkdtempSync(join(scratch, 'trace-'));
  const session = await ort.InferenceSession.create(graph, {
    ...options,
    enableProfiling: true,
    profileFilePrefix: join(traceDir, 'decode'),
  });
  const inputs = Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
  for (let i = 0; i < WARMUP_RUNS + runs; i++) await session.run(inputs);
  session.endProfiling();
  await session.release();
  const traces = readdirSync(traceDir).filter((f) => f.endsWith('.json'));
  if (traces.length !== 1) throw new Error(`expected one profile in ${traceDir}, found ${traces.length}`);
  const parsed = parseOrtTrace(readFileSync(join(traceDir, traces[0]!), 'utf8')).slice(WARMUP_RUNS);
  rmSync(traceDir, { recursive: true, force: true });
  return splitProfile(parsed, classifyGraph(readFileSync(graph)));
}

const fmt = (v: number) => v.toFixed(2);
const pctOf = (share: number) => (Number.isNaN(share) ? 'n/a' : `${(100 * share).toFixed(0)}%`);

async function main(): Promise<void> {
  const a = parseCli();
  const maxC = Math.max(...a.contexts);
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length} cores, Node ${process.versions.node}, ORT ${ort.env.versions.common}, load avg ${load()}`);
  console.log(`model ${a.model} ${a.dtype}, batch ${a.batch}, threads ${a.threads}, ${a.steps} timed runs per session, ${a.profileRuns} profiled runs per context`);
  let t = performance.now();
  const { shard, cacheEntry: entry, sessionOptions: options } = await loadShardObserved({
    modelDir: a.model,
    tp: 1,
    rank: 0,
    dtype: a.dtype,
    kvSlots: a.batch * (maxC + 1) + 16,
    threads: a.threads,
    cacheDir: a.cacheDir,
  });
  const model = new LocalTensorParallel([shard]);
  // Inside the cache root, so hard links to cache files stay on one file system.
  const scratch = mkdtempSync(join(a.cacheDir, 'profile-decode-'));
  const rng = new SeededRandom(1234);
  const ablation: string[] = [];
  const profiler: string[] = [];
  const details: string[] = [];
  try {
    const graph = await optimizedGraph(entry, options, scratch);
    const ab = await openAblations(entry, options, scratch);
    console.log(`loaded runtime + 3 timing sessions in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    for (const C of a.contexts) {
      t = performance.now();
      const step = await prefill(model, C, a.batch, shard.cfg.vocabSize, rng);
      console.log(`context ${C}: prefilled in ${((performance.now() - t) / 1000).toFixed(1)} s, load avg ${load()}`);
      const { feeds } = buildStepFeeds(step, shard.cfg, shard.layout, new RopeTable(shard.cfg), shard.pool, shard.poolSlots);
      const all = { ...feeds, ...ab.stubFeeds(a.batch) };
      const inputsFor = (s: ort.InferenceSession) => Object.fromEntries(s.inputNames.map((name) => [name, all[name]!]));
      const fullIn = inputsFor(ab.full);
      const noMmIn = inputsFor(ab.noMatmul);
      const noAttIn = inputsFor(ab.noAttention);
      let best: { others: number; ms: number[][] } | null = null;
      for (let attempt = 1; attempt <= a.attempts; attempt++) {
        const before = await waitForQuiet(a.quietThreshold, a.quietWaitS * 1000);
        const meter = OtherCpuMeter.start();
        const ms = await timeInBlocks(
          [() => model.forward(step), () => ab.full.run(fullIn), () => ab.noMatmul.run(noMmIn), () => ab.noAttention.run(noAttIn)],
          a.steps,
        );
        const others = meter.otherShare();
        console.log(`  attempt ${attempt}: others' CPU ${pctOf(before)} in the second before timing, ${pctOf(others)} during it`);
        if (!best || others < best.others) best = { others, ms };
        // Quiet enough, or not measurable (NaN without /proc/stat): another attempt cannot do better.
        if (!(others >= a.quietThreshold)) break;
      }
      const others = best!.others;
      const [stepMs, fullMs, noMmMs, noAttMs] = best!.ms;
      const stepMed = median(stepMs!);
      const mm = median(fullMs!) - median(noMmMs!);
      const att = median(fullMs!) - median(noAttMs!);
      const rest = stepMed - mm - att;
      const pct = (v: number) => `${fmt(v)} (${((100 * v) / stepMed).toFixed(0)}%)`;
      ablation.push(`| ${C} | ${fmt(stepMed)} [${fmt(Math.min(...stepMs!))}–${fmt(Math.max(...stepMs!))}] | ${pct(mm)} | ${pct(att)} | ${pct(rest)} | ${pctOf(others)} |`);
      console.log(ablation.at(-1));
      details.push(
        `context ${C}: session.run medians of the full graph ${fmt(median(fullMs!))} ms, without matmuls ${fmt(median(noMmMs!))} ms, ` +
          `without attention ${fmt(median(noAttMs!))} ms (each with ${ab.stubCount} stub inputs); buildStepFeeds ${fmt(timeFeeds(shard, step, a.steps))} ms`,
      );

      await waitForQuiet(a.quietThreshold, a.quietWaitS * 1000);
      const profMeter = OtherCpuMeter.start();
      const split = await profileStep(graph, feeds, options, a.profileRuns, scratch);
      const profOthers = profMeter.otherShare();
      if (split.unknownNodes.length) console.warn(`  ${split.unknownNodes.length} profiled nodes not in the graph: ${split.unknownNodes.slice(0, 5).join(', ')}`);
      const c = split.byClass;
      profiler.push(
        `| ${C} | ${fmt(c.matmul / 1000)} | ${fmt(c.attention / 1000)} | ${fmt(c.glue / 1000)} | ${fmt(split.kernelSumUs / 1000)} | ${fmt(split.wallUs / 1000)} | ${pctOf(profOthers)} |`,
      );
      const byOp = [...split.byOp.entries()].sort((x, y) => y[1].us - x[1].us);
      for (const cls of ['matmul', 'attention', 'glue'] as NodeClass[]) {
        const parts = byOp.filter(([k]) => k.startsWith(`${cls}:`)).map(([k, v]) => `${k.slice(cls.length + 1)} ${fmt(v.us / 1000)}×${v.nodes}`);
        details.push(`  profiled ${cls} (ms × nodes): ${parts.join(', ')}`);
      }
    }
    await Promise.all([ab.full.release(), ab.noMatmul.release(), ab.noAttention.release()]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await model.release();
  }
  console.log(`\n${a.model} ${a.dtype}, batch ${a.batch}, ${a.threads} threads. Ablation split, medians of ${a.steps} runs each in ${BLOCKS} interleaved blocks:\n`);
  console.log("| context | step ms (median [min–max]) | matmuls ms (%) | attention ms (%) | glue+overhead ms (%) | others' CPU |");
  console.log('|---|---|---|---|---|---|');
  for (const r of ablation) console.log(r);
  console.log(`\nORT profiler (per-node medians over ${a.profileRuns} runs; inflated by profiling, see header):\n`);
  console.log("| context | matmul kernels ms | attention kernels ms | glue kernels ms | kernel sum ms | profiled run ms | others' CPU |");
  console.log('|---|---|---|---|---|---|---|');
  for (const r of profiler) console.log(r);
  console.log(`\n${details.join('\n')}`);
}

await main();
