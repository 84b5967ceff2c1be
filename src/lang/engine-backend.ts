import type { GenerateRequest, GenerateResult, StreamChunk, TokenLogprob } from '../engine/types.js';
import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import type { ChatRenderer, GenCall, GenOutcome, LangBackend, ScoredChoice } from './backend.js';
import { templateRenderer } from './chat-roles.js';
import { scorableTokens } from './choices.js';
import { firstScoredOffset, healingWindowStart } from './token-healing.js';
import type { TokenLogprobEntry, TopTokenLogprob } from './types.js';

/** What the engine backend needs of an `Engine`. */
export interface LangEngine {
  readonly tokenizer: ModelTokenizer;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  stream(req: GenerateRequest): AsyncGenerator<StreamChunk>;
}

type PromptLogprob = NonNullable<GenerateResult['promptLogprobs']>[number];

/**
 * Runs programs on an in-process {@link Engine}. Batched requests (a select's choices) are issued
 * together as concurrent `generate` calls, which the scheduler batches and serves from the radix
 * cache once the prefix request has filled it.
 */
export class EngineBackend implements LangBackend {
  private renderer: ChatRenderer | undefined;

  constructor(readonly engine: LangEngine) {}

  async cachePrefix(text: string, signal?: AbortSignal): Promise<number> {
    const r = await this.engine.generate({ prompt: text, maxTokens: 0, ...(signal ? { signal } : {}) });
    signal?.throwIfAborted();
    return r.usage.promptTokens;
  }

  async generate(call: GenCall): Promise<GenOutcome> {
    const o = call.options;
    const req: GenerateRequest = {
      ...o,
      prompt: call.text,
      // Prompt alternatives come with topLogprobs, as /generate's top_logprobs_num gives them.
      ...(o.promptLogprobsFrom !== undefined && (o.topLogprobs ?? 0) > 0 ? { promptTopLogprobs: o.topLogprobs } : {}),
      ...(call.signal ? { signal: call.signal } : {}),
    };
    let text = '';
    const output: TokenLogprob[] = [];
    let last: StreamChunk | undefined;
    for await (const chunk of this.engine.stream(req)) {
      text += chunk.text;
      if (chunk.text) call.onText?.(chunk.text);
      if (chunk.logprobs) output.push(...chunk.logprobs);
      last = chunk;
    }
    // The engine ends an aborted request with finishReason 'abort'; a program stops instead.
    call.signal?.throwIfAborted();
    const usage = last!.usage!;
    const wantsOutput = o.logprobs === true || (o.topLogprobs ?? 0) > 0;
    return {
      text,
      meta: {
        kind: 'gen',
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        cachedTokens: usage.cachedTokens,
        finishReason: last!.finishReason!,
        ...(last!.matchedStop !== undefined ? { matchedStop: last!.matchedStop } : {}),
        ...(last!.promptLogprobs ? { inputTokenLogprobs: last!.promptLogprobs.map((p) => this.entry(p)) } : {}),
        ...(wantsOutput ? { outputTokenLogprobs: output.map((t) => this.entry(t)) } : {}),
      },
    };
  }

  async scoreChoices(prefix: string, choices: readonly string[], unconditional: boolean, signal?: AbortSignal): Promise<ScoredChoice[]> {
    const tok = this.engine.tokenizer;
    const withSignal = signal ? { signal } : {};
    const prefixIds = tok.encode(prefix);
    await this.engine.generate({ inputIds: prefixIds, maxTokens: 0, ...withSignal });
    signal?.throwIfAborted();
    const start = healingWindowStart(prefixIds.length);
    const plans = choices.map((choice, i) => {
      const full = tok.encode(prefix + choice);
      return { full, from: start + firstScoredOffset(prefixIds.slice(start), full.slice(start), i) };
    });
    // Logprobs from `from` on: the engine reuses the cached prefix up to from − 1.
    const scored = await Promise.all(
      plans.map(async ({ full, from }, i) => {
        const r = await this.engine.generate({ inputIds: full, maxTokens: 0, temperature: 0, promptLogprobsFrom: from, ...withSignal });
        signal?.throwIfAborted();
        return scorableTokens(r.promptLogprobs!.map((p) => this.entry(p)), i);
      }),
    );
    if (!unconditional) return scored.map((tokens) => ({ tokens }));
    const alone = await Promise.all(
      scored.map((tokens) =>
        this.engine.generate({ inputIds: tokens.map((t) => t.token), maxTokens: 0, temperature: 0, promptLogprobsFrom: 0, ...withSignal }),
      ),
    );
    signal?.throwIfAborted();
    return scored.map((tokens, i) => ({ tokens, unconditional: alone[i]!.promptLogprobs!.map((p) => this.entry(p)) }));
  }

  async chatRenderer(): Promise<ChatRenderer> {
    return (this.renderer ??= templateRenderer(this.engine.tokenizer));
  }

  private entry(p: PromptLogprob | TokenLogprob): TokenLogprobEntry {
    const tok = this.engine.tokenizer;
    const top = p.topLogprobs?.map((a): TopTokenLogprob => ({ token: a.token, logprob: a.logprob, text: tok.tokenText(a.token) }));
    return { token: p.token, logprob: p.logprob, text: tok.tokenText(p.token), ...(top ? { topLogprobs: top } : {}) };
  }
}
