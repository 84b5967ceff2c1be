import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import type { ModelTokenizer } from './tokenizer.js';
import type { EncodedSlice, TokenizeTask } from './tokenize-task.js';

/** Batches of fewer texts (and fewer characters, below) are tokenized inline: a worker round trip would cost more. */
export const POOL_THRESHOLD = 256;
/** About 12 ms of inline encoding on the development VM; more would hold up the caller's event loop. */
export const POOL_CHARS = 16_384;
/** A pool task's most items, and most characters (encode) or ids (decode), so a big job spreads over the workers. */
const SLICE_ITEMS = 512;
const SLICE_UNITS = 1 << 20;

/** Token ids of one text: a plain array when encoded inline, a view of a worker's result otherwise. */
export type TokenIds = readonly number[] | Int32Array;

/**
 * Tokenizes and detokenizes large jobs — thousands of prompts for a runBatch or a list request,
 * or one very long prompt — on a piscina pool of worker threads, so that the caller's event loop
 * keeps serving meanwhile. An aborted `signal` drops the job's queued tasks and stops its running
 * ones (piscina ends the worker).
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

  /** Token ids of each text, in order. */
  async encode(texts: readonly string[], addSpecialTokens = true, signal?: AbortSignal): Promise<TokenIds[]> {
    if (texts.length < POOL_THRESHOLD && charCount(texts) < POOL_CHARS) return texts.map((s) => this.inline.encode(s, { addSpecialTokens }));
    const parts = await Promise.all(
      slices(texts, (s) => s.length).map(
        (part) => this.workers().run({ modelPath: this.modelPath, op: 'encode', texts: part, addSpecialTokens } satisfies TokenizeTask, { signal: signal ?? null }) as Promise<EncodedSlice>,
      ),
    );
    return parts.flatMap(unpack);
  }

  async decode(ids: readonly (readonly number[])[], skipSpecialTokens = true, signal?: AbortSignal): Promise<string[]> {
    if (ids.length < POOL_THRESHOLD) return ids.map((x) => this.inline.decode(x, { skipSpecialTokens }));
    const parts = await Promise.all(
      slices(ids, (x) => x.length).map(
        (part) => this.workers().run({ modelPath: this.modelPath, op: 'decode', ids: part, skipSpecialTokens } satisfies TokenizeTask, { signal: signal ?? null }) as Promise<string[]>,
      ),
    );
    return parts.flat();
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = null;
  }
}

/** The texts' ids of one worker result, as views (no copy). */
function unpack(slice: EncodedSlice): Int32Array[] {
  const n = slice[0]!;
  const ids = slice.subarray(1 + n);
  return Array.from({ length: n }, (_, i) => ids.subarray(i === 0 ? 0 : slice[i]!, slice[1 + i]!));
}

function charCount(texts: readonly string[]): number {
  let n = 0;
  for (const s of texts) n += s.length;
  return n;
}

/** Consecutive runs of at most SLICE_ITEMS items and (but for a single larger item) SLICE_UNITS units. */
function slices<T>(items: readonly T[], size: (item: T) => number): T[][] {
  const out: T[][] = [];
  let part: T[] = [];
  let chars = 0;
  for (const item of items) {
    const n = size(item);
    if (part.length === SLICE_ITEMS || (part.length > 0 && chars + n > SLICE_UNITS)) {
      out.push(part);
      part = [];
      chars = 0;
    }
    part.push(item);
    chars += n;
  }
  if (part.length) out.push(part);
  return out;
}

/** `ids` as a plain array (copied only when it is a worker's typed view; a loop is ~7× faster than Array.from). */
export function idArray(ids: TokenIds): number[] {
  if (Array.isArray(ids)) return ids as number[];
  const out = new Array<number>(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = ids[i]!;
  return out;
}
