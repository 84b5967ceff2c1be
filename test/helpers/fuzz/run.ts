import fc from 'fast-check';
import { sendAndJudge } from './judge.js';
import { fuzzRequest } from './requests.js';
import { FuzzTally, type FuzzFigures } from './tally.js';

/** Settings of {@link runFuzz}. */
export interface FuzzRunOptions {
  /** The server, e.g. http://127.0.0.1:30000. */
  readonly url: string;
  /** How many requests to generate (rounded up to whole batches). */
  readonly requests: number;
  /** Requests in flight together. */
  readonly batch: number;
  readonly seed: number;
  /** The server's body limit: some bodies are made larger. */
  readonly maxBodyBytes: number;
  /**
   * 'assert' (tests): a fast-check property over batches, which stops at the first batch that
   * breaks a rule and shrinks it to a small counterexample. 'soak' (bench): never stops, counts all.
   */
  readonly mode: 'assert' | 'soak';
  /** Called after each batch with the requests sent so far (progress lines). */
  readonly onProgress?: (sent: number) => void;
}

/** The figures of a run, and the shrunk counterexample when a property run failed. */
export interface FuzzReport extends FuzzFigures {
  readonly seconds: number;
  readonly counterexample?: string;
}

/** Sends generated hostile requests to a server and judges every answer. */
export async function runFuzz(o: FuzzRunOptions): Promise<FuzzReport> {
  const tally = new FuzzTally();
  const batchOf = fc.array(fuzzRequest(o.maxBodyBytes), { minLength: o.batch, maxLength: o.batch });
  let sent = 0;
  const sendBatch = async (batch: readonly Parameters<typeof sendAndJudge>[1][]): Promise<boolean> => {
    const verdicts = await Promise.all(batch.map((r) => sendAndJudge(o.url, r)));
    verdicts.forEach((v, i) => tally.add(batch[i]!, v));
    sent += batch.length;
    o.onProgress?.(sent);
    return verdicts.every((v) => v.problem === undefined);
  };
  const started = performance.now();
  const runs = Math.ceil(o.requests / o.batch);
  let counterexample: string | undefined;
  if (o.mode === 'assert') {
    const result = await fc.check(fc.asyncProperty(batchOf, sendBatch), { numRuns: runs, seed: o.seed });
    if (result.failed) counterexample = fc.defaultReportMessage(result) ?? 'the property failed';
  } else {
    // Sampled in chunks, so that memory stays flat however many requests a soak sends.
    const CHUNK = 100;
    for (let done = 0; done < runs; done += CHUNK) {
      for (const batch of fc.sample(batchOf, { numRuns: Math.min(CHUNK, runs - done), seed: o.seed + done })) await sendBatch(batch);
    }
  }
  return { ...tally.figures(), seconds: (performance.now() - started) / 1000, ...(counterexample === undefined ? {} : { counterexample }) };
}
