import { performance } from 'node:perf_hooks';
import type { GenerateRequest, StreamChunk } from './types.js';

/** A stream chunk tagged with the request it belongs to and the seconds since the streams opened. */
export interface TaggedChunk {
  readonly index: number;
  readonly chunk: StreamChunk;
  readonly elapsed: number;
}

/** Something that streams requests (the engine, or what the server serves). */
export interface StreamSource {
  stream(req: GenerateRequest): AsyncIterable<StreamChunk>;
}

/**
 * Starts one stream per request — all at once, so n choices decode in the same batches — and
 * waits for each one's first chunk, so that a request the engine refuses fails here (a server can
 * still answer 400 before any header is sent). Then yields every chunk of every stream as it
 * arrives. Leaving the loop early closes the streams still open, which cancels their requests.
 * `onChunk` sees each chunk first (metrics).
 */
export async function openMergedStreams(
  source: StreamSource,
  reqs: readonly GenerateRequest[],
  onChunk?: (tagged: TaggedChunk) => void,
): Promise<AsyncGenerator<TaggedChunk>> {
  const start = performance.now();
  const iterators = reqs.map((req) => source.stream(req)[Symbol.asyncIterator]());
  const firsts = await Promise.allSettled(iterators.map((it) => it.next()));
  const failed = firsts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(iterators.map((it) => it.return?.(undefined)));
    throw failed.reason;
  }
  const primed = firsts.map((r) => (r as PromiseFulfilledResult<IteratorResult<StreamChunk>>).value);
  return merge(iterators, primed, start, onChunk);
}

type Step = { readonly index: number; readonly step: IteratorResult<StreamChunk> };

async function* merge(
  iterators: AsyncIterator<StreamChunk>[],
  primed: IteratorResult<StreamChunk>[],
  start: number,
  onChunk: ((tagged: TaggedChunk) => void) | undefined,
): AsyncGenerator<TaggedChunk> {
  const pending = new Map<number, Promise<Step>>(primed.map((step, index) => [index, Promise.resolve({ index, step })]));
  try {
    while (pending.size > 0) {
      const { index, step } = await Promise.race(pending.values());
      if (step.done) {
        pending.delete(index);
        continue;
      }
      // Ask for the next chunk before handing this one out, so engine and consumer overlap. The
      // no-op catch keeps a rejection after the consumer has left from being "unhandled".
      const next = iterators[index]!.next().then((step) => ({ index, step }));
      next.catch(() => undefined);
      pending.set(index, next);
      const tagged = { index, chunk: step.value, elapsed: (performance.now() - start) / 1000 };
      onChunk?.(tagged);
      yield tagged;
    }
  } finally {
    // Not awaited: an async generator's return() queues behind its pending next(), which only
    // settles once the request is aborted — and the caller aborts it after this loop is left.
    for (const i of pending.keys()) iterators[i]!.return?.(undefined).catch(() => undefined);
  }
}
