import t from 'tap';
import { Rng } from '../../src/scheduler/rng.js';
import { SamplingParamError } from '../../src/scheduler/sampling-errors.js';

const draws = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.nextFloat());

t.test('the same seed gives the same stream; different seeds differ', async (t) => {
  t.same(draws(Rng.fromSeed(42), 100), draws(Rng.fromSeed(42), 100));
  t.notSame(draws(Rng.fromSeed(42), 10), draws(Rng.fromSeed(43), 10));
  t.notSame(draws(Rng.fromSeed(-1), 10), draws(Rng.fromSeed(2 ** 53 - 1), 10), 'negative and large seeds are distinct');
  t.notSame(draws(Rng.fromSeed(0), 10), draws(Rng.fromSeed(2 ** 32), 10), 'the high 32 bits of a seed count');
});

t.test('an entropy seed is reported and reproduces the stream', async (t) => {
  const rng = Rng.fromEntropy();
  t.ok(Number.isSafeInteger(rng.seed));
  t.same(draws(Rng.fromSeed(rng.seed), 20), draws(rng, 20));
  t.not(Rng.fromEntropy().seed, Rng.fromEntropy().seed);
});

t.test('floats are uniform in [0, 1)', async (t) => {
  const xs = draws(Rng.fromSeed(7), 100_000);
  t.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  t.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
  const deciles = new Array<number>(10).fill(0);
  for (const x of xs) deciles[Math.floor(x * 10)]!++;
  const chi2 = deciles.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
  t.ok(chi2 < 30, `chi-square over deciles ${chi2.toFixed(2)} (9 dof)`);
});

t.test('a seed that is not a safe integer is a SamplingParamError naming seed', async (t) => {
  for (const bad of [1.5, NaN, 2 ** 53, Infinity]) {
    t.throws(() => Rng.fromSeed(bad), SamplingParamError);
    t.throws(() => Rng.fromSeed(bad), { field: 'seed' });
  }
});
