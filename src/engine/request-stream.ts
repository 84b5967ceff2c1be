import type { RequestEvent } from '../actors/protocol.js';
import type { StreamChunk } from './types.js';
import { EngineError } from './errors.js';

/**
 * The front actor's per-request queue: scheduler events go in as they arrive, the caller's async
 * iterator takes them out as stream chunks. An error ends the iteration by throwing.
 */
export class RequestStream {
  private readonly chunks: StreamChunk[] = [];
  private waiter: (() => void) | null = null;
  private error: Error | null = null;
  finished = false;

  push(ev: RequestEvent): void {
    const f = ev.finish;
    if (f?.error) {
      if (ev.text || ev.tokenIds.length) this.chunks.push({ text: ev.text, tokenIds: ev.tokenIds });
      this.fail(new EngineError(f.error));
      return;
    }
    this.chunks.push({
      text: ev.text,
      tokenIds: ev.tokenIds,
      ...(ev.logprobs ? { logprobs: ev.logprobs } : {}),
      ...(f
        ? {
            finishReason: f.reason,
            ...(f.matched !== undefined ? { matchedStop: f.matched } : {}),
            usage: f.usage,
            ...(ev.promptLogprobs ? { promptLogprobs: ev.promptLogprobs } : {}),
          }
        : {}),
    });
    if (f) this.finished = true;
    this.notify();
  }

  fail(error: Error): void {
    this.error = error;
    this.finished = true;
    this.notify();
  }

  private notify(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *chunksOut(): AsyncGenerator<StreamChunk> {
    for (;;) {
      if (this.chunks.length) {
        const c = this.chunks.shift()!;
        yield c;
        if (c.finishReason) return;
        continue;
      }
      if (this.error) throw this.error;
      if (this.finished) return;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
