import { readFileSync, mkdtempSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const MODELS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');
export const ARCH_FIXTURES = ['llama-gqa', 'llama-mqa', 'mistral', 'qwen2', 'qwen3'] as const;

/** Outputs recorded from Hugging Face transformers by tools/make_fixtures.py. */
export interface Reference {
  model: string;
  prompts: number[][];
  prefill_logits: number[][][];
  greedy: { tokens: number[]; logits: number[][] }[];
  extend: { prefix: number[]; suffix: number[]; logits: number[][] };
  prompt_logprobs: (number | null)[][];
}

export function loadReference(name: string): Reference {
  return JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as Reference;
}

/** A private graph cache per test file, so tests never share or depend on ~/.cache. */
export function tempCacheDir(): string {
  return mkdtempSync(join(tmpdir(), 'arbor-test-cache-'));
}

/** max |a − b| / max |b| over one row: the relative error the acceptance criteria use. */
export function rowRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - actual[i]!));
  }
  return maxDiff / maxAbs;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Row r of a flat [rows, vocab] array. */
export function row(logits: Float32Array, r: number, vocab: number): Float32Array {
  return logits.subarray(r * vocab, (r + 1) * vocab);
}
