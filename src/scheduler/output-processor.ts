import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { GREEDY_TEMPERATURE, Sampler } from './sampling.js';
import { recordOutputToken } from './sampling-state.js';
import { logSoftmaxAt, topK } from './sampling-logprobs.js';
import type { RequestState } from './request-state.js';
import type { FinishReason, RequestEvent } from '../actors/protocol.js';

/** A finish decided while processing a token. */
export interface Finish {
  readonly reason: FinishReason;
  readonly matched?: string | number;
}

/**
 * Turns logits rows into tokens, text and finish decisions for one request at a time: sampling,
 * prompt logprobs, incremental detokenization and stop strings (also when split across tokens).
 */
export class OutputProcessor {
  private readonly sampler: Sampler;
  private readonly eos: Set<number>;

  constructor(
    private readonly tokenizer: ModelTokenizer,
    vocabSize: number,
    private readonly contextLength: number,
  ) {
    this.sampler = new Sampler(vocabSize);
    this.eos = new Set(tokenizer.eosTokenIds);
  }

  /** Records prompt logprobs: `row` holds the logits at `position`, scoring token position+1. */
  promptLogprob(r: RequestState, row: Float32Array, position: number): void {
    const from = r.req.promptLogprobsFrom;
    // A retracted request recomputes its prompt; its prompt logprobs were recorded the first time.
    if (from === undefined || r.outputIds.length > 0) return;
    if (position + 1 < from || position + 1 >= r.req.inputIds.length) return;
    if (from === 0 && position === 0 && r.promptLogprobs.length === 0) r.promptLogprobs.push({ token: r.req.inputIds[0]!, logprob: null });
    const token = r.req.inputIds[position + 1]!;
    const k = r.req.promptTopLogprobs;
    r.promptLogprobs.push({ token, logprob: logSoftmaxAt(row, token), ...(k > 0 ? { topLogprobs: topK(row, k) } : {}) });
  }

  /** Samples the next token from `row`, appends it, and returns a finish when one applies. */
  sample(r: RequestState, row: Float32Array): Finish | null {
    const q = r.req;
    let token: number;
    if (!q.logprobs && q.sampling.temperature <= GREEDY_TEMPERATURE) token = this.sampler.greedyToken(row, q.sampling, r.sampling);
    else {
      const s = this.sampler.sample(row, q.sampling, r.sampling, q.logprobs ? q.topLogprobs : 0);
      token = s.token;
      if (q.logprobs) r.pendingLogprobs.push(s.topLogprobs ? { token, logprob: s.logprob, topLogprobs: s.topLogprobs } : { token, logprob: s.logprob });
    }
    recordOutputToken(r.sampling, token);
    r.outputIds.push(token);
    r.pendingTokens.push(token);
    const n = r.outputIds.length;
    if (n > q.minTokens) {
      if (q.stopTokenIds.includes(token)) return { reason: 'stop', matched: token };
      if (!q.ignoreEos && this.eos.has(token)) return { reason: 'stop', matched: token };
    }
    const check = r.stopMatcher.push(r.detokenizer.push(token));
    r.pendingText += check.text;
    if (check.stop !== null && n > q.minTokens) return { reason: 'stop', matched: check.stop };
    if (n >= q.maxTokens) return { reason: 'length' };
    if (q.inputIds.length + n >= this.contextLength) return { reason: 'length' };
    return null;
  }

  /** Builds the request's event for this step (and its final event when `finish`). */
  event(r: RequestState, finish: (Finish & { error?: string }) | null): RequestEvent {
    // A stop string already cut the text; any other ending releases what was held back.
    if (finish && typeof finish.matched !== 'string') {
      const tail = r.stopMatcher.push(r.detokenizer.finish());
      r.pendingText += tail.text + (tail.stop === null ? r.stopMatcher.flush() : '');
    }
    const ev: RequestEvent = {
      id: r.req.id,
      tokenIds: r.pendingTokens,
      text: r.pendingText,
      ...(r.req.logprobs ? { logprobs: r.pendingLogprobs } : {}),
      ...(finish
        ? {
            ...(r.req.promptLogprobsFrom !== undefined ? { promptLogprobs: r.promptLogprobs } : {}),
            finish: {
              reason: finish.reason,
              ...(finish.matched !== undefined ? { matched: finish.matched } : {}),
              ...(finish.error ? { error: finish.error } : {}),
              usage: { promptTokens: r.req.inputIds.length, completionTokens: r.outputIds.length, cachedTokens: r.cachedTokens },
            },
          }
        : {}),
    };
    r.pendingTokens = [];
    r.pendingText = '';
    r.pendingLogprobs = [];
    return ev;
  }
}
