import { join } from 'node:path';
import { loadShard } from '../../src/shards/shard-loader.js';
import { LocalTensorParallel } from '../../src/shards/local-tensor-parallel.js';
import type { ShardDevice, ShardDType } from '../../src/shards/device.js';
import type { StepSequence } from '../../src/shards/step.js';
import { FIXTURES, argmax, row } from './fixtures.js';
import type { Reference } from './fixtures.js';

/** A fixture model's tp shards in one thread, on a device (CPU by default). */
export async function openFixture(name: string, tp: number, dtype: ShardDType, cacheDir: string, device: ShardDevice = 'cpu'): Promise<LocalTensorParallel> {
  const threads = tp === 1 ? 2 : 1;
  const shards = await Promise.all(
    Array.from({ length: tp }, (_, rank) => loadShard({ modelDir: join(FIXTURES, name), tp, rank, device, dtype, kvSlots: 512, threads, cacheDir })),
  );
  return new LocalTensorParallel(shards);
}

/** Every logits row of {@link runScenarios}, in fixture order. */
export type ScenarioLogits = Awaited<ReturnType<typeof runScenarios>>;

/** Runs the fixture's three scenarios and returns every logits row in fixture order. */
export async function runScenarios(model: LocalTensorParallel, ref: Reference) {
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

