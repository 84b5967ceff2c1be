import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import type { ModelTokenizer } from './tokenizer.js';
import type { TokenizeTask } from './tokenize-task.js';

/** Below this many texts a batch is tokenized inline: a worker round trip would cost more. */
export const POOL_THRESHOLD = 256;
const SLICE = 512;

/**
 * Tokenizes and detokenizes large batches (thousands of prompts for a runBatch or a list request)
 * on a piscina pool of worker threads, so the caller's event loop keeps streaming meanwhile.
 */
export class TokenizerPool {
  private pool: Piscina | null = null;

  constructor(
    private readonly modelPath: string,
    private readonly inline: ModelTokenizer,
  ) {}

  private workers(): Piscina {
    if (!this.pool) {
      const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
      this.pool = new Piscina({
        filename: new URL(`./tokenize-task${ext}`, import.meta.url).href,
        maxThreads: Math.max(1, Math.min(4, availableParallelism() - 1)),
        idleTimeout: 5000,
      });
    }
    return this.pool;
  }

  async encode(texts: readonly string[], addSpecialTokens = true): Promise<number[][]> {
    if (texts.length < POOL_THRESHOLD) return texts.map((s) => this.inline.encode(s, { addSpecialTokens }));
    const parts = await Promise.all(
      slices(texts).map((part) => this.workers().run({ modelPath: this.modelPath, op: 'encode', texts: part, addSpecialTokens } satisfies TokenizeTask) as Promise<number[][]>),
    );
    return parts.flat();
  }

  async decode(ids: readonly (readonly number[])[], skipSpecialTokens = true): Promise<string[]> {
    if (ids.length < POOL_THRESHOLD) return ids.map((x) => this.inline.decode(x, { skipSpecialTokens }));
    const parts = await Promise.all(
      slices(ids).map((part) => this.workers().run({ modelPath: this.modelPath, op: 'decode', ids: part, skipSpecialTokens } satisfies TokenizeTask) as Promise<string[]>),
    );
    return parts.flat();
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = null;
  }
}

function slices<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += SLICE) out.push(items.slice(i, i + SLICE));
  return out;
}
