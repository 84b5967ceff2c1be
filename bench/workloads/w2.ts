/**
 * W2 — batched decode: R concurrent requests (default 64), prompts of L tokens (128), O output
 * tokens each (128, EOS ignored, greedy). Metric: output tokens/s over the whole batch (first
 * submit to last token), plus p50/p99 of the time between consecutive output tokens of a request.
 *
 * node-llama-cpp: one context with one sequence per concurrent request (its batching merges the
 * sequences' tokens into one decode); every request is its own sequence, all started at once.
 */
import { arborCacheDir, TokenIds, importArbor, interleave, median, modelDir, percentile, readConfig, specialIds, ggufPath } from '../lib/common.js';
import type { ArborDType, Sample, SystemUnderTest } from '../lib/common.js';
import { generateN, loadModel } from '../lib/nlc.js';
import { publish } from '../lib/report.js';

export interface W2Options {
  model: string;
  dtype: ArborDType;
  pairs: number;
  threads: number;
  requests: number;
  promptLen: number;
  outputLen: number;
}

/** Output tokens/s and inter-token gaps from per-request token timestamps. */
function summarizeTimes(start: number, stamps: number[][]): Sample {
  const end = Math.max(...stamps.map((s) => s[s.length - 1] ?? start));
  const tokens = stamps.reduce((n, s) => n + s.length, 0);
  const gaps: number[] = [];
  const ttft: number[] = [];
  for (const s of stamps) {
    ttft.push(s[0]! - start);
    for (let i = 1; i < s.length; i++) gaps.push(s[i]! - s[i - 1]!);
  }
  return {
    value: tokens / ((end - start) / 1000),
    extra: { seconds: (end - start) / 1000, tokens, p50TpotMs: percentile(gaps, 50), p99TpotMs: percentile(gaps, 99), medianTtftMs: median(ttft) },
  };
}

export async function runW2(o: W2Options): Promise<void> {
  const cfg = readConfig(o.model);
  const avoid = specialIds(cfg);
  const prompts = (pair: number) => {
    const ids = new TokenIds(5000 + pair * 104729, cfg.vocab_size, avoid);
    return Array.from({ length: o.requests }, () => ids.take(o.promptLen));
  };
  const { Engine } = await importArbor();
  console.log('loading arbor and node-llama-cpp …');
  const engine = await Engine.create({ model: modelDir(o.model), dtype: o.dtype, threadsPerShard: o.threads, ...arborCacheDir(o.dtype) });
  const model = await loadModel(ggufPath(o.model, o.dtype), o.threads);
  const ctx = await model.createContext({ contextSize: o.promptLen + o.outputLen + 8, sequences: o.requests, threads: o.threads });
  const seqs = Array.from({ length: o.requests }, () => ctx.getSequence());
  const warmOut = 4;

  const systems: SystemUnderTest[] = [
    {
      name: 'arbor',
      async run(pair) {
        const ps = prompts(pair);
        const out = pair < 0 ? warmOut : o.outputLen;
        await engine.flushCache();
        const start = performance.now();
        const stamps = await Promise.all(
          ps.map(async (p) => {
            const t: number[] = [];
            for await (const c of engine.stream({ inputIds: p, maxTokens: out, temperature: 0, ignoreEos: true })) {
              const now = performance.now();
              for (let i = 0; i < c.tokenIds.length; i++) t.push(now);
            }
            return t;
          }),
        );
        return summarizeTimes(start, stamps);
      },
    },
    {
      name: `node-llama-cpp ${o.requests} seqs`,
      async run(pair) {
        const ps = prompts(pair);
        const out = pair < 0 ? warmOut : o.outputLen;
        await Promise.all(seqs.map((s) => s.clearHistory()));
        const start = performance.now();
        const stamps = await Promise.all(
          ps.map(async (p, i) => {
            const t: number[] = [];
            await generateN(seqs[i]!, p, out, () => t.push(performance.now()));
            return t;
          }),
        );
        return summarizeTimes(start, stamps);
      },
    },
  ];
  console.log(`W2 ${o.model} ${o.dtype}: ${o.requests} requests × ${o.promptLen} prompt → ${o.outputLen} out; ${o.pairs} pairs`);
  const result = await interleave(systems, o.pairs);
  const notes: string[] = [];
  if (o.requests !== 64 || o.promptLen !== 128 || o.outputLen !== 128) notes.push(`REDUCED/CHANGED from BENCHMARKS.md's 64 requests × 128 → 128.`);
  notes.push('Greedy, EOS ignored, fresh prompts per pair (arbor cache flushed; node-llama-cpp sequences cleared). Gaps = time between consecutive tokens of one request, all requests pooled.');
  publish({
    key: `W2 ${o.model} ${o.dtype}`,
    title: `W2 — batched decode (${o.model}, ${o.dtype})`,
    metric: 'output tokens/s',
    settings: `${o.requests} concurrent requests, prompt ${o.promptLen}, output ${o.outputLen}, ${o.threads} threads, ${o.pairs} pairs`,
    notes,
    result,
    rows: [{ label: 'arbor ÷ node-llama-cpp (output tok/s)', a: 'arbor', b: `node-llama-cpp ${o.requests} seqs`, target: '≥ 3' }],
    extraColumns: [
      { label: 's/run', key: 'seconds' },
      { label: 'p50 gap ms', key: 'p50TpotMs' },
      { label: 'p99 gap ms', key: 'p99TpotMs' },
      { label: 'TTFT ms', key: 'medianTtftMs' },
    ],
  });
  await engine.close();
  await ctx.dispose();
  await model.dispose();
}
