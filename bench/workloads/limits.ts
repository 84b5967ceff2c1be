/**
 * Limits — how close arbor gets to this machine's ceilings, each measured in the same run,
 * interleaved with the engine measurement it bounds:
 * - prefill GFLOP/s = 2 × (transformer matmul parameters) × prompt tokens / TTFT of a cold
 *   L-token prompt (LM head counted for the one position it runs on), against a large square
 *   fp32 MatMul (N×N by an N×N initializer, pre-packed as arbor's weights are) through
 *   onnxruntime-node with the same intra-op thread count;
 * - batch-1 decode weight bandwidth = matmul weight bytes read per step (layers + LM head, in
 *   arbor's storage format) / step time, against memcpy of a 256 MiB buffer, one copy per thread
 *   in `threads` worker threads at once (bytes copied per second, i.e. counting the read side).
 * node-llama-cpp's prefill and decode on the same formula are printed for reference.
 */
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { arborCacheDir, TokenIds, arborBytesPerWeight, fmt, importArbor, interleave, matmulParams, median, modelDir, readConfig, specialIds, ggufPath } from '../lib/common.js';
import type { ArborDType, SystemUnderTest } from '../lib/common.js';
import { generateN, loadModel } from '../lib/nlc.js';
import { publish } from '../lib/report.js';
import { streamSample } from './w3.js';

export interface LimitsOptions {
  model: string;
  dtype: ArborDType;
  pairs: number;
  threads: number;
  gemmSize: number;
  promptLen: number;
  outputLen: number;
}

/** A session computing Y = X · W for X [n, n] (input) and W [n, n] (initializer). */
async function gemmSession(n: number, threads: number): Promise<{ run: () => Promise<number> }> {
  const { onnx } = onnxProto;
  const w = new Float32Array(n * n);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'gemm',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'mm' }],
      initializer: [{ name: 'w', dims: [n, n], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(w.buffer) }],
      input: [{ name: 'x', type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } } }],
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const x = new ort.Tensor('float32', new Float32Array(n * n).fill(0.01), [n, n]);
  return {
    async run() {
      const t0 = performance.now();
      await session.run({ x });
      return (performance.now() - t0) / 1000;
    },
  };
}

