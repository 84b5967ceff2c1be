/**
 * arbor's side of issue 19's GPU benchmarks: runs the workloads of bench/gpu/workloads.json on
 * arbor's built dist (`device: 'webgpu'`, or `--device cpu` for the CPU row on the same machine) and
 * appends one JSON line per measurement to --out (bench/gpu/README.md lists the fields).
 *
 *   node bench/gpu/arbor-gpu.mjs --model DIR --device webgpu --dtype fp16 [--workloads w2,w3,w1,prefill]
 *       [--preset full|tiny] [--round N] [--repeats N] [--out FILE] [--deadline EPOCH_S] [--threads N]
 *   node bench/gpu/arbor-gpu.mjs --model DIR --device webgpu --dtype fp16 --workloads mem   (its own process)
 *
 * Plain JavaScript (no tsx on the GPU machine). arbor is $ARBOR_DIST (a dist/index.js) or this
 * checkout's dist; onnxruntime-node and onnx-proto (for the MatMul reference) are resolved from
 * beside that dist, so a bundle that carries dist and node_modules elsewhere works too.
 */
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  JsonlOut, deadlineFrom, gpuMemoryMiB, loadPreset, machineLine, median, nowS, percentile, prefillFlops, readHfConfig,
  singlePrompt, w1Data, w2Prompts,
} from './lib.mjs';

const WORKLOADS = ['w2', 'w3', 'w1', 'prefill', 'mem'];
const DTYPES = { webgpu: ['fp16', 'fp32', 'q4'], cpu: ['fp32', 'q8', 'q4'] };

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    name: { type: 'string' },
    device: { type: 'string', default: 'webgpu' },
    dtype: { type: 'string' },
    workloads: { type: 'string', default: 'w2,w3,w1,prefill' },
    preset: { type: 'string', default: 'full' },
    round: { type: 'string', default: '0' },
    repeats: { type: 'string', default: '1' },
    out: { type: 'string' },
    deadline: { type: 'string' },
    threads: { type: 'string', default: String(cpus().length) },
    'cache-dir': { type: 'string' },
    'no-warmup': { type: 'boolean', default: false },
  },
});

const fail = (msg) => {
  console.error(`arbor-gpu: ${msg}`);
  process.exit(2);
};
if (!args.model) fail('--model DIR (a Hugging Face folder) is required');
const device = args.device;
if (!(device in DTYPES)) fail(`--device must be webgpu or cpu (got ${device})`);
const dtype = args.dtype ?? DTYPES[device][0];
if (!DTYPES[device].includes(dtype)) fail(`--dtype for ${device} must be one of ${DTYPES[device].join(', ')} (got ${dtype})`);
const workloads = args.workloads.split(',').map((w) => w.trim());
for (const w of workloads) if (!WORKLOADS.includes(w)) fail(`unknown workload ${w} (known: ${WORKLOADS.join(', ')})`);
// The memory ratio must start from a fresh engine: after W2 the GPU allocator already holds its peak.
const round = Number(args.round);
const repeats = Number(args.repeats);
if (workloads.includes('mem') && (workloads.length > 1 || repeats > 1)) fail('--workloads mem runs alone and once (a fresh engine is its baseline)');
const threads = Number(args.threads);
const deadline = deadlineFrom(args.deadline);
const preset = loadPreset(args.preset);
const modelDir = resolve(args.model);
const cfg = readHfConfig(modelDir);
const log = (line) => console.error(`[arbor ${device} ${dtype}] ${line}`);

const distPath = process.env['ARBOR_DIST'] ? resolve(process.env['ARBOR_DIST']) : join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'index.js');
const requireNearDist = createRequire(distPath);
const ort = requireNearDist('onnxruntime-node');
const { Engine } = await import(pathToFileURL(distPath).href);
// The fp16 encoder arbor's own graph builder uses (dist/shards/graph/float16.js, built from src/).
const { toFloat16 } = await import(pathToFileURL(join(dirname(distPath), 'shards', 'graph', 'float16.js')).href);

