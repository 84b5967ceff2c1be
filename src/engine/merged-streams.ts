import { performance } from 'node:perf_hooks';
import type { GenerateRequest, StreamChunk } from './types.js';
import { startSliced } from './time-slicer.js';

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
  const iterators: AsyncIterator<StreamChunk>[] = [];
  const opened = await startSliced(reqs, (req) => {
    const it = source.stream(req)[Symbol.asyncIterator]();
    iterators.push(it);
    return it.next();
  });
  const firsts = await Promise.allSettled(opened);
  const failed = firsts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(iterators.map((it) => it.return?.(undefined)));
    throw failed.reason;
  }
  const primed = firsts.map((r) => (r as PromiseFulfilledResult<IteratorResult<StreamChunk>>).value);
  return merge(iterators, primed, start, onChunk);
}

type Step = { readonly index: number; readonly step: IteratorResult<StreamChunk> };

/**
 * Every stream's chunks in arrival order. Each settled `next()` joins a ready queue, so a chunk
 * costs O(1) however many streams are open (racing all pending promises per chunk made a streamed
 * batch of 5,000 prompts quadratic: 30 s of blocked event loop).
 */
async function* merge(
  iterators: AsyncIterator<StreamChunk>[],
  primed: IteratorResult<StreamChunk>[],
  start: number,
  onChunk: ((tagged: TaggedChunk) => void) | undefined,
): AsyncGenerator<TaggedChunk> {
  const ready: Step[] = primed.map((step, index) => ({ index, step }));
  let head = 0;
  const ended = new Set<number>();
  let failure = null as { readonly error: unknown } | null;
  let wake: (() => void) | null = null;
  const pull = (index: number): void => {
    iterators[index]!.next().then(
      (step) => {
        ready.push({ index, step });
        wake?.();
      },
      (error: unknown) => {
        failure ??= { error };
        wake?.();
      },
    );
  };
  try {
    while (ended.size < iterators.length) {
      if (failure) throw failure.error;
      if (head === ready.length) {
        ready.length = head = 0;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        continue;
      }
      const { index, step } = ready[head++]!;
      if (step.done) {
        ended.add(index);
        continue;
      }
      // Ask for the next chunk before handing this one out, so engine and consumer overlap.
      pull(index);
      const tagged = { index, chunk: step.value, elapsed: (performance.now() - start) / 1000 };
      onChunk?.(tagged);
      yield tagged;
    }
  } finally {
    // Not awaited: an async generator's return() queues behind its pending next(), which only
    // settles once the request is aborted — and the caller aborts it after this loop is left.
    iterators.forEach((it, i) => ended.has(i) || it.return?.(undefined).catch(() => undefined));
  }
}
