/**
 * W1 — the seed's experiment: G groups, each one prefix (P tokens) with K suffixes (S tokens); for
 * every sequence the log-probability of the suffix given the prefix; the best suffix per group.
 * Metric: sequences scored per second.
 *
 * Systems: arbor (default settings: radix cache on), arbor with the radix cache off, node-llama-cpp
 * on one sequence (prefix once, then each suffix evaluated and erased) and on N parallel sequences
 * (each holding one group's prefix; suffixes of different sequences batch together).
 * Every pair gets fresh token ids (seeded by the pair index) and arbor's cache is flushed before
 * each run, so no run reuses another run's prefixes.
 */
import { arborCacheDir, TokenIds, fmt, importArbor, interleave, median, readConfig, specialIds, ggufPath, modelDir } from '../lib/common.js';
import type { ArborDType, SystemUnderTest, Sample } from '../lib/common.js';
import { loadModel, scoreAfterPrefix, toTokens } from '../lib/nlc.js';
import type { NlcSequence } from '../lib/nlc.js';
import { publish } from '../lib/report.js';

export interface W1Options {
  model: string;
  dtype: ArborDType;
  pairs: number;
  threads: number;
  groups: number;
  prefix: number;
  suffixes: number;
  suffixLen: number;
  /** Sequences per radix-off run (a subset: its cost is linear in sequences, so its rate is representative). */
  noRadixSeqs: number;
  /** Parallel sequences for the node-llama-cpp parallel mode (0 = skip). */
  nlcSeqs: number;
  /** Skip the single-sequence node-llama-cpp mode. */
  nlcSingle: boolean;
  /** Groups the node-llama-cpp runs score (≤ groups; their rate is per sequence). */
  nlcGroups: number;
  /** Suffixes per group the node-llama-cpp runs score (≤ suffixes). */
  nlcSuffixes: number;
  /** Also time node-llama-cpp evaluating the suffixes without reading any probabilities (a bound, not W1). */
  nlcEvalOnly: boolean;
}

interface Data {
  prefixes: number[][];
  suffixes: number[][][];
}

function makeData(o: W1Options, vocab: number, avoid: Set<number>, pair: number): Data {
  const ids = new TokenIds(1000 + pair * 7919, vocab, avoid);
  const prefixes: number[][] = [];
  const suffixes: number[][][] = [];
  for (let g = 0; g < o.groups; g++) {
    prefixes.push(ids.take(o.prefix));
    suffixes.push(Array.from({ length: o.suffixes }, () => ids.take(o.suffixLen)));
  }
  return { prefixes, suffixes };
}

const argmax = (xs: readonly number[]) => xs.reduce((bi, x, i) => (x > xs[bi]! ? i : bi), 0);