const system = `arbor ${device} ${dtype}`;
const out = new JsonlOut(args.out, {
  engine: 'arbor', system, device, dtype, model: args.name ?? basename(modelDir), round, preset: args.preset,
  machine: machineLine(ort.env.versions.node),
});

const started = performance.now();
const engine = await Engine.create({
  model: modelDir, device, dtype, threadsPerShard: threads, ...preset.engine, ...(args['cache-dir'] ? { cacheDir: args['cache-dir'] } : {}),
});
log(`engine ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

/** Timestamps (ms) of every output token of one streamed request. */
async function streamStamps(inputIds, maxTokens) {
  const stamps = [];
  const tokens = [];
  for await (const c of engine.stream({ inputIds, maxTokens, temperature: 0, ignoreEos: true })) {
    const now = performance.now();
    for (const t of c.tokenIds) {
      stamps.push(now);
      tokens.push(t);
    }
  }
  return { stamps, tokens };
}

/** W2: all requests at once; output tokens/s from first submit to last token, and the gaps between a request's tokens. */
async function w2(outputLen) {
  const prompts = w2Prompts(cfg, preset.w2, round);
  await engine.flushCache();
  const start = performance.now();
  const runs = await Promise.all(prompts.map((p) => streamStamps(p, outputLen)));
  const end = Math.max(...runs.map((r) => r.stamps.at(-1)));
  const tokens = runs.reduce((n, r) => n + r.stamps.length, 0);
  const gaps = runs.flatMap((r) => r.stamps.slice(1).map((t, i) => t - r.stamps[i]));
  return {
    metric: 'output tok/s',
    value: tokens / ((end - start) / 1000),
    extra: { seconds: (end - start) / 1000, tokens, p50GapMs: percentile(gaps, 50), p99GapMs: percentile(gaps, 99), medianTtftMs: median(runs.map((r) => r.stamps[0] - start)) },
  };
}

/** W3: one cold request; TTFT, then decode tokens/s = (tokens − 1) / (last − first token). */
async function w3(outputLen) {
  await engine.flushCache();
  const start = performance.now();
  const { stamps, tokens } = await streamStamps(singlePrompt(cfg, preset.w3, round), outputLen);
  const decodeS = (stamps.at(-1) - stamps[0]) / 1000;
  return {
    metric: 'decode tok/s',
    value: (stamps.length - 1) / decodeS,
    extra: { ttftMs: stamps[0] - start, decodeMsPerToken: (decodeS * 1000) / (stamps.length - 1), tokens: stamps.length, firstTokens: tokens.slice(0, 16) },
  };
}

/**
 * W1: every (prefix + suffix) submitted at once with maxTokens 0 and prompt logprobs from the
 * prefix length, as bench/workloads/w1.ts does; log p(suffix) is the sum of those logprobs. The
 * radix cache (flushed first) is what computes each prefix once.
 */
async function w1(groups) {
  const d = w1Data(cfg, preset.w1, round);
  const { prefix, suffixes } = preset.w1;
  await engine.flushCache();
  let cached = 0;
  let prompt = 0;
  const start = performance.now();
  const jobs = [];
  for (let g = 0; g < groups; g++)
    for (let k = 0; k < suffixes; k++)
      jobs.push(
        engine.generate({ inputIds: [...d.prefixes[g], ...d.suffixes[g][k]], maxTokens: 0, promptLogprobsFrom: prefix }).then((r) => {
          cached += r.usage.cachedTokens;
          prompt += r.usage.promptTokens;
          return r.promptLogprobs.reduce((s, x) => s + (x.logprob ?? 0), 0);
        }),
      );
  const lps = await Promise.all(jobs);
  const seconds = (performance.now() - start) / 1000;
  return { metric: 'sequences/s', value: lps.length / seconds, extra: { seconds, sequences: lps.length, cacheHit: cached / prompt, lps } };
}

/** MatMuls in one session run (per-run overhead, ~1.3 ms on the WebGPU EP, is shared by this many). */
const MATMUL_CHAIN = 8;

/** MatMul sessions on this EP, built once per (precision, size). */
const matmuls = new Map();

function matmulSession(n, elem) {
  const key = `${elem} ${n}`;
  if (!matmuls.has(key)) matmuls.set(key, createMatmul(n, elem));
  return matmuls.get(key);
}

/**
 * A chain Y = X · W · W ⋯ (MATMUL_CHAIN MatMuls, X [n, n] an input, W [n, n] an initializer) plus
 * `probe` = Y[0:1, 0:1]. On WebGPU, Y stays on the GPU and is fed back as the next run's X (no
 * upload or download of n² values between runs; the replaced tensor is disposed), and reading the
 * one-element probe waits for the chain to finish. (Reading a `gpu-buffer` tensor with getData()
 * aborted the process on lavapipe, onnxruntime-node 1.30; the probe avoids that.) On the CPU EP
 * every output returns to the host anyway.
 */
async function createMatmul(n, elem) {
  const { onnx } = requireNearDist('onnx-proto');
  const fp16 = elem === 'fp16';
  const type = fp16 ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT;
  // Entries of variance 1/n keep X·W about as large as X, so the fed-back chain stays finite.
  const a = Math.sqrt(3 / n);
  const w = new Float32Array(n * n);
  for (let i = 0; i < w.length; i++) w[i] = ((((i * 2654435761) >>> 0) / 2 ** 32) * 2 - 1) * a;
  const x = new Float32Array(n * n).fill(1 / Math.sqrt(n));
  const raw = fp16 ? toFloat16(w) : w;
  const shape = (...dims) => ({ dim: dims.map((dimValue) => ({ dimValue })) });
  const int64s = (name, v) => ({ name, dims: [v.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer) });
  const node = Array.from({ length: MATMUL_CHAIN }, (_, i) => ({
    opType: 'MatMul', name: `mm${i}`, input: [i === 0 ? 'x' : `h${i - 1}`, 'w'], output: [i === MATMUL_CHAIN - 1 ? 'y' : `h${i}`],
  }));
  node.push({ opType: 'Slice', name: 'probe', input: ['y', 'starts', 'ends'], output: ['probe'] });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul-chain',
      node,
      initializer: [{ name: 'w', dims: [n, n], dataType: type, rawData: new Uint8Array(raw.buffer) }, int64s('starts', [0, 0]), int64s('ends', [1, 1])],
      input: [{ name: 'x', type: { tensorType: { elemType: type, shape: shape(n, n) } } }],
      output: [
        { name: 'y', type: { tensorType: { elemType: type, shape: shape(n, n) } } },
        { name: 'probe', type: { tensorType: { elemType: type, shape: shape(1, 1) } } },
      ],
    },
  });
  const options = device === 'webgpu'
    ? { executionProviders: ['webgpu'], graphOptimizationLevel: 'all', preferredOutputLocation: { y: 'gpu-buffer' }, logSeverityLevel: 3 }
    : { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 3 };
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), options);
  let input = fp16 ? new ort.Tensor('float16', toFloat16(x), [n, n]) : new ort.Tensor('float32', x, [n, n]);
  return {
    session,
    /** One timed run of the chain, ms (until the probe is on the host). */
    async run() {
      const t0 = performance.now();
      const o = await session.run({ x: input });
      const ms = performance.now() - t0;
      if (input.location === 'gpu-buffer') input.dispose();
      input = o['y'];
      return ms;
    },
    release() {
      if (input.location === 'gpu-buffer') input.dispose();
      return session.release();
    },
  };
}

/** GFLOP/s of an n×n×n MatMul on this EP: best of 5 chain runs after 2 warm-up runs (shader compile, weight upload). */
async function matmulGflops(n, elem) {
  const mm = await matmulSession(n, elem);
  for (let i = 0; i < 2; i++) await mm.run();
  const ms = [];
  for (let i = 0; i < 5; i++) ms.push(await mm.run());
  const best = Math.min(...ms) / MATMUL_CHAIN;
  return { gflops: (2 * n ** 3) / (best / 1000) / 1e9, ms: best };
}

/** Prefill GFLOP/s of a cold long prompt (TTFT, one output token), then the MatMul peaks it is divided by. */
async function prefill() {
  const L = preset.prefill.promptLen;
  await engine.flushCache();
  const start = performance.now();
  const { stamps } = await streamStamps(singlePrompt(cfg, preset.prefill, round), 1);
  const ttftMs = stamps[0] - start;
  const flops = prefillFlops(cfg, L);
  return { metric: 'prefill GFLOP/s', value: flops.total / (ttftMs / 1000) / 1e9, extra: { ttftMs, tokens: L, gflop: flops.total / 1e9, attentionShare: flops.attention / flops.total } };
}

/** The MatMul elements measured on this EP; the one whose precision arbor's activations have is the prefill's divisor. */
const matmulElems = device === 'webgpu' ? ['fp16', 'fp32'] : ['fp32'];
const matmulDivisor = device === 'webgpu' && dtype !== 'fp32' ? 'fp16' : 'fp32';

/**
 * GPU memory (bench/gpu/lib.mjs gpuMemoryMiB) after the first `firstSteps` batch-1 decode steps and
 * after `steps` (or as many as `maxSeconds` allow), one request of `requestTokens` tokens after
 * another; each output token is one step. Reads after every request give the trajectory.
 */
async function mem() {
  const m = preset.mem;
  const prompt = singlePrompt(cfg, m, round);
  const t0 = performance.now();
  let steps = (await streamStamps(prompt, m.firstSteps)).stamps.length;
  const first = gpuMemoryMiB();
  const trajectory = [[steps, first.mib]];
  let last = first;
  const stopAt = Math.min(deadline, nowS() + m.maxSeconds);
  while (steps < m.steps && nowS() < stopAt) {
    steps += (await streamStamps(prompt, Math.min(m.requestTokens, m.steps - steps))).stamps.length;
    last = gpuMemoryMiB();
    trajectory.push([steps, last.mib]);
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`mem: ${steps} steps in ${seconds.toFixed(1)} s, ${first.mib.toFixed(0)} → ${last.mib.toFixed(0)} MiB (${last.source})`);
  return {
    metric: `memory after ${steps} steps ÷ after ${m.firstSteps}`,
    value: last.mib / first.mib,
    extra: { steps, stepsFirst: m.firstSteps, mibFirst: first.mib, mibLast: last.mib, source: last.source, msPerStep: (seconds * 1000) / steps, trajectory },
  };
}

const full = {
  w2: () => w2(preset.w2.outputLen),
  w3: () => w3(preset.w3.outputLen),
  w1: () => w1(preset.w1.groups),
  prefill,
  mem,
};
// Warm-ups run the measured shapes (same batch, prompt and chunk sizes) so shader compilation and
// allocator growth happen before the clock starts; only their length is cut.
const warm = { w2: () => w2(4), w3: () => w3(8), w1: () => w1(1), prefill };

if (!args['no-warmup']) {
  for (const w of workloads) {
    if (!warm[w]) continue;
    const t0 = performance.now();
    await warm[w]();
    log(`warm-up ${w}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

for (let rep = 0; rep < repeats; rep++) {
  for (const w of workloads) {
    if (nowS() > deadline) {
      log(`deadline passed: ${w} repeat ${rep} not run`);
      out.emit({ kind: 'skipped', workload: w, repeat: rep });
      continue;
    }
    const t0 = performance.now();
    const r = await full[w]();
    out.emit({ kind: 'result', workload: w, repeat: rep, ...r });
    if (w === 'prefill') {
      for (const elem of matmulElems) {
        const n = preset.prefill.matmul;
        const mm = await matmulGflops(n, elem);
        out.emit({ kind: 'result', workload: `matmul-${elem}`, repeat: rep, metric: 'GFLOP/s', value: mm.gflops, extra: { n, msPerRun: mm.ms, divisorOf: elem === matmulDivisor ? 'prefill' : null } });
      }
    }
    log(`${w} repeat ${rep}: ${r.value.toPrecision(4)} ${r.metric} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

for (const mm of matmuls.values()) await (await mm).release();
await engine.close();
// onnxruntime's native handles can keep the event loop alive after close.
process.exit(0);
