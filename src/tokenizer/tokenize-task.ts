import { move } from 'piscina';
import { ModelTokenizer } from './tokenizer.js';

/** One piscina task: encode or decode a slice of a large batch with the model's tokenizer. */
export type TokenizeTask =
  | { readonly modelPath: string; readonly op: 'encode'; readonly texts: readonly string[]; readonly addSpecialTokens: boolean }
  | { readonly modelPath: string; readonly op: 'decode'; readonly ids: readonly (readonly number[])[]; readonly skipSpecialTokens: boolean };

/**
 * An encoded slice in one Int32Array: `[n, end_0 … end_{n-1}, ids…]`, text i's ids ending at
 * `end_i` (counted from the first id). A typed array moves to the caller without a copy; lists
 * of numbers would be cloned on the caller's thread (0.4 s for 15 million ids), and piscina moves
 * only a task's whole result.
 */
export type EncodedSlice = Int32Array;

// One tokenizer per model folder per worker, loaded on the first task that names it.
const loaded = new Map<string, Promise<ModelTokenizer>>();

/** piscina worker entry. */
export default async function run(task: TokenizeTask): Promise<EncodedSlice | string[]> {
  let tok = loaded.get(task.modelPath);
  if (!tok) {
    tok = ModelTokenizer.load(task.modelPath);
    loaded.set(task.modelPath, tok);
  }
  const t = await tok;
  if (task.op === 'decode') return task.ids.map((ids) => t.decode(ids, { skipSpecialTokens: task.skipSpecialTokens }));
  const parts = task.texts.map((s) => t.encode(s, { addSpecialTokens: task.addSpecialTokens }));
  const n = parts.length;
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Int32Array(1 + n + total);
  out[0] = n;
  let end = 0;
  parts.forEach((p, i) => {
    out.set(p, 1 + n + end);
    out[1 + i] = end += p.length;
  });
  return move(out) as EncodedSlice;
}