const MEMCPY_BYTES = 256 * 2 ** 20;
const memcpyWorkerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const a = Buffer.alloc(workerData.bytes, 1), b = Buffer.alloc(workerData.bytes);
a.copy(b); // first touch
parentPort.on('message', (m) => {
  if (m === 'stop') { parentPort.close(); return; }
  Atomics.wait(new Int32Array(workerData.gate), 0, 0);
  const t0 = performance.now();
  for (let i = 0; i < m; i++) a.copy(b);
  parentPort.postMessage(performance.now() - t0);
});
`;

/** Aggregate memcpy GB/s of `threads` threads copying their own buffers at the same time. */
async function memcpyMeter(threads: number): Promise<{ run: () => Promise<number>; close: () => Promise<void> }> {
  const gate = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, () => new Worker(memcpyWorkerSource, { eval: true, workerData: { bytes: MEMCPY_BYTES, gate } }));
  const reps = 4;
  return {
    async run() {
      const g = new Int32Array(gate);
      Atomics.store(g, 0, 0);
      const done = workers.map((w) => new Promise<number>((res) => w.once('message', res)));
      workers.forEach((w) => w.postMessage(reps));
      await new Promise((r) => setTimeout(r, 20));
      Atomics.store(g, 0, 1);
      Atomics.notify(g, 0);
      const ms = await Promise.all(done);
      return (threads * reps * MEMCPY_BYTES) / (Math.max(...ms) / 1000) / 1e9;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

export async function runLimits(o: LimitsOptions): Promise<void> {
  const cfg = readConfig(o.model);
  const avoid = specialIds(cfg);
  const { layers, lmHead } = matmulParams(cfg);
  const prefillFlops = 2 * layers * o.promptLen + 2 * lmHead;
  const decodeBytes = (layers + lmHead) * arborBytesPerWeight(o.dtype);
  const prompt = (pair: number) => new TokenIds(31337 + pair * 982451653, cfg.vocab_size, avoid).take(o.promptLen);

  const { Engine } = await importArbor();
  const engine = await Engine.create({ model: modelDir(o.model), dtype: o.dtype, threadsPerShard: o.threads, ...arborCacheDir(o.dtype) });
  const model = await loadModel(ggufPath(o.model, o.dtype), o.threads);
  const ctx = await model.createContext({ contextSize: o.promptLen + o.outputLen + 8, sequences: 1, threads: o.threads });
  const seq = ctx.getSequence();
  const gemm = await gemmSession(o.gemmSize, o.threads);
  const memcpy = await memcpyMeter(o.threads);
  const gemmFlops = 2 * o.gemmSize ** 3;

  const arborStream = async (pair: number, maxTokens: number) => {
    await engine.flushCache();
    const stamps: number[] = [];
    const start = performance.now();
    for await (const c of engine.stream({ inputIds: prompt(pair), maxTokens, temperature: 0, ignoreEos: true })) {
      const now = performance.now();
      for (let i = 0; i < c.tokenIds.length; i++) stamps.push(now);
    }
    return streamSample(start, stamps);
  };
  const nlcStream = async (pair: number, maxTokens: number) => {
    await seq.clearHistory();
    const stamps: number[] = [];
    const start = performance.now();
    await generateN(seq, prompt(pair), maxTokens, () => stamps.push(performance.now()));
    return streamSample(start, stamps);
  };

  const systems: SystemUnderTest[] = [
    {
      name: `GEMM peak (MatMul ${o.gemmSize}², fp32, ORT)`,
      async run() {
        const ts: number[] = [];
        for (let i = 0; i < 5; i++) ts.push(await gemm.run());
        return { value: gemmFlops / Math.min(...ts) / 1e9, extra: { bestMs: Math.min(...ts) * 1000 } };
      },
    },
    {
      name: `arbor prefill (${o.dtype})`,
      async run(pair) {
        const s = await arborStream(pair, 1);
        return { value: prefillFlops / (Number(s.extra!['ttftMs']) / 1000) / 1e9, extra: { ttftMs: Number(s.extra!['ttftMs']) } };
      },
    },
    {
      name: `memcpy (${o.threads} threads)`,
      async run() {
        const xs: number[] = [];
        for (let i = 0; i < 3; i++) xs.push(await memcpy.run());
        return { value: Math.max(...xs) };
      },
    },
    {
      name: `arbor decode batch 1 (${o.dtype})`,
      async run(pair) {
        const s = await arborStream(pair, pair < 0 ? 8 : o.outputLen);
        const msPerTok = Number(s.extra!['decodeMsPerToken']);
        return { value: decodeBytes / (msPerTok / 1000) / 1e9, extra: { msPerToken: msPerTok } };
      },
    },
    {
      name: 'node-llama-cpp prefill (reference)',
      async run(pair) {
        const s = await nlcStream(pair, 1);
        return { value: prefillFlops / (Number(s.extra!['ttftMs']) / 1000) / 1e9, extra: { ttftMs: Number(s.extra!['ttftMs']) } };
      },
    },
    {
      name: 'node-llama-cpp decode batch 1 (reference)',
      async run(pair) {
        const s = await nlcStream(pair, pair < 0 ? 8 : o.outputLen);
        const msPerTok = Number(s.extra!['decodeMsPerToken']);
        return { value: decodeBytes / (msPerTok / 1000) / 1e9, extra: { msPerToken: msPerTok } };
      },
    },
  ];
  console.log(`limits ${o.model} ${o.dtype}: prompt ${o.promptLen}, decode ${o.outputLen}; ${o.pairs} pairs`);
  const result = await interleave(systems, o.pairs);
  await memcpy.close();
  const names = systems.map((s) => s.name);
  const gb = (n: number) => `${(n / 1e9).toFixed(3)} GB`;
  publish({
    key: `LIMITS ${o.model} ${o.dtype}`,
    title: `Limits — prefill vs GEMM peak, batch-1 decode vs memcpy (${o.model}, ${o.dtype})`,
    metric: 'GFLOP/s or GB/s (per row)',
    settings: `prompt ${o.promptLen} tokens (cold), decode ${o.outputLen} tokens, GEMM ${o.gemmSize}³, memcpy ${MEMCPY_BYTES / 2 ** 20} MiB per thread, ${o.threads} threads, ${o.pairs} pairs`,
    notes: [
      `Prefill FLOPs = 2 × ${(layers / 1e6).toFixed(1)}M transformer matmul params × ${o.promptLen} + 2 × ${(lmHead / 1e6).toFixed(1)}M LM head (1 position) = ${(prefillFlops / 1e9).toFixed(1)} GFLOP (attention score FLOPs not counted).`,
      `Decode bytes/step = (${(layers / 1e6).toFixed(1)}M + ${(lmHead / 1e6).toFixed(1)}M LM-head) params × ${arborBytesPerWeight(o.dtype).toFixed(3)} B (arbor's ${o.dtype} storage) = ${gb(decodeBytes)}; KV reads not counted. node-llama-cpp rows use the same byte count (GGUF ${o.dtype} is within a few % of it).`,
      'node-llama-cpp prefill/decode rows are for reference (same formulas), not targets.',
    ],
    result,
    rows: [
      { label: 'arbor prefill GFLOP/s ÷ GEMM peak', a: names[1]!, b: names[0]!, target: '≥ 0.6' },
      { label: 'arbor decode GB/s ÷ memcpy GB/s', a: names[3]!, b: names[2]! },
      { label: 'node-llama-cpp prefill GFLOP/s ÷ GEMM peak (reference)', a: names[4]!, b: names[0]! },
      { label: 'node-llama-cpp decode GB/s ÷ memcpy GB/s (reference)', a: names[5]!, b: names[2]! },
    ],
    extraColumns: [
      { label: 'TTFT ms', key: 'ttftMs' },
      { label: 'ms/token', key: 'msPerToken' },
    ],
    footer: [`Medians: GEMM ${fmt(median(result.samples.get(names[0]!)!.map((s) => s.value)))} GFLOP/s; memcpy ${fmt(median(result.samples.get(names[2]!)!.map((s) => s.value)))} GB/s.`],
  });
  await engine.close();
  await ctx.dispose();
  await model.dispose();
}
