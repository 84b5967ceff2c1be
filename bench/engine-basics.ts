/**
 * The engine numbers quoted in the README, measured in one run on the bundled model:
 * greedy decode tokens/s at batch 1 vs batch 32, and the latency of a request whose 500-token
 * prefix is cached vs cold. Runs are interleaved (A B A B …) and reported as medians.
 * Usage: npm run build && npx tsx bench/engine-basics.ts [--rounds 5]
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Engine } from '../dist/index.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, model: { type: 'string' } } });
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const engine = await Engine.create({ ...(values.model ? { model: values.model } : {}), maxRunningRequests: 32, kvCacheTokens: 16384 });
const vocab = engine.tokenizer.vocabSize;
let seed = 1;
const ids = (n: number) => Array.from({ length: n }, () => 3 + ((seed = (seed * 48271) % 2147483647) % (vocab - 3)));
const OUT = 64;

async function decodeRate(batch: number): Promise<number> {
  const prompts = Array.from({ length: batch }, () => ids(16));
  const t0 = performance.now();
  const rs = await Promise.all(prompts.map((p) => engine.generate({ inputIds: p, maxTokens: OUT, temperature: 0, ignoreEos: true })));
  const s = (performance.now() - t0) / 1000;
  return rs.reduce((n, r) => n + r.usage.completionTokens, 0) / s;
}

async function prefixLatency(cached: boolean): Promise<number> {
  const prefix = ids(500);
  if (cached) await engine.generate({ inputIds: prefix, maxTokens: 0 });
  else await engine.flushCache();
  const t0 = performance.now();
  const r = await engine.generate({ inputIds: [...prefix, ...ids(8)], maxTokens: 1, temperature: 0 });
  const ms = performance.now() - t0;
  if (cached !== r.usage.cachedTokens >= 500) throw new Error(`expected cached=${cached}, got cachedTokens ${r.usage.cachedTokens}`);
  return ms;
}

await decodeRate(4); // warm-up
const b1: number[] = [];
const b32: number[] = [];
const warm: number[] = [];
const cold: number[] = [];
for (let i = 0; i < rounds; i++) {
  b1.push(await decodeRate(1));
  b32.push(await decodeRate(32));
  cold.push(await prefixLatency(false));
  warm.push(await prefixLatency(true));
}
const ratios = b32.map((x, i) => x / b1[i]!);
const lat = cold.map((c, i) => c / warm[i]!);
console.log(`machine: ${cpus()[0]?.model} × ${cpus().length}, Node ${process.version}; model ${engine.modelPath}; ${rounds} interleaved rounds`);
console.log(`decode tokens/s  batch 1: ${median(b1).toFixed(0)}  batch 32: ${median(b32).toFixed(0)}  ratio ${median(ratios).toFixed(1)}× (min ${Math.min(...ratios).toFixed(1)}, max ${Math.max(...ratios).toFixed(1)})`);
console.log(`500-token prefix  cold: ${median(cold).toFixed(1)} ms  cached: ${median(warm).toFixed(1)} ms  ratio ${median(lat).toFixed(1)}× (min ${Math.min(...lat).toFixed(1)}, max ${Math.max(...lat).toFixed(1)})`);
await engine.close();
