import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadShard } from '../../src/shards/shard-loader.js';
import type { ShardDevice, ShardDType } from '../../src/shards/device.js';
import { ARCH_FIXTURES, MODELS, argmax, loadReference, row, rowRelError, tempCacheDir } from '../helpers/fixtures.js';
import { openFixture, runScenarios, type ScenarioLogits } from '../helpers/scenarios.js';
import { requireWebGpu } from '../helpers/webgpu.js';

const cacheDir = tempCacheDir();
const TOL = 1e-4;

/** Max relative error over every logits row of two scenario runs, and whether greedy tokens agree. */
function compare(a: ScenarioLogits, b: ScenarioLogits): { worst: number; sameTokens: boolean } {
  let worst = 0;
  const each = (x: Float32Array, y: Float32Array) => (worst = Math.max(worst, rowRelError(x, y)));
  a.prefill.forEach((p, i) => p.forEach((l, j) => each(l, b.prefill[i]![j]!)));
  a.greedy.forEach((g, i) => g.logits.forEach((l, j) => each(l, b.greedy[i]!.logits[j]!)));
  a.extend.forEach((l, j) => each(l, b.extend[j]!));
  each(a.mixedPrefillLast, b.mixedPrefillLast);
  return { worst, sameTokens: a.greedy.every((g, i) => g.tokens.join() === b.greedy[i]!.tokens.join()) };
}

for (const name of ARCH_FIXTURES) {
  for (const tp of [1, 2]) {
    t.test(`${name} tp=${tp}: fp32 logits on WebGPU match the CPU EP (prefill, decode, extend, ragged mixed batch)`, async (t) => {
      if (!requireWebGpu(t)) return;
      if (name === 'llama-mqa' && tp === 2) {
        await t.rejects(openFixture(name, 2, 'fp32', cacheDir, 'webgpu'), /tp=2 does not divide num_key_value_heads=1/);
        return;
      }
      const ref = loadReference(name);
      const cpu = await openFixture(name, tp, 'fp32', cacheDir);
      const expected = await runScenarios(cpu, ref);
      await cpu.release();
      const gpu = await openFixture(name, tp, 'fp32', cacheDir, 'webgpu');
      const got = await runScenarios(gpu, ref);
      await gpu.release();
      const { worst, sameTokens } = compare(got, expected);
      t.comment(`${name} tp=${tp} WebGPU fp32 vs CPU: max relative error ${worst.toExponential(2)}`);
      t.ok(worst <= TOL, `max relative error ${worst} ≤ ${TOL}`);
      t.ok(sameTokens, 'greedy tokens equal the CPU EP\'s');
    });
  }
}

/** Logits rows of arbor-tiny over its transformers greedy sequences (prompt + 32 greedy tokens), teacher-forced. */
async function bundledLogits(device: ShardDevice, dtype: ShardDType): Promise<Float32Array[]> {
  const ref = JSON.parse(readFileSync(join(MODELS, 'arbor-tiny', 'greedy-reference.json'), 'utf8')) as { references: { prompt_ids: number[]; greedy_ids: number[] }[] };
  const shard = await loadShard({ modelDir: join(MODELS, 'arbor-tiny'), tp: 1, rank: 0, device, dtype, kvSlots: 512, threads: 2, cacheDir });
  const rows: Float32Array[] = [];
  let slot = 0;
  for (const r of ref.references) {
    const tokens = [...r.prompt_ids, ...r.greedy_ids];
    const logits = (await shard.forward({ sequences: [{ tokens, cachedSlots: [], newSlots: tokens.map(() => slot++), logitsFrom: 0 }] }).next()).value as Float32Array;
    tokens.forEach((_, i) => rows.push(row(logits, i, shard.cfg.vocabSize).slice()));
  }
  await shard.release();
  return rows;
}

/** KL(p ‖ q) in nats between the softmaxes of two logits rows, in float64. */
function klDivergence(p: Float32Array, q: Float32Array): number {
  const logSoftmax = (x: Float32Array) => {
    let max = -Infinity;
    for (const v of x) max = Math.max(max, v);
    let sum = 0;
    for (const v of x) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    return Float64Array.from(x, (v) => v - lse);
  };
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) kl += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
  return kl;
}

t.test('fp16 on WebGPU (arbor-tiny): mean KL(fp32 ‖ fp16) ≤ 1e-3 nats over the reference positions; top-1 agreement reported', async (t) => {
  if (!requireWebGpu(t)) return;
  const fp32 = await bundledLogits('cpu', 'fp32');
  const fp16 = await bundledLogits('webgpu', 'fp16');
  t.equal(fp16.length, fp32.length);
  const kls = fp32.map((p, i) => klDivergence(p, fp16[i]!));
  const meanKl = kls.reduce((a, b) => a + b, 0) / kls.length;
  const agree = fp32.filter((p, i) => argmax(p) === argmax(fp16[i]!)).length;
  t.comment(`arbor-tiny fp16 (WebGPU) vs fp32 (CPU): mean KL ${meanKl.toExponential(2)} nats (max ${Math.max(...kls).toExponential(2)}), top-1 agreement ${((100 * agree) / fp32.length).toFixed(1)}% (${agree}/${fp32.length})`);
  t.ok(meanKl <= 1e-3, `mean KL ${meanKl} ≤ 1e-3`);
});
