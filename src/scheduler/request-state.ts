import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import { IncrementalDetokenizer } from '../tokenizer/detokenizer.js';
import { StopMatcher } from './stop-matcher.js';
import { createSamplingState } from './sampling-state.js';
import type { SamplingState } from './sampling-state.js';
import type { PromptLogprob, SchedulerRequest, TokenLogprob } from '../actors/protocol.js';

/** No tree node is locked by this request. */
export const NO_NODE = -1;
/** The request holds no slot-table row (not running). */
export const NO_ROW = -1;

/** A request inside the scheduler: its tokens, its KV slots, and its output bookkeeping. */
export class RequestState {
  readonly outputIds: number[] = [];
  /** KV slot of every token computed so far (position order); the first `treeLen` belong to the radix tree. */
  slots: number[] = [];
  treeLen = 0;
  lockedNode = NO_NODE;
  /** Its row in the slot table the shards read (NO_ROW while waiting). */
  row = NO_ROW;
  /** Prompt tokens found in the radix cache at (first) admission. */
  cachedTokens = 0;
  admitted = false;
  aborted = false;
  readonly sampling: SamplingState;
  readonly detokenizer: IncrementalDetokenizer;
  readonly stopMatcher: StopMatcher;
  /** Pending per-step output, flushed into one event. */
  pendingTokens: number[] = [];
  pendingText = '';
  pendingLogprobs: TokenLogprob[] = [];
  promptLogprobs: PromptLogprob[] = [];

  constructor(
    readonly req: SchedulerRequest,
    tokenizer: ModelTokenizer,
    readonly arrival: number,
  ) {
    this.sampling = createSamplingState(req.inputIds, req.seed);
    this.detokenizer = new IncrementalDetokenizer(tokenizer, { skipSpecialTokens: !req.includeSpecialTokens, contextIds: req.inputIds });
    this.stopMatcher = new StopMatcher(req.stop);
  }

  /** Prompt then output: every token whose KV the request needs. */
  allTokens(): number[] {
    return this.outputIds.length ? this.req.inputIds.concat(this.outputIds) : this.req.inputIds;
  }

  /** Tokens at positions `start…start+n` (prompt then output), without concatenating the whole sequence. */
  tokensAt(start: number, n: number): number[] {
    const P = this.req.inputIds.length;
    if (start + n <= P) return this.req.inputIds.slice(start, start + n);
    if (start >= P) return this.outputIds.slice(start - P, start - P + n);
    return this.req.inputIds.slice(start).concat(this.outputIds.slice(0, start + n - P));
  }

  /** Tokens still to compute before the next sample (prompt remainder, or the last sampled token). */
  remaining(): number {
    return this.req.inputIds.length + this.outputIds.length - this.slots.length;
  }

  /** Slots this request owns (not the tree's). */
  ownSlots(): number[] {
    return this.slots.slice(this.treeLen);
  }
}
