/**
 * W3 — single stream: one request with an L-token prompt (512): time to first token, then decode
 * tokens/s over O output tokens (256; greedy, EOS ignored). Fresh prompt every run (arbor's cache
 * flushed, node-llama-cpp's sequence cleared), so the TTFT is a cold prefill.
 * Compared at matching precision: arbor fp32/q8/q4 ↔ GGUF F32/Q8_0/Q4_0.
 */
import { arborCacheDir, TokenIds, importArbor, interleave, modelDir, readConfig, specialIds, ggufPath } from '../lib/common.js';
import type { ArborDType, Sample, SystemUnderTest } from '../lib/common.js';
import { generateN, loadModel } from '../lib/nlc.js';
import { publish } from '../lib/report.js';

export interface W3Options {
  model: string;
  dtype: ArborDType;
  pairs: number;
  threads: number;
  promptLen: number;
  outputLen: number;
}

export function streamSample(start: number, stamps: number[]): Sample {
  const ttft = stamps[0]! - start;
  const decodeS = (stamps[stamps.length - 1]! - stamps[0]!) / 1000;
  return { value: (stamps.length - 1) / decodeS, extra: { ttftMs: ttft, decodeMsPerToken: (decodeS * 1000) / (stamps.length - 1), tokens: stamps.length } };
}

export async function runW3(o: W3Options): Promise<void> {
  const cfg = readConfig(o.model);
  const avoid = specialIds(cfg);
  const prompt = (pair: number) => new TokenIds(9000 + pair * 15485863, cfg.vocab_size, avoid).take(o.promptLen);
  const { Engine } = await importArbor();
  console.log('loading arbor and node-llama-cpp …');
  const engine = await Engine.create({ model: modelDir(o.model), dtype: o.dtype, threadsPerShard: o.threads, ...arborCacheDir(o.dtype) });
  const model = await loadModel(ggufPath(o.model, o.dtype), o.threads);
  const ctx = await model.createContext({ contextSize: o.promptLen + o.outputLen + 8, sequences: 1, threads: o.threads });
  const seq = ctx.getSequence();
  const nlcName = `node-llama-cpp (${o.dtype === 'fp32' ? 'F32' : o.dtype === 'q8' ? 'Q8_0' : 'Q4_0'})`;
  const systems: SystemUnderTest[] = [
    {
      name: `arbor (${o.dtype})`,
      async run(pair) {
        const p = prompt(pair);
        await engine.flushCache();
        const stamps: number[] = [];
        const start = performance.now();
        for await (const c of engine.stream({ inputIds: p, maxTokens: pair < 0 ? 8 : o.outputLen, temperature: 0, ignoreEos: true })) {
          const now = performance.now();
          for (let i = 0; i < c.tokenIds.length; i++) stamps.push(now);
        }
        return streamSample(start, stamps);
      },
    },
    {
      name: nlcName,
      async run(pair) {
        const p = prompt(pair);
        await seq.clearHistory();
        const stamps: number[] = [];
        const start = performance.now();
        await generateN(seq, p, pair < 0 ? 8 : o.outputLen, () => stamps.push(performance.now()));
        return streamSample(start, stamps);
      },
    },
  ];
  console.log(`W3 ${o.model} ${o.dtype}: prompt ${o.promptLen}, ${o.outputLen} out; ${o.pairs} pairs`);
  const result = await interleave(systems, o.pairs);
  const notes: string[] = [];
  if (o.promptLen !== 512 || o.outputLen !== 256) notes.push(`REDUCED/CHANGED from BENCHMARKS.md's 512-token prompt, 256 output tokens.`);
  notes.push('Decode tok/s = (tokens − 1) / (last token − first token); TTFT = submit → first token (cold prefill).');
  publish({
    key: `W3 ${o.model} ${o.dtype}`,
    title: `W3 — single stream (${o.model}, ${o.dtype})`,
    metric: 'decode tokens/s',
    settings: `prompt ${o.promptLen}, output ${o.outputLen}, ${o.threads} threads, ${o.pairs} pairs`,
    notes,
    result,
    rows: [
      { label: 'arbor ÷ node-llama-cpp (decode tok/s)', a: `arbor (${o.dtype})`, b: nlcName, target: '≥ 1.0' },
      { label: 'node-llama-cpp TTFT ÷ arbor TTFT', a: `arbor (${o.dtype})`, b: nlcName, key: 'ttftMs', lowerIsBetter: true },
    ],
    extraColumns: [
      { label: 'TTFT ms', key: 'ttftMs' },
      { label: 'ms/token', key: 'decodeMsPerToken' },
    ],
  });
  await engine.close();
  await ctx.dispose();
  await model.dispose();
}
