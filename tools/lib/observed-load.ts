import ort from 'onnxruntime-node';
import { dirname } from 'node:path';
import { loadShard } from '../../src/shards/shard-loader.js';
import type { ShardLoadOptions } from '../../src/shards/shard-loader.js';
import { ShardRuntime } from '../../src/shards/shard-runtime.js';

/** A shard plus what its loader handed to ORT, for opening more sessions over the same graph. */
export interface ObservedShard {
  readonly shard: ShardRuntime;
  /** The cache folder holding the shard's built graphs (`seg<i>.onnx`, `weights.bin`, ORT's `seg<i>.opt.*`). */
  readonly cacheEntry: string;
  /** The loader's session options, without the settings that make ORT save an optimized copy. */
  readonly sessionOptions: ort.InferenceSession.SessionOptions;
}

/** config keys (session.*) that only steer saving the optimized model. */
const SAVE_KEYS = /^(optimized_model_|save_external_prepacked)/;

function withoutSaving(o: ort.InferenceSession.SessionOptions): ort.InferenceSession.SessionOptions {
  const { optimizedModelFilePath: _path, extra, ...rest } = o;
  const session = (extra as { session?: Record<string, unknown> } | undefined)?.session;
  if (!session) return extra === undefined ? rest : { ...rest, extra };
  const kept = Object.fromEntries(Object.entries(session).filter(([k]) => !SAVE_KEYS.test(k)));
  return { ...rest, extra: { ...extra, session: kept } };
}

/**
 * Runs `loadShard` while watching `ort.InferenceSession.create`, to learn the cache folder and
 * session options it used. The loader keeps both private (its cache key includes a graph version
 * that changes as the code does), and a profiler must open the very same graph with the very same
 * options; watching the call is exact where recomputing them would drift.
 */
export async function loadShardObserved(o: ShardLoadOptions): Promise<ObservedShard> {
  const factory = ort.InferenceSession;
  const create = factory.create;
  const opened: { path: string; options: ort.InferenceSession.SessionOptions }[] = [];
  factory.create = ((...args: unknown[]) => {
    if (typeof args[0] === 'string') opened.push({ path: args[0], options: (args[1] ?? {}) as ort.InferenceSession.SessionOptions });
    return (create as (...a: unknown[]) => Promise<ort.InferenceSession>).apply(factory, args);
  }) as typeof create;
  let loaded: Awaited<ReturnType<typeof loadShard>>;
  try {
    loaded = await loadShard(o);
  } finally {
    factory.create = create;
  }
  if (!(loaded instanceof ShardRuntime)) throw new Error('profiling tools read the CPU shard\'s host KV pool: load with device cpu');
  const shard = loaded;
  if (opened.length !== 1) {
    await shard.release();
    throw new Error(`expected the loader to open one graph for tp=1, saw ${opened.length}`);
  }
  const { path, options } = opened[0]!;
  return { shard, cacheEntry: dirname(path), sessionOptions: withoutSaving(options) };
}
