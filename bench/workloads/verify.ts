/**
 * verify — the GGUF holds the same model as the Hugging Face folder: on a few token-id prompts,
 * greedy tokens and per-position prompt log-probs from node-llama-cpp (GGUF) against arbor (HF).
 * With --dtype fp32 (GGUF F32) the greedy tokens should be identical and the log-probs agree to
 * float rounding (node-llama-cpp keeps its KV cache in F16, so not bit-exact). With q8 / q4 the
 * formats differ (arbor: MatMulNBits blocks of 32 / 128 with zero points; GGUF Q8_0 / Q4_0: blocks
 * of 32, symmetric), so agreement is statistical; arbor fp32 is printed as the reference.
 */
import { arborCacheDir, TokenIds, fmt, importArbor, median, modelDir, readConfig, specialIds, ggufPath } from '../lib/common.js';
import type { ArborDType } from '../lib/common.js';
import { generateN, loadModel, withProbabilities } from '../lib/nlc.js';
import type { Token } from '../lib/nlc.js';

export interface VerifyOptions {
  model: string;
  dtype: ArborDType;
  threads: number;
}

interface Scored {
  greedy: number[][];
  /** Per prompt, per position ≥ 1: log p(prompt[i] | prompt[<i]) and the argmax token. */
  lp: number[][];
  top: number[][];
}

const PROMPTS = 4;
const PROMPT_LEN = 48;
const GEN = 16;

export async function runVerify(o: VerifyOptions): Promise<void> {
  const cfg = readConfig(o.model);
  const ids = new TokenIds(4242, cfg.vocab_size, specialIds(cfg));
  const prompts = Array.from({ length: PROMPTS }, () => ids.take(PROMPT_LEN));
  const { Engine } = await importArbor();

  const arborScore = async (dtype: ArborDType): Promise<Scored> => {
    const engine = await Engine.create({ model: modelDir(o.model), dtype, threadsPerShard: o.threads, ...arborCacheDir(dtype) });
    const out: Scored = { greedy: [], lp: [], top: [] };
    for (const p of prompts) {
      const g = await engine.generate({ inputIds: p, maxTokens: GEN, temperature: 0, ignoreEos: true });
      out.greedy.push(g.tokenIds);
      const s = await engine.generate({ inputIds: p, maxTokens: 0, promptLogprobsFrom: 1, promptTopLogprobs: 1 });
      const pl = (s.promptLogprobs ?? []).filter((x) => x.logprob !== null);
      out.lp.push(pl.map((x) => x.logprob!));
      out.top.push(pl.map((x) => x.topLogprobs?.[0]?.token ?? -1));
    }
    await engine.close();
    return out;
  };

  const nlcScore = async (dtype: ArborDType): Promise<Scored> => {
    const model = await loadModel(ggufPath(o.model, dtype), o.threads);
    const ctx = await model.createContext({ contextSize: PROMPT_LEN + GEN + 16, sequences: 1, threads: o.threads });
    const seq = ctx.getSequence();
    const out: Scored = { greedy: [], lp: [], top: [] };
    for (const p of prompts) {
      await seq.clearHistory();
      out.greedy.push(await generateN(seq, p, GEN));
      await seq.clearHistory();
      const res = await seq.controlledEvaluate(withProbabilities(p, (i) => i < p.length - 1));
      const lp: number[] = [];
      const top: number[] = [];
      for (let i = 0; i < p.length - 1; i++) {
        const probs = res[i]?.next.probabilities;
        lp.push(Math.log(probs?.get(p[i + 1]! as unknown as Token) ?? 0));
        top.push(probs ? (probs.keys().next().value as unknown as number) : -1);
      }
      out.lp.push(lp);
      out.top.push(top);
    }
    await ctx.dispose();
    await model.dispose();
    return out;
  };

  const compare = (label: string, a: Scored, b: Scored) => {
    let sameSeqs = 0;
    let prefixSum = 0;
    a.greedy.forEach((g, i) => {
      const h = b.greedy[i]!;
      let k = 0;
      while (k < g.length && g[k] === h[k]) k++;
      prefixSum += k;
      if (k === g.length && g.length === h.length) sameSeqs++;
    });
    const diffs: number[] = [];
    let topSame = 0;
    let positions = 0;
    a.lp.forEach((row, i) =>
      row.forEach((x, j) => {
        diffs.push(Math.abs(x - b.lp[i]![j]!));
        positions++;
        if (a.top[i]![j] === b.top[i]![j]) topSame++;
      }),
    );
    console.log(
      `${label}: greedy ${GEN}-token continuations identical ${sameSeqs}/${a.greedy.length} (mean common prefix ${(prefixSum / a.greedy.length).toFixed(1)}); ` +
        `prompt log-prob |Δ| median ${fmt(median(diffs))} max ${fmt(Math.max(...diffs))} nats over ${positions} positions; argmax agrees at ${topSame}/${positions}`,
    );
    return { sameSeqs, topSame, positions, maxDiff: Math.max(...diffs) };
  };

  console.log(`verify ${o.model}: ${PROMPTS} prompts × ${PROMPT_LEN} random ids, greedy ${GEN}`);
  const a = await arborScore(o.dtype);
  const n = await nlcScore(o.dtype);
  console.log(`arbor ${o.dtype} greedy[0]: ${a.greedy[0]!.join(' ')}`);
  console.log(`node-llama-cpp ${o.dtype} greedy[0]: ${n.greedy[0]!.join(' ')}`);
  compare(`arbor ${o.dtype} vs node-llama-cpp GGUF ${o.dtype}`, a, n);
  if (o.dtype !== 'fp32') {
    const ref = await arborScore('fp32');
    compare(`arbor fp32 vs arbor ${o.dtype}`, ref, a);
    compare(`arbor fp32 vs node-llama-cpp GGUF ${o.dtype}`, ref, n);
  }
}
