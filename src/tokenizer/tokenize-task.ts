import { ModelTokenizer } from './tokenizer.js';

/** One piscina task: encode or decode a slice of a large batch with the model's tokenizer. */
export type TokenizeTask =
  | { readonly modelPath: string; readonly op: 'encode'; readonly texts: readonly string[]; readonly addSpecialTokens: boolean }
  | { readonly modelPath: string; readonly op: 'decode'; readonly ids: readonly (readonly number[])[]; readonly skipSpecialTokens: boolean };

// One tokenizer per model folder per worker, loaded on the first task that names it.
const loaded = new Map<string, Promise<ModelTokenizer>>();

/** piscina worker entry. */
export default async function run(task: TokenizeTask): Promise<number[][] | string[]> {
  let tok = loaded.get(task.modelPath);
  if (!tok) {
    tok = ModelTokenizer.load(task.modelPath);
    loaded.set(task.modelPath, tok);
  }
  const t = await tok;
  if (task.op === 'encode') return task.texts.map((s) => t.encode(s, { addSpecialTokens: task.addSpecialTokens }));
  return task.ids.map((ids) => t.decode(ids, { skipSpecialTokens: task.skipSpecialTokens }));
}
