import { bad } from '../openai/json-fields.js';
import { HttpError } from './http-io.js';
import type { ServedEngine } from './served-engine.js';

/** Default `--max-prompts-per-request`. */
export const DEFAULT_MAX_PROMPTS_PER_REQUEST = 65_536;
/** Default `--max-prompt-tokens-per-request`. */
export const DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST = 4_194_304;

/** How much one HTTP request may ask for. */
export interface RequestLimits {
  /** Most engine requests (prompts × `n`) one HTTP request may create. */
  readonly maxPromptsPerRequest: number;
  /** Most prompt tokens, summed over those engine requests. */
  readonly maxPromptTokensPerRequest: number;
}

/** Refuses a request that would create more than `--max-prompts-per-request` engine requests (400, naming `name`). */
export function checkPromptCount(count: number, name: string, limits: RequestLimits): void {
  if (count > limits.maxPromptsPerRequest) {
    bad(name, `asks for ${count} prompts (× n); at most ${limits.maxPromptsPerRequest} per request (--max-prompts-per-request)`);
  }
}

/** Refuses a request whose prompts hold more than `--max-prompt-tokens-per-request` tokens in all (400). */
export function checkPromptTokens(prompts: readonly { readonly inputIds?: readonly number[] }[], name: string, limits: RequestLimits): void {
  let total = 0;
  for (const p of prompts) total += p.inputIds?.length ?? 0;
  if (total > limits.maxPromptTokensPerRequest) {
    bad(name, `holds ${total} prompt tokens in all; at most ${limits.maxPromptTokensPerRequest} per request (--max-prompt-tokens-per-request)`);
  }
}

/**
 * Refuses, before anything is submitted, a request whose `count` engine requests would not fit
 * in the scheduler's queue (503, as SGLang answers a full queue). The engine still checks each
 * request as it arrives; this spares a batch that cannot fit from being half run.
 */
export function checkQueueRoom(engine: ServedEngine, count: number): void {
  const limit = engine.options.maxQueuedRequests;
  const queued = engine.stats().queued;
  if (queued + count > limit) {
    throw new HttpError(503, `the request queue is full: ${queued} waiting + ${count} asked > ${limit} (--max-queued-requests); retry later`, { 'Retry-After': '1' });
  }
}
