import t from 'tap';
import {
  DEFAULT_SAMPLING_PARAMS,
  Sampler,
  SamplingError,
  createSamplingState,
  logSoftmaxAt,
  recordOutputToken,
  topK,
} from '../../src/scheduler/sampling.js';
import type { SamplingParams, SamplingState } from '../../src/scheduler/sampling.js';
import { Rng } from '../../src/scheduler/rng.js';

type Tap = typeof t;

const params = (patch: Partial<SamplingParams> = {}): SamplingParams => ({ ...DEFAULT_SAMPLING_PARAMS, ...patch });
const GREEDY = params({ temperature: 0 });

/** A state whose random stream returns `pinned.u`, to pin down which token a draw picks. */
const pinned = { u: 0 };
const pinnedState: SamplingState = {
  rng: { nextFloat: () => pinned.u } as unknown as Rng,
  outputCounts: new Map(),
  seenTokens: new Set(),
};

/** A logits row with ties, a wide range of scales and some −Infinity entries. */
function randomRow(rng: Rng, vocab: number): Float32Array {
  const scale = 0.2 + 15 * rng.nextFloat();
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) {
    const r = rng.nextFloat();
    if (r < 0.02) row[i] = -Infinity;
    else if (r < 0.1 && i > 0) row[i] = row[i - 1]!;
    else row[i] = scale * (rng.nextFloat() + rng.nextFloat() + rng.nextFloat() - 1.5);
  }
  return row;
}

