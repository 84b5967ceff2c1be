/**
 * node-llama-cpp (bench/peers/, not a dependency of arbor), CPU only, driven with token ids.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PEERS_DIR } from './common.js';

type Nlc = typeof import('../peers/node_modules/node-llama-cpp/dist/index.js');
export type NlcModel = Awaited<ReturnType<Awaited<ReturnType<Nlc['getLlama']>>['loadModel']>>;
export type NlcContext = Awaited<ReturnType<NlcModel['createContext']>>;
export type NlcSequence = ReturnType<NlcContext['getSequence']>;
/** node-llama-cpp's branded token id. */
export type Token = import('../peers/node_modules/node-llama-cpp/dist/index.js').Token;
type InputItem = import('../peers/node_modules/node-llama-cpp/dist/index.js').ControlledEvaluateInputItem;

/** Plain token ids as node-llama-cpp's branded Token[]. */
export const toTokens = (ids: readonly number[]): Token[] => ids as unknown as Token[];
/** controlledEvaluate input: the ids, asking for the next-token distribution where `want(i)`. */
export function withProbabilities(ids: readonly number[], want: (i: number) => boolean): InputItem[] {
  return ids.map((t, i) => (want(i) ? [t as unknown as Token, { generateNext: { probabilities: true } }] : (t as unknown as Token)));
}

let nlc: Nlc | null = null;
let llamaPromise: ReturnType<Nlc['getLlama']> | null = null;

export async function loadNlc(): Promise<Nlc> {
  if (nlc) return nlc;
  const entry = join(PEERS_DIR, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (!existsSync(entry)) throw new Error(`node-llama-cpp is not installed: run  (cd bench/peers && npm ci)`);
  nlc = (await import(pathToFileURL(entry).href)) as Nlc;
  return nlc;
}

export async function getLlama(threads: number) {
  const m = await loadNlc();
  llamaPromise ??= m.getLlama({ gpu: false, logLevel: m.LlamaLogLevel.error, maxThreads: threads, build: 'never' });
  return llamaPromise;
}

export async function loadModel(path: string, threads: number): Promise<NlcModel> {
  const llama = await getLlama(threads);
  return llama.loadModel({ modelPath: path, gpuLayers: 0 });
}

/** Log-probability of `token` in a probabilities map returned by controlledEvaluate. */
export function logProbOf(probs: Map<Token, number> | undefined, token: number): number {
  const p = probs?.get(token as unknown as Token);
  return p === undefined || p <= 0 ? -Infinity : Math.log(p);
}

/**
 * Scores `suffixes` after `prefix` on one sequence, reusing the prefix: evaluate the prefix once
 * (with the next-token distribution at its last token), then for each suffix evaluate it with the
 * next-token distribution at each of its tokens but the last, read the suffix tokens' probabilities,
 * and erase the suffix from the sequence. Returns log p(suffix | prefix) per suffix.
 */
export async function scoreOnSequence(seq: NlcSequence, prefix: readonly number[], suffixes: readonly (readonly number[])[]): Promise<number[]> {
  await seq.clearHistory();
  return scoreAfterPrefix(seq, prefix, suffixes);
}

export async function scoreAfterPrefix(seq: NlcSequence, prefix: readonly number[], suffixes: readonly (readonly number[])[]): Promise<number[]> {
  const head = await seq.controlledEvaluate(withProbabilities(prefix, (i) => i === prefix.length - 1));
  const first = head[prefix.length - 1]?.next.probabilities;
  const start = seq.nextTokenIndex;
  const out: number[] = [];
  for (const s of suffixes) {
    const res = await seq.controlledEvaluate(withProbabilities(s, (i) => i < s.length - 1));
    let lp = logProbOf(first, s[0]!);
    for (let i = 0; i < s.length - 1; i++) lp += logProbOf(res[i]?.next.probabilities, s[i + 1]!);
    out.push(lp);
    await seq.eraseContextTokenRanges([{ start, end: start + s.length }]);
  }
  return out;
}

/** Greedy generation of exactly n tokens (EOS does not stop it); calls onToken at each. */
export async function generateN(seq: NlcSequence, prompt: readonly number[], n: number, onToken?: (t: number) => void): Promise<number[]> {
  const out: number[] = [];
  if (n <= 0) {
    await seq.evaluateWithoutGeneratingNewTokens(toTokens(prompt));
    return out;
  }
  for await (const t of seq.evaluate(toTokens(prompt), { temperature: 0, yieldEogToken: true })) {
    out.push(t as unknown as number);
    onToken?.(t);
    if (out.length >= n) break;
  }
  return out;
}
