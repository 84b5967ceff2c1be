import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadShard } from '../../src/shards/shard-loader.js';
import { ARCH_FIXTURES, MODELS, argmax, loadReference, row, rowRelError, tempCacheDir } from '../helpers/fixtures.js';
import { openFixture, runScenarios, type ScenarioLogits } from '../helpers/scenarios.js';

const cacheDir = tempCacheDir();
const TOL = 1e-4;

const fp32Results = new Map<string, ScenarioLogits>();
const open = (name: string, tp: number, dtype: 'fp32' | 'q8' | 'q4' = 'fp32') => openFixture(name, tp, dtype, cacheDir);

for (const name of ARCH_FIXTURES) {
  t.test(`${name}: fp32 logits match transformers (tp=1)`, async (t) => {
    const ref = loadReference(name);
    const model = await open(name, 1);
    const got = await runScenarios(model, ref);
    await model.release();
    fp32Results.set(name, got);
    let worst = 0;
    ref.prompts.forEach((p, i) => p.forEach((_, j) => (worst = Math.max(worst, rowRelError(got.prefill[i]![j]!, ref.prefill_logits[i]![j]!)))));
    ref.greedy.forEach((g, i) => {
      t.same(got.greedy[i]!.tokens, g.tokens, `prompt ${i} greedy tokens`);
      g.logits.forEach((l, j) => (worst = Math.max(worst, rowRelError(got.greedy[i]!.logits[j]!, l))));
    });
    ref.extend.logits.forEach((l, j) => (worst = Math.max(worst, rowRelError(got.extend[j]!, l))));
    worst = Math.max(worst, rowRelError(got.mixedPrefillLast, ref.prefill_logits[1]!.at(-1)!));
    t.comment(`${name} tp=1 max relative error ${worst.toExponential(2)}`);
    t.ok(worst <= TOL, `max relative error ${worst} ≤ ${TOL}`);
  });

  t.test(`${name}: tp=2`, async (t) => {
    if (name === 'llama-mqa') {
      await t.rejects(open(name, 2), /tp=2 does not divide num_key_value_heads=1/);
      return;
    }
    const ref = loadReference(name);
    const model = await open(name, 2);
    const got = await runScenarios(model, ref);
    await model.release();
    const base = fp32Results.get(name)!;
    let vsRef = 0;
    let vsTp1 = 0;
    ref.prompts.forEach((p, i) =>
      p.forEach((_, j) => {
        vsRef = Math.max(vsRef, rowRelError(got.prefill[i]![j]!, ref.prefill_logits[i]![j]!));
        vsTp1 = Math.max(vsTp1, rowRelError(got.prefill[i]![j]!, base.prefill[i]![j]!));
      }),
    );
    got.greedy.forEach((g, i) => {
      t.same(g.tokens, ref.greedy[i]!.tokens, `prompt ${i} greedy tokens`);
      g.logits.forEach((l, j) => (vsTp1 = Math.max(vsTp1, rowRelError(l, base.greedy[i]!.logits[j]!))));
    });
    got.extend.forEach((l, j) => {
      vsRef = Math.max(vsRef, rowRelError(l, ref.extend.logits[j]!));
      vsTp1 = Math.max(vsTp1, rowRelError(l, base.extend[j]!));
    });
    t.comment(`${name} tp=2 max relative error vs transformers ${vsRef.toExponential(2)}, vs tp=1 ${vsTp1.toExponential(2)}`);
    t.ok(vsRef <= TOL, `vs transformers ${vsRef} ≤ ${TOL}`);
    t.ok(vsTp1 <= 1e-5, `vs tp=1 ${vsTp1} ≤ 1e-5`);
  });
}

/** Arbor-tiny's transformers greedy sequences: a trained model, whose top-1 is meaningful to compare. */
async function bundledArgmaxes(dtype: 'fp32' | 'q8' | 'q4'): Promise<number[]> {
  const ref = JSON.parse(readFileSync(join(MODELS, 'arbor-tiny', 'greedy-reference.json'), 'utf8')) as {
    references: { prompt_ids: number[]; greedy_ids: number[] }[];
  };
  const shard = await loadShard({ modelDir: join(MODELS, 'arbor-tiny'), tp: 1, rank: 0, dtype, kvSlots: 512, threads: 2, cacheDir });
  const out: number[] = [];
  let slot = 0;
  for (const r of ref.references) {
    const tokens = [...r.prompt_ids, ...r.greedy_ids];
    const step = { sequences: [{ tokens, cachedSlots: [], newSlots: tokens.map(() => slot++), logitsFrom: 0 }] };
    const logits = (await shard.forward(step).next()).value as Float32Array;
    tokens.forEach((_, i) => out.push(argmax(row(logits, i, shard.cfg.vocabSize))));
  }
  await shard.release();
  return out;
}

/** Measured top-1 agreement floors (docs/ARCHITECTURE.md): q8 meets the 95% target; q4 does not on models this small. */
const AGREEMENT_FLOOR = { q8: 0.95, q4: 0.85 };

for (const dtype of ['q8', 'q4'] as const) {
  t.test(`${dtype}: top-1 agreement with fp32`, async (t) => {
    let agree = 0;
    let total = 0;
    for (const name of ARCH_FIXTURES) {
      const ref = loadReference(name);
      const model = await open(name, 1, dtype);
      const got = await runScenarios(model, ref);
      await model.release();
      let a = 0;
      let n = 0;
      const cmp = (x: ArrayLike<number>, y: ArrayLike<number>) => {
        n++;
        if (argmax(x) === argmax(y)) a++;
      };
      ref.prompts.forEach((p, i) => p.forEach((_, j) => cmp(got.prefill[i]![j]!, ref.prefill_logits[i]![j]!)));
      ref.extend.logits.forEach((l, j) => cmp(got.extend[j]!, l));
      t.comment(`${dtype} ${name} (random weights): ${a}/${n} top-1 agree`);
      agree += a;
      total += n;
    }
    t.comment(`${dtype} random-weight fixtures: ${((100 * agree) / total).toFixed(1)}% (${agree}/${total})`);
    const base = await bundledArgmaxes('fp32');
    const quant = await bundledArgmaxes(dtype);
    const same = quant.filter((x, i) => x === base[i]).length;
    const ratio = same / base.length;
    t.comment(`${dtype} arbor-tiny: ${(100 * ratio).toFixed(1)}% (${same}/${base.length}) top-1 agree with fp32`);
    t.ok(ratio >= AGREEMENT_FLOOR[dtype], `${dtype} arbor-tiny agreement ${ratio.toFixed(3)} ≥ ${AGREEMENT_FLOOR[dtype]}`);
  });
}