function argmaxFirst(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Top-k / top-p / min-p by the book: sort everything, keep the joint prefix; kept tokens' shares. */
function referenceKept(logits: Float32Array, p: SamplingParams): Map<number, number> {
  const w = Float64Array.from(logits, (x) => (p.temperature === 1 ? x : x / p.temperature));
  const max = Math.max(...w);
  const probs = w.map((x) => Math.exp(x - max));
  let total = 0;
  for (const q of probs) total += q;
  const k = p.topK > 0 ? p.topK : w.length;
  const order = [...w.keys()].sort((a, b) => probs[b]! - probs[a]! || a - b);
  const kept: number[] = [];
  let mass = 0;
  for (const i of order) {
    if (kept.length >= k || mass > p.topP * total || probs[i]! < p.minP) break;
    kept.push(i);
    mass += probs[i]!;
  }
  return new Map(kept.map((i) => [i, probs[i]! / mass]));
}

/**
 * Samples with u = (j + ½) / draws for every j and checks the result against the kept shares: each
 * token owns an interval of [0, 1) as long as its share, whatever order the sampler walks in, so
 * it is hit share × draws times, give or take one; tokens outside the kept set are never hit.
 */
function checkDraws(t: Tap, sampler: Sampler, row: Float32Array, p: SamplingParams, draws: number, label: string): void {
  const kept = referenceKept(row, p);
  const hits = new Map<number, number>();
  for (let j = 0; j < draws; j++) {
    pinned.u = (j + 0.5) / draws;
    const token = sampler.sample(row, p, pinnedState).token;
    hits.set(token, (hits.get(token) ?? 0) + 1);
  }
  const outside = [...hits.keys()].filter((token) => !kept.has(token));
  t.same(outside, [], `${label}: no token outside the kept set`);
  const worst = Math.max(...[...kept].map(([token, share]) => Math.abs((hits.get(token) ?? 0) - share * draws)));
  t.ok(worst <= 1 + 1e-6, `${label}: hits match shares (worst gap ${worst.toFixed(3)}, ${kept.size} kept)`);
}

/** Chi-square statistic of observed counts against probabilities. */
function chiSquare(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((s, c, i) => s + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}

const softmax = (xs: number[]) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
};

t.test('greedy is the argmax (first index on ties) with logprob = logSoftmaxAt exactly', async (t) => {
  const sampler = new Sampler(6);
  const row = Float32Array.from([0.5, 3.25, -1, 3.25, 2, -Infinity]);
  const state = createSamplingState([], 1);
  const r = sampler.sample(row, GREEDY, state);
  t.equal(r.token, 1);
  t.equal(r.logprob, logSoftmaxAt(row, 1), 'bit-identical to the prompt-logprob helper');
  t.equal(sampler.sample(row, params({ temperature: 1e-6 }), state).token, 1, 'temperature 1e-6 is greedy');
  t.equal(state.rng.nextFloat(), Rng.fromSeed(1).nextFloat(), 'greedy draws no random numbers');

  const rng = Rng.fromSeed(3);
  const big = new Sampler(5000);
  for (let trial = 0; trial < 20; trial++) {
    const logits = randomRow(rng, 5000);
    const g = big.sample(logits, GREEDY, state);
    t.equal(g.token, argmaxFirst(logits));
    t.equal(g.logprob, logSoftmaxAt(logits, g.token));
  }
});

t.test('logSoftmaxAt is accurate and stable; topK lists the most likely tokens', async (t) => {
  const xs = [1.5, -0.25, 2, 0];
  const want = softmax(xs).map(Math.log);
  const row = Float32Array.from(xs);
  xs.forEach((_, i) => t.ok(Math.abs(logSoftmaxAt(row, i) - want[i]!) < 1e-14, `token ${i}`));
  const huge = Float32Array.from([1000, 999, -1000]);
  t.ok(Math.abs(logSoftmaxAt(huge, 0) - -Math.log(1 + Math.exp(-1))) < 1e-14, 'no overflow at logit 1000');
  const total = [0, 1, 2].reduce((s, i) => s + Math.exp(logSoftmaxAt(huge, i)), 0);
  t.ok(Math.abs(total - 1) < 1e-14);

  const tied = Float32Array.from([2, 5, -Infinity, 5, 1]);
  t.same(topK(tied, 3).map((e) => e.token), [1, 3, 0], 'ties: lower id first');
  t.same(topK(tied, 3).map((e) => e.logprob), [1, 3, 0].map((i) => logSoftmaxAt(tied, i)));
  t.same(topK(tied, 10).map((e) => e.token), [1, 3, 0, 4], '−Infinity entries are left out');
  t.throws(() => logSoftmaxAt(tied, 5), SamplingError);
  t.throws(() => topK(Float32Array.from([-Infinity, -Infinity]), 1), SamplingError);
});

t.test('the same seed gives the same tokens; another seed gives others', async (t) => {
  const rng = Rng.fromSeed(11);
  const sampler = new Sampler(300);
  const rows = Array.from({ length: 50 }, () => randomRow(rng, 300));
  const p = params({ temperature: 1.3, topP: 0.95, topK: 40 });
  const run = (seed: number) => {
    const state = createSamplingState([], seed);
    return rows.map((row) => sampler.sample(row, p, state).token);
  };
  t.same(run(5), run(5));
  t.notSame(run(5), run(6));
});

t.test('top-k = 1, a tiny top-p and min-p = 1 all pick the argmax', async (t) => {
  const rng = Rng.fromSeed(21);
  const sampler = new Sampler(1000);
  const state = createSamplingState([], 9);
  for (let trial = 0; trial < 30; trial++) {
    const row = randomRow(rng, 1000);
    const best = argmaxFirst(row);
    t.equal(sampler.sample(row, params({ topK: 1, temperature: 2 }), state).token, best);
    t.equal(sampler.sample(row, params({ topP: 1e-9, temperature: 2 }), state).token, best);
    if (row.indexOf(row[best]!, best + 1) < 0) t.equal(sampler.sample(row, params({ minP: 1 }), state).token, best);
  }
});

t.test('top-k, top-p and min-p keep exactly the tokens the definition keeps', async (t) => {
  const rng = Rng.fromSeed(31);
  const vocab = 300;
  const sampler = new Sampler(vocab);
  for (let trial = 0; trial < 30; trial++) {
    const p = params({
      temperature: 0.1 + 3 * rng.nextFloat(),
      topK: rng.nextFloat() < 0.5 ? -1 : 1 + Math.floor(rng.nextFloat() * 100),
      topP: rng.nextFloat() < 0.3 ? 1 : 0.05 + 0.95 * rng.nextFloat(),
      minP: rng.nextFloat() < 0.5 ? 0 : rng.nextFloat() * 0.5,
    });
    checkDraws(t, sampler, randomRow(rng, vocab), p, 10_000, `trial ${trial} ${JSON.stringify(p)}`);
  }
});

t.test('a prefix that ends among many near-equal tokens is cut exactly', async (t) => {
  // 200 tokens within 0.01 nat of each other (one bin), with ties, then a long tail.
  const row = Float32Array.from({ length: 1000 }, (_, i) => (i < 200 ? 5 - Math.floor(i / 2) * 1e-4 : -i / 100));
  const sampler = new Sampler(1000);
  for (const topK of [1, 2, 3, 57, 199, 200, 201, 999]) checkDraws(t, sampler, row, params({ topK }), 2000, `topK ${topK}`);
  for (const topP of [0.001, 0.3, 0.5, 0.77, 0.9, 0.999]) checkDraws(t, sampler, row, params({ topP, temperature: 0.5 }), 2000, `topP ${topP}`);
  checkDraws(t, sampler, row, params({ topK: 150, topP: 0.5, minP: 0.9995 }), 2000, 'all three');
});

t.test('min-p drops tokens below minP × the top probability', async (t) => {
  const sampler = new Sampler(4);
  const row = Float32Array.from([0, Math.log(0.5), Math.log(0.3), Math.log(0.05)]); // p ∝ 1, .5, .3, .05
  const state = createSamplingState([], 4);
  const seen = new Set<number>();
  for (let i = 0; i < 3000; i++) seen.add(sampler.sample(row, params({ minP: 0.4 }), state).token);
  t.same([...seen].sort(), [0, 1]);
});

t.test('temperature-1 draws follow the softmax (chi-square, 20k draws)', async (t) => {
  const xs = [1, 0, -1, 0.5];
  const row = Float32Array.from(xs);
  const sampler = new Sampler(4);
  const draw = (p: SamplingParams, n: number) => {
    const state = createSamplingState([], 2024);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampler.sample(row, p, state).token]!++;
    return counts;
  };
  // 3 degrees of freedom: 16.3 is the 0.1% critical value; the bound is looser still.
  t.ok(chiSquare(draw(params(), 20_000), softmax(xs)) < 25, 'temperature 1');
  t.ok(chiSquare(draw(params({ temperature: 0.5 }), 20_000), softmax(xs.map((x) => x / 0.5))) < 25, 'temperature 0.5');
  const top2 = draw(params({ topK: 2 }), 20_000);
  t.same([top2[1], top2[2]], [0, 0], 'top-k = 2 keeps tokens 0 and 3');
  t.ok(chiSquare([top2[0]!, top2[3]!], softmax([xs[0]!, xs[3]!])) < 20, 'renormalised over the kept tokens');
  // A sampler that ignored the distribution (always argmax, or uniform) fails these bounds.
  t.ok(chiSquare([20_000, 0, 0, 0], softmax(xs)) > 25 && chiSquare([5000, 5000, 5000, 5000], softmax(xs)) > 25);
});

