import { randomUUID } from 'node:crypto';
import type { TokenTextSource } from './logprobs.js';

/** What every object of one OpenAI response (or all chunks of one stream) shares. */
export interface ResponseContext {
  /** `cmpl-…` or `chatcmpl-…`; the same in every chunk of a stream. */
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  /** The served model name. */
  readonly model: string;
  readonly tokenizer: TokenTextSource;
}

/** A fresh context with an id of the given prefix (`cmpl` for completions, `chatcmpl` for chat). */
export function newResponseContext(prefix: 'cmpl' | 'chatcmpl', model: string, tokenizer: TokenTextSource): ResponseContext {
  return { id: `${prefix}-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), model, tokenizer };
}