export async function runW1(o: W1Options): Promise<void> {
  const cfg = readConfig(o.model);
  const avoid = specialIds(cfg);
  const dataFor = new Map<number, Data>();
  const data = (pair: number) => {
    let d = dataFor.get(pair);
    if (!d) {
      dataFor.clear();
      d = makeData(o, cfg.vocab_size, avoid, pair);
      dataFor.set(pair, d);
    }
    return d;
  };
  /** Per pair and system, the log-probs of the groups it scored (for agreement checks). */
  const scores = new Map<string, Map<number, number[][]>>();
  const keep = (sys: string, pair: number, lps: number[][]) => {
    if (!scores.has(sys)) scores.set(sys, new Map());
    scores.get(sys)!.set(pair, lps);
  };

  const { Engine } = await importArbor();
  const common = { model: modelDir(o.model), dtype: o.dtype, threadsPerShard: o.threads } as const;
  const cache = () => arborCacheDir(o.dtype);
  console.log(`loading arbor (${o.dtype}) ×2 and node-llama-cpp (${ggufPath(o.model, o.dtype)}) …`);
  const arbor = await Engine.create({ ...common, ...cache() });
  const arborOff = await Engine.create({ ...common, radixCache: false, ...cache() });
  const model = await loadModel(ggufPath(o.model, o.dtype), o.threads);
  const ctxLen = o.prefix + o.suffixLen + 16;

  const arborScore = async (engine: typeof arbor, d: Data, groups: number, perGroup: number) => {
    const jobs: Promise<number>[] = [];
    let cached = 0;
    let prompt = 0;
    for (let g = 0; g < groups; g++)
      for (let k = 0; k < perGroup; k++)
        jobs.push(
          engine
            .generate({ inputIds: [...d.prefixes[g]!, ...d.suffixes[g]![k]!], maxTokens: 0, promptLogprobsFrom: o.prefix })
            .then((r) => {
              cached += r.usage.cachedTokens;
              prompt += r.usage.promptTokens;
              return (r.promptLogprobs ?? []).reduce((s, x) => s + (x.logprob ?? 0), 0);
            }),
        );
    const lps = await Promise.all(jobs);
    const byGroup = Array.from({ length: groups }, (_, g) => lps.slice(g * perGroup, (g + 1) * perGroup));
    return { byGroup, cached, prompt };
  };

  const systems: SystemUnderTest[] = [];
  systems.push({
    name: 'arbor',
    async run(pair): Promise<Sample> {
      const d = data(pair);
      await arbor.flushCache();
      const t0 = performance.now();
      const r = await arborScore(arbor, d, pair < 0 ? 1 : o.groups, pair < 0 ? 4 : o.suffixes);
      const s = (performance.now() - t0) / 1000;
      if (pair >= 0) keep('arbor', pair, r.byGroup);
      const n = r.byGroup.reduce((a, g) => a + g.length, 0);
      return { value: n / s, extra: { seconds: s, sequences: n, cacheHit: r.cached / r.prompt } };
    },
  });
  systems.push({
    name: 'arbor --no-radix-cache',
    async run(pair): Promise<Sample> {
      const d = data(pair);
      const n = pair < 0 ? Math.min(4, o.noRadixSeqs) : o.noRadixSeqs;
      const groups = Math.min(o.groups, Math.ceil(n / o.suffixes));
      const perGroup = Math.ceil(n / groups);
      const t0 = performance.now();
      await arborScore(arborOff, d, groups, perGroup);
      const s = (performance.now() - t0) / 1000;
      return { value: (groups * perGroup) / s, extra: { seconds: s, sequences: groups * perGroup } };
    },
  });
  if (o.nlcSingle) {
    const ctx = await model.createContext({ contextSize: ctxLen, sequences: 1, threads: o.threads });
    const seq = ctx.getSequence();
    systems.push({
      name: 'node-llama-cpp 1 seq',
      async run(pair): Promise<Sample> {
        const d = data(pair);
        const groups = pair < 0 ? 1 : o.nlcGroups;
        const per = pair < 0 ? 4 : o.nlcSuffixes;
        const t0 = performance.now();
        const out: number[][] = [];
        for (let g = 0; g < groups; g++) {
          await seq.clearHistory();
          out.push(await scoreAfterPrefix(seq, d.prefixes[g]!, d.suffixes[g]!.slice(0, per)));
        }
        const s = (performance.now() - t0) / 1000;
        if (pair >= 0) keep('node-llama-cpp 1 seq', pair, out);
        return { value: (groups * per) / s, extra: { seconds: s, sequences: groups * per } };
      },
    });
  }
  if (o.nlcEvalOnly) {
    const ctx = await model.createContext({ contextSize: ctxLen, sequences: 1, threads: o.threads });
    const seq = ctx.getSequence();
    systems.push({
      name: 'node-llama-cpp 1 seq, eval only (reference)',
      async run(pair): Promise<Sample> {
        const d = data(pair);
        const groups = pair < 0 ? 1 : o.nlcGroups;
        const per = pair < 0 ? 4 : o.nlcSuffixes;
        const t0 = performance.now();
        for (let g = 0; g < groups; g++) {
          await seq.clearHistory();
          await seq.evaluateWithoutGeneratingNewTokens(toTokens(d.prefixes[g]!));
          const start = seq.nextTokenIndex;
          for (const sfx of d.suffixes[g]!.slice(0, per)) {
            await seq.evaluateWithoutGeneratingNewTokens(toTokens(sfx));
            await seq.eraseContextTokenRanges([{ start, end: start + sfx.length }]);
          }
        }
        const s = (performance.now() - t0) / 1000;
        return { value: (groups * per) / s, extra: { seconds: s, sequences: groups * per } };
      },
    });
  }
  if (o.nlcSeqs > 0) {
    const n = o.nlcSeqs;
    const ctx = await model.createContext({ contextSize: ctxLen, sequences: n, threads: o.threads, batchSize: Math.max(512, n * o.suffixLen) });
    const seqs: NlcSequence[] = Array.from({ length: n }, () => ctx.getSequence());
    const name = `node-llama-cpp ${n} seqs`;
    systems.push({
      name,
      async run(pair): Promise<Sample> {
        const d = data(pair);
        const groups = pair < 0 ? 1 : o.nlcGroups;
        const per = pair < 0 ? 4 : o.nlcSuffixes;
        // Split each group's suffixes into chunks so that every sequence has work; a sequence
        // evaluates the prefix of each chunk's group (once per chunk).
        const chunksPerGroup = Math.max(1, Math.ceil(n / groups));
        const tasks: { g: number; from: number; to: number }[] = [];
        for (let g = 0; g < groups; g++)
          for (let c = 0; c < chunksPerGroup; c++) {
            const from = Math.floor((c * per) / chunksPerGroup);
            const to = Math.floor(((c + 1) * per) / chunksPerGroup);
            if (to > from) tasks.push({ g, from, to });
          }
        const out: number[][] = Array.from({ length: groups }, () => new Array<number>(per));
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          seqs.map(async (seq) => {
            for (;;) {
              const t = tasks[next++];
              if (!t) return;
              await seq.clearHistory();
              const lps = await scoreAfterPrefix(seq, d.prefixes[t.g]!, d.suffixes[t.g]!.slice(t.from, t.to));
              lps.forEach((lp, i) => (out[t.g]![t.from + i] = lp));
            }
          }),
        );
        const s = (performance.now() - t0) / 1000;
        if (pair >= 0) keep(name, pair, out);
        return { value: (groups * per) / s, extra: { seconds: s, sequences: groups * per, prefixEvals: tasks.length } };
      },
    });
  }

  console.log(`W1 ${o.model} ${o.dtype}: ${o.groups} groups × ${o.suffixes} suffixes, P=${o.prefix}, S=${o.suffixLen}; ${o.pairs} pairs`);
  const result = await interleave(systems, o.pairs);

  // Agreement of the best suffix per group and of the log-probs, arbor vs each node-llama-cpp mode.
  const footer: string[] = [];
  for (const [sys, byPair] of scores) {
    if (sys === 'arbor') continue;
    let same = 0;
    let total = 0;
    let maxDiff = 0;
    const diffs: number[] = [];
    for (const [pair, groups] of byPair) {
      const a = scores.get('arbor')?.get(pair);
      if (!a) continue;
      groups.forEach((lps, g) => {
        const al = a[g]!.slice(0, lps.length);
        total++;
        if (argmax(al) === argmax(lps)) same++;
        lps.forEach((x, i) => {
          const dlt = Math.abs(x - al[i]!);
          diffs.push(dlt);
          maxDiff = Math.max(maxDiff, dlt);
        });
      });
    }
    if (total) footer.push(`Agreement arbor vs ${sys}: best suffix identical in ${same}/${total} groups; |Δ log p(suffix)| median ${fmt(median(diffs))}, max ${fmt(maxDiff)} (nats, sums over ${o.suffixLen} tokens).`);
  }
  const nlcNames = systems.map((s) => s.name).filter((n) => n.startsWith('node-llama-cpp') && !n.includes('reference'));
  const bestNlc = nlcNames.sort((x, y) => median(result.samples.get(y)!.map((s) => s.value)) - median(result.samples.get(x)!.map((s) => s.value)))[0];
  const notes: string[] = [];
  if (o.noRadixSeqs < o.groups * o.suffixes) notes.push(`REDUCED: arbor --no-radix-cache scores ${o.noRadixSeqs} of the ${o.groups * o.suffixes} sequences per run (each sequence costs the same without a cache, so sequences/s is representative).`);
  if (o.nlcGroups < o.groups || o.nlcSuffixes < o.suffixes) notes.push(`REDUCED: node-llama-cpp scores ${o.nlcGroups} of the ${o.groups} groups × ${o.nlcSuffixes} of the ${o.suffixes} suffixes per run (${o.nlcGroups * o.nlcSuffixes} sequences; its prefix is evaluated once per group per sequence, amortized over fewer suffixes than arbor's — a small bias against it).`);
  if (o.groups !== 8 || o.prefix !== 512 || o.suffixLen !== 16 || o.suffixes !== 100) notes.push(`REDUCED/CHANGED from BENCHMARKS.md's G=8, P=512, S=16, 100 suffixes.`);
  notes.push('arbor: all G×K requests submitted at once (prefix+suffix, maxTokens 0, promptLogprobsFrom P); cache flushed before each run. node-llama-cpp: probabilities via controlledEvaluate(generateNext.probabilities) — the only public way to read a given token\'s probability; its F16 KV cache is its default.');
  notes.push(`node-llama-cpp "best" = ${bestNlc} (by median).`);
  if (o.nlcEvalOnly) notes.push('"eval only (reference)": node-llama-cpp evaluating prefix + each suffix (erased after) without reading any probability — not a W1 result (no scores), a bound on what it could do with a cheaper log-prob API.');
  if (o.nlcSeqs > 0 && o.nlcGroups < o.nlcSeqs) notes.push(`node-llama-cpp ${o.nlcSeqs} seqs: its sequences cannot share KV, so each evaluates the prefix of the group it works on (${Math.ceil(o.nlcSeqs / Math.max(1, o.nlcGroups))} prefix evaluations per group here).`);
  publish({
    key: `W1 ${o.model} ${o.dtype}`,
    title: `W1 — prefix + 100 suffixes, scored (${o.model}, arbor ${o.dtype} vs GGUF ${o.dtype === 'fp32' ? 'F32' : o.dtype === 'q8' ? 'Q8_0' : 'Q4_0'})`,
    metric: 'sequences/s',
    settings: `G=${o.groups}, P=${o.prefix}, S=${o.suffixLen}, ${o.suffixes} suffixes/group, ${o.threads} threads, ${o.pairs} pairs`,
    notes,
    result,
    rows: [
      { label: 'arbor ÷ arbor --no-radix-cache', a: 'arbor', b: 'arbor --no-radix-cache', target: '≥ 5' },
      ...nlcNames.map((n) => ({ label: `arbor ÷ ${n}`, a: 'arbor', b: n, target: n === bestNlc ? '≥ 5 (best node-llama-cpp)' : '' })),
      ...(o.nlcEvalOnly ? [{ label: 'arbor ÷ node-llama-cpp eval only (reference bound)', a: 'arbor', b: 'node-llama-cpp 1 seq, eval only (reference)' }] : []),
    ],
    extraColumns: [
      { label: 's/run', key: 'seconds' },
      { label: 'seqs/run', key: 'sequences' },
      { label: 'cache hit', key: 'cacheHit' },
    ],
    footer,
  });
  await arbor.close();
  await arborOff.close();
  await model.dispose();
}