t.test('penalties and bias shift exactly the logits they should', async (t) => {
  const base = [2, -1, 0.5, 1, -0.5, 3];
  const row = Float32Array.from(base);
  const sampler = new Sampler(6);
  // Prompt holds tokens 1 and 2; the output so far is 3, 3, 4.
  const state = createSamplingState([1, 2], 0);
  for (const tok of [3, 3, 4]) recordOutputToken(state, tok);
  const distribution = (p: SamplingParams) => {
    const r = sampler.sample(row, { ...p, temperature: 0 }, state, 6);
    return new Map(r.topLogprobs!.map((e) => [e.token, e.logprob]));
  };
  const expectRow = (t: Tap, label: string, p: Partial<SamplingParams>, expected: number[]) => {
    const got = distribution(params(p));
    const want = Float64Array.from(expected);
    for (let i = 0; i < 6; i++) t.ok(Math.abs(got.get(i)! - logSoftmaxAt(want, i)) < 1e-12, `${label}: token ${i}`);
  };
  expectRow(t, 'frequency', { frequencyPenalty: 0.5 }, [2, -1, 0.5, 1 - 2 * 0.5, -0.5 - 0.5, 3]);
  expectRow(t, 'presence', { presencePenalty: 0.7 }, [2, -1, 0.5, 1 - 0.7, -0.5 - 0.7, 3]);
  expectRow(t, 'repetition', { repetitionPenalty: 2 }, [2, -1 * 2, 0.5 / 2, 1 / 2, -0.5 * 2, 3]);
  expectRow(t, 'bias', { logitBias: { 0: -5, 5: 0.25 } }, [2 - 5, -1, 0.5, 1, -0.5, 3.25]);
  expectRow(t, 'all', { repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.1, logitBias: { 3: 1 } }, [
    2, -2, 0.25, 0.5 - 1 - 0.1 + 1, -1 - 0.5 - 0.1, 3,
  ]);
  t.equal(sampler.sample(row, params({ temperature: 0, logitBias: { 1: 10 } }), state).token, 1, 'bias can change the argmax');
  t.same(Array.from(row), base, 'the logits row itself is not modified');
});

