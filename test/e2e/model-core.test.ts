import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadShard } from '../../src/shards/shard-loader.js';
import { LocalTensorParallel } from '../../src/shards/local-tensor-parallel.js';
import type { StepSequence } from '../../src/shards/step.js';
import { ARCH_FIXTURES, FIXTURES, MODELS, argmax, loadReference, row, rowRelError, tempCacheDir } from '../helpers/fixtures.js';
import type { Reference } from '../helpers/fixtures.js';

const cacheDir = tempCacheDir();
const TOL = 1e-4;

async function open(name: string, tp: number, dtype: 'fp32' | 'q8' | 'q4' = 'fp32') {
  const threads = tp === 1 ? 2 : 1;
  const shards = await Promise.all(
    Array.from({ length: tp }, (_, rank) => loadShard({ modelDir: join(FIXTURES, name), tp, rank, dtype, kvSlots: 512, threads, cacheDir })),
  );
  return new LocalTensorParallel(shards);
}

/** Runs the fixture's three scenarios and returns every logits row in fixture order. */
async function runScenarios(model: LocalTensorParallel, ref: Reference) {
  const V = model.vocabSize;
  let nextSlot = 0;
  const alloc = (n: number) => Array.from({ length: n }, () => nextSlot++);
  const out = { prefill: [] as Float32Array[][], greedy: [] as { tokens: number[]; logits: Float32Array[] }[], extend: [] as Float32Array[] };
  // 1. the three ragged prompts in one step, logits at every position
  const slots = ref.prompts.map((p) => alloc(p.length));
  const pre = await model.forward({
    sequences: ref.prompts.map((p, i) => ({ tokens: p, cachedSlots: [], newSlots: slots[i]!, logitsFrom: 0 })),
  });
  let r = 0;
  for (const p of ref.prompts) out.prefill.push(p.map(() => row(pre, r++, V).slice()));
  // 2. batched greedy decode over the prompts' cached KV
  const state = ref.prompts.map((p, i) => {
    const last = out.prefill[i]![p.length - 1]!;
    return { context: [...slots[i]!], tokens: [argmax(last)], logits: [last] };
  });
  for (let step = 1; step < 4; step++) {
    const seqs: StepSequence[] = state.map((s) => ({ tokens: [s.tokens.at(-1)!], cachedSlots: s.context, newSlots: alloc(1), logitsFrom: 0 }));
    const logits = await model.forward({ sequences: seqs });
    state.forEach((s, i) => {
      s.context = [...s.context, seqs[i]!.newSlots[0]!];
      const l = row(logits, i, V).slice();
      s.logits.push(l);
      s.tokens.push(argmax(l));
    });
  }
  out.greedy = state.map((s) => ({ tokens: s.tokens, logits: s.logits }));
  // 3. extend after a cached prefix, mixed in one step with a fresh prefill and a decode
  const prefixSlots = alloc(ref.extend.prefix.length);
  await model.forward({ sequences: [{ tokens: ref.extend.prefix, cachedSlots: [], newSlots: prefixSlots, logitsFrom: ref.extend.prefix.length }] });
  const mixed = await model.forward({
    sequences: [
      { tokens: ref.extend.suffix, cachedSlots: prefixSlots, newSlots: alloc(ref.extend.suffix.length), logitsFrom: 0 },
      { tokens: ref.prompts[1]!, cachedSlots: [], newSlots: alloc(ref.prompts[1]!.length), logitsFrom: ref.prompts[1]!.length - 1 },
      { tokens: [state[2]!.tokens.at(-1)!], cachedSlots: state[2]!.context, newSlots: alloc(1), logitsFrom: 0 },
    ],
  });
  for (let i = 0; i < ref.extend.suffix.length; i++) out.extend.push(row(mixed, i, V).slice());
  const mixedPrefillLast = row(mixed, ref.extend.suffix.length, V);
  return { ...out, mixedPrefillLast };
}

const fp32Results = new Map<string, Awaited<ReturnType<typeof runScenarios>>>();

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
