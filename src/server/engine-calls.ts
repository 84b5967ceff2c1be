import { performance } from 'node:perf_hooks';
import type { GenerateRequest, GenerateResult } from '../engine/types.js';
import { openMergedStreams, type TaggedChunk } from '../engine/merged-streams.js';
import type { ServerMetrics } from './metrics.js';
import type { ServedEngine } from './served-engine.js';

export type { TaggedChunk };

/** A finished request with its end-to-end latency in seconds. */
export interface TimedResult {
  readonly result: GenerateResult;
  readonly e2e: number;
}

/** Runs one request to completion, timing it and reporting it to `metrics`. */
export async function timedGenerate(engine: ServedEngine, req: GenerateRequest, metrics?: ServerMetrics): Promise<TimedResult> {
  const start = performance.now();
  const result = await engine.generate(req);
  const e2e = (performance.now() - start) / 1000;
  metrics?.observe({ usage: result.usage, e2e });
  return { result, e2e };
}

/** {@link openMergedStreams} over the served engine, reporting each finished stream (e2e, TTFT) to `metrics`. */
export function openStreams(engine: ServedEngine, reqs: readonly GenerateRequest[], metrics?: ServerMetrics): Promise<AsyncGenerator<TaggedChunk>> {
  const firstToken = new Map<number, number>();
  return openMergedStreams(engine, reqs, ({ index, chunk, elapsed }) => {
    if (!firstToken.has(index) && chunk.tokenIds.length > 0) firstToken.set(index, elapsed);
    if (chunk.usage && chunk.finishReason) {
      const ttft = firstToken.get(index);
      metrics?.observe({ usage: chunk.usage, e2e: elapsed, ...(ttft === undefined ? {} : { ttft }) });
    }
  });
}