t.test('logprobs are of the tempered distribution before truncation (SGLang)', async (t) => {
  const xs = [1, 0, -1, 0.5];
  const row = Float32Array.from(xs);
  const sampler = new Sampler(4);
  const state = createSamplingState([], 8);
  const tempered = Float64Array.from(xs, (x) => x / 0.7);
  for (let i = 0; i < 50; i++) {
    const r = sampler.sample(row, params({ temperature: 0.7, topK: 2 }), state, 3);
    t.ok(Math.abs(r.logprob - logSoftmaxAt(tempered, r.token)) < 1e-12);
    t.same(r.topLogprobs!.map((e) => e.token), [0, 3, 1]);
    t.ok(Math.abs(r.topLogprobs![2]!.logprob - logSoftmaxAt(tempered, 1)) < 1e-12, 'truncated tokens keep their logprob');
  }
  t.notOk('topLogprobs' in sampler.sample(row, params(), state), 'no topLogprobs unless asked');
});

t.test('rows that cannot be sampled are SamplingErrors', async (t) => {
  const sampler = new Sampler(4);
  const state = createSamplingState([], 1);
  t.throws(() => sampler.sample(new Float32Array(5), params(), state), { name: 'SamplingError', message: /width 5/ });
  const masked = Float32Array.from([-Infinity, -Infinity, -Infinity, -Infinity]);
  t.throws(() => sampler.sample(masked, params(), state), SamplingError);
});

t.test('greedyToken equals the greedy sample, penalties and bias included', (t) => {
  const sampler = new Sampler(64);
  for (let trial = 0; trial < 50; trial++) {
    const logits = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 12.9898 + trial * 78.233) * 4);
    const params = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0, repetitionPenalty: 1.3, frequencyPenalty: 0.5, logitBias: { [trial % 64]: 2 } };
    const state = createSamplingState([1, 2, 3, trial % 64], 7);
    recordOutputToken(state, (trial * 5) % 64);
    t.equal(sampler.greedyToken(logits, params, state), sampler.sample(logits, params, state).token);
  }
  t.end();
});

t.test('greedyToken without penalties reads the row in place: same token, first index on ties', (t) => {
  const sampler = new Sampler(64);
  const plain = { ...DEFAULT_SAMPLING_PARAMS, temperature: 0 };
  for (let trial = 0; trial < 50; trial++) {
    const logits = Float32Array.from({ length: 64 }, (_, i) => Math.round(Math.sin(i * 12.9898 + trial * 78.233) * 3));
    const state = createSamplingState([1, 2, 3], 7);
    const token = sampler.greedyToken(logits, plain, state);
    t.equal(token, sampler.sample(logits, plain, state).token);
    t.equal(token, logits.indexOf(Math.max(...logits)), `trial ${trial}: first maximal index`);
  }
  t.end();
});
