import { performance } from 'node:perf_hooks';
import type { GenerateRequest, GenerateResult, StreamChunk } from '../engine/types.js';
import type { ServerMetrics } from './metrics.js';
import type { ServedEngine } from './served-engine.js';

/** A finished request with its end-to-end latency in seconds. */
export interface TimedResult {
  readonly result: GenerateResult;
  readonly e2e: number;
}

/** A stream chunk tagged with the request it belongs to and the seconds since that request began. */
export interface TaggedChunk {
  readonly index: number;
  readonly chunk: StreamChunk;
  readonly elapsed: number;
}

/** Runs one request to completion, timing it and reporting it to `metrics`. */
export async function timedGenerate(engine: ServedEngine, req: GenerateRequest, metrics?: ServerMetrics): Promise<TimedResult> {
  const start = performance.now();
  const result = await engine.generate(req);
  const e2e = (performance.now() - start) / 1000;
  metrics?.observe({ usage: result.usage, e2e });
  return { result, e2e };
}

/**
 * Starts one stream per request and waits for each one's first chunk, so that a request the
 * engine refuses fails here — before any response header is sent — and can still be answered
 * with a 400. Then yields every chunk of every stream as it arrives. Leaving the loop early
 * (client gone, error) closes the streams still open, which cancels their engine requests.
 */
export async function openStreams(
  engine: ServedEngine,
  reqs: readonly GenerateRequest[],
  metrics?: ServerMetrics,
): Promise<AsyncGenerator<TaggedChunk>> {
  const start = performance.now();
  const iterators = reqs.map((req) => engine.stream(req)[Symbol.asyncIterator]());
  const firsts = await Promise.allSettled(iterators.map((it) => it.next()));
  const failed = firsts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(iterators.map((it) => it.return?.(undefined)));
    throw failed.reason;
  }
  const primed = firsts.map((r) => (r as PromiseFulfilledResult<IteratorResult<StreamChunk>>).value);
  return merge(iterators, primed, start, metrics);
}

type Step = { readonly index: number; readonly step: IteratorResult<StreamChunk> };

async function* merge(
  iterators: AsyncIterator<StreamChunk>[],
  primed: IteratorResult<StreamChunk>[],
  start: number,
  metrics: ServerMetrics | undefined,
): AsyncGenerator<TaggedChunk> {
  const pending = new Map<number, Promise<Step>>(primed.map((step, index) => [index, Promise.resolve({ index, step })]));
  const firstToken = new Map<number, number>();
  try {
    while (pending.size > 0) {
      const { index, step } = await Promise.race(pending.values());
      if (step.done) {
        pending.delete(index);
        continue;
      }
      // Ask for the next chunk before handing this one out, so engine and socket overlap. The
      // no-op catch keeps a rejection after the consumer has left from being "unhandled".
      const next = iterators[index]!.next().then((step) => ({ index, step }));
      next.catch(() => undefined);
      pending.set(index, next);
      const elapsed = (performance.now() - start) / 1000;
      const chunk = step.value;
      if (!firstToken.has(index) && chunk.tokenIds.length > 0) firstToken.set(index, elapsed);
      if (chunk.usage && chunk.finishReason) {
        const ttft = firstToken.get(index);
        metrics?.observe({ usage: chunk.usage, e2e: elapsed, ...(ttft === undefined ? {} : { ttft }) });
      }
      yield { index, chunk, elapsed };
    }
  } finally {
    // Not awaited: an async generator's return() queues behind its pending next(), which only
    // settles once the request is aborted — and the caller aborts it after this loop is left.
    for (const i of pending.keys()) iterators[i]!.return?.(undefined).catch(() => undefined);
  }
}
