/**
 * W4 — multi-turn chat: C conversations (16) share one system prompt (1,024 tokens); each has T
 * turns (4) of I tokens in (64) and O out (64, greedy, EOS ignored); every turn's prompt is the
 * whole conversation so far. Conversations run concurrently, turns within one in order.
 * Metrics: output tokens/s; cache hit rate = cached prompt tokens / prompt tokens, against the best
 * possible for the trace.
 *
 * Best possible: a turn-1 prompt can reuse the system prompt except for the very first request;
 * a later turn can reuse the previous turn's prompt and all its output but the last token (whose
 * K/V no engine has computed when the turn ends).
 *
 * node-llama-cpp: one context, one sequence per conversation; each turn evaluates only the tokens
 * its sequence does not already hold (its own prefix reuse); it cannot share the system prompt
 * between sequences.
 */
import { arborCacheDir, TokenIds, importArbor, interleave, modelDir, readConfig, specialIds, ggufPath, fmt, median } from '../lib/common.js';
import type { ArborDType, SystemUnderTest } from '../lib/common.js';
import { loadModel, toTokens } from '../lib/nlc.js';
import { publish } from '../lib/report.js';

export interface W4Options {
  model: string;
  dtype: ArborDType;
  pairs: number;
  threads: number;
  conversations: number;
  turns: number;
  systemLen: number;
  turnIn: number;
  turnOut: number;
}

export async function runW4(o: W4Options): Promise<void> {
  const cfg = readConfig(o.model);
  const avoid = specialIds(cfg);
  const trace = (pair: number, warm: boolean) => {
    const ids = new TokenIds(77 + pair * 32452843, cfg.vocab_size, avoid);
    const system = ids.take(o.systemLen);
    const turns = warm ? 1 : o.turns;
    const users = Array.from({ length: warm ? 2 : o.conversations }, () => Array.from({ length: turns }, () => ids.take(o.turnIn)));
    return { system, users, turns };
  };
  // Best possible cached tokens for the trace (see the header comment).
  const promptTotal = (() => {
    let total = 0;
    let best = 0;
    for (let c = 0; c < o.conversations; c++)
      for (let t = 0; t < o.turns; t++) {
        const len = o.systemLen + t * (o.turnIn + o.turnOut) + o.turnIn;
        total += len;
        if (t === 0) best += c === 0 ? 0 : o.systemLen;
        else best += len - o.turnIn - 1;
      }
    return { total, best };
  })();

  const { Engine } = await importArbor();
  console.log('loading arbor and node-llama-cpp …');
  const engine = await Engine.create({ model: modelDir(o.model), dtype: o.dtype, threadsPerShard: o.threads, ...arborCacheDir(o.dtype) });
  const model = await loadModel(ggufPath(o.model, o.dtype), o.threads);
  const ctxLen = o.systemLen + o.turns * (o.turnIn + o.turnOut) + 16;
  const ctx = await model.createContext({ contextSize: ctxLen, sequences: o.conversations, threads: o.threads });
  const seqs = Array.from({ length: o.conversations }, () => ctx.getSequence());

  const systems: SystemUnderTest[] = [
    {
      name: 'arbor',
      async run(pair) {
        const tr = trace(pair, pair < 0);
        const outLen = pair < 0 ? 4 : o.turnOut;
        await engine.flushCache();
        let cached = 0;
        let prompt = 0;
        let generated = 0;
        const t0 = performance.now();
        await Promise.all(
          tr.users.map(async (turns) => {
            let history = [...tr.system];
            for (let t = 0; t < tr.turns; t++) {
              history = [...history, ...turns[t]!];
              const r = await engine.generate({ inputIds: history, maxTokens: outLen, temperature: 0, ignoreEos: true });
              cached += r.usage.cachedTokens;
              prompt += r.usage.promptTokens;
              generated += r.tokenIds.length;
              history = [...history, ...r.tokenIds];
            }
          }),
        );
        const s = (performance.now() - t0) / 1000;
        return { value: generated / s, extra: { seconds: s, hitRate: cached / prompt, bestHitRate: promptTotal.best / promptTotal.total, promptTokens: prompt } };
      },
    },
    {
      name: `node-llama-cpp ${o.conversations} seqs`,
      async run(pair) {
        const tr = trace(pair, pair < 0);
        const outLen = pair < 0 ? 4 : o.turnOut;
        await Promise.all(seqs.map((s) => s.clearHistory()));
        let cached = 0;
        let prompt = 0;
        let generated = 0;
        const t0 = performance.now();
        await Promise.all(
          tr.users.map(async (turns, c) => {
            const seq = seqs[c]!;
            let history = [...tr.system];
            for (let t = 0; t < tr.turns; t++) {
              history = [...history, ...turns[t]!];
              const have = seq.nextTokenIndex;
              prompt += history.length;
              cached += have;
              const out: number[] = [];
              for await (const tok of seq.evaluate(toTokens(history.slice(have)), { temperature: 0, yieldEogToken: true })) {
                out.push(tok as unknown as number);
                if (out.length >= outLen) break;
              }
              generated += out.length;
              history = [...history, ...out];
            }
          }),
        );
        const s = (performance.now() - t0) / 1000;
        return { value: generated / s, extra: { seconds: s, hitRate: cached / prompt, bestHitRate: promptTotal.best / promptTotal.total, promptTokens: prompt } };
      },
    },
  ];
  console.log(`W4 ${o.model} ${o.dtype}: ${o.conversations} conversations × ${o.turns} turns, system ${o.systemLen}, ${o.turnIn} in / ${o.turnOut} out; ${o.pairs} pairs`);
  const result = await interleave(systems, o.pairs);
  const notes: string[] = [];
  if (o.conversations !== 16 || o.turns !== 4 || o.systemLen !== 1024 || o.turnIn !== 64 || o.turnOut !== 64) notes.push('REDUCED/CHANGED from BENCHMARKS.md\'s 16 conversations × 4 turns, 1,024-token system prompt, 64 in / 64 out.');
  notes.push(`Best possible cache hit rate for this trace: ${fmt(promptTotal.best / promptTotal.total)} (${promptTotal.best} of ${promptTotal.total} prompt tokens).`);
  const hit = (name: string) => fmt(median(result.samples.get(name)!.map((s) => Number(s.extra?.['hitRate']))));
  publish({
    key: `W4 ${o.model} ${o.dtype}`,
    title: `W4 — multi-turn chat (${o.model}, ${o.dtype})`,
    metric: 'output tokens/s',
    settings: `${o.conversations} conversations × ${o.turns} turns, system prompt ${o.systemLen}, ${o.turnIn} in / ${o.turnOut} out, ${o.threads} threads, ${o.pairs} pairs`,
    notes,
    result,
    rows: [{ label: 'arbor ÷ node-llama-cpp (output tok/s)', a: 'arbor', b: `node-llama-cpp ${o.conversations} seqs` }],
    extraColumns: [
      { label: 's/run', key: 'seconds' },
      { label: 'cache hit', key: 'hitRate' },
    ],
    footer: [`Cache hit rate (median): arbor ${hit('arbor')}, node-llama-cpp ${hit(`node-llama-cpp ${o.conversations} seqs`)}; best possible ${fmt(promptTotal.best / promptTotal.total)}.`],
  });
  await engine.close();
  await ctx.dispose();
  await model.dispose();
}
