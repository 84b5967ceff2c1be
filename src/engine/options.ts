import { existsSync } from 'node:fs';
import { resolve, join, dirname } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EngineOptions } from './types.js';
import { RequestError } from './errors.js';
import { previewValue } from '../util/value-preview.js';
import type { ModelConfig } from '../model/config.js';
import type { ResolvedEngineConfig, ShardFaults } from '../actors/protocol.js';
import { defaultCacheDir } from '../shards/cache-dir.js';
import { DEFAULT_DTYPE, DEVICE_DTYPES, type ShardDevice, type ShardDType } from '../shards/device.js';

/** One WebGPU run lock for every engine of this process: they all share ORT's one WebGPU context. */
const GPU_LOCK = new SharedArrayBuffer(4);

// `satisfies` makes a new EngineOptions field a compile error here until it is listed.
const KNOWN = new Set(Object.keys({
  model: true, tp: true, device: true, dtype: true, kvCacheTokens: true, maxRunningRequests: true, maxQueuedRequests: true,
  chunkedPrefillSize: true, schedulePolicy: true, radixCache: true, contextLength: true, threadsPerShard: true, cacheDir: true,
  onProgress: true,
} satisfies Record<keyof EngineOptions, true>));

/** The model folder shipped with the package (`models/arbor-tiny`). */
export function bundledModelPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'arbor-tiny');
}

function positiveInt(field: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RequestError(field, `must be a positive integer (got ${previewValue(v)})`);
  return v;
}

function oneOf<T extends string | number>(field: string, v: unknown, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new RequestError(field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (got ${previewValue(v)})`);
  return v as T;
}

/** The model folder an options object points at (validated to exist). */
export function resolveModelPath(options: EngineOptions): string {
  if (options.model !== undefined && typeof options.model !== 'string') throw new RequestError('model', 'must be a path to a Hugging Face model folder');
  const path = resolve(options.model ?? bundledModelPath());
  if (!existsSync(join(path, 'config.json'))) throw new RequestError('model', `"${path}" has no config.json (not a Hugging Face model folder)`);
  return path;
}

/** Validates EngineOptions (each error names its field) and fills defaults. */
export function resolveEngineOptions(options: EngineOptions, modelPath: string, model: ModelConfig): ResolvedEngineConfig {
  if (options === null || typeof options !== 'object') throw new RequestError('options', 'must be an object');
  for (const key of Object.keys(options)) if (!KNOWN.has(key) && key !== 'faultInjection') throw new RequestError(key, 'is not a known engine option');
  const device = oneOf<ShardDevice>('device', options.device, ['cpu', 'webgpu'], 'cpu');
  const dtype = oneOf<ShardDType>('dtype', options.dtype, DEVICE_DTYPES[device], DEFAULT_DTYPE[device]);
  const tp = oneOf('tp', options.tp, [1, 2, 4], 1);
  const contextLength = positiveInt('contextLength', options.contextLength, model.maxPositionEmbeddings);
  // SGLang refuses this too: positions past the trained range give garbage, not an error.
  if (contextLength > model.maxPositionEmbeddings) {
    throw new RequestError('contextLength', `${contextLength} is beyond the model's max_position_embeddings (${model.maxPositionEmbeddings})`);
  }
  const kvCacheTokens = positiveInt('kvCacheTokens', options.kvCacheTokens, 16384);
  const maxRunningRequests = positiveInt('maxRunningRequests', options.maxRunningRequests, 64);
  const maxQueuedRequests = positiveInt('maxQueuedRequests', options.maxQueuedRequests, Infinity);
  const chunkedPrefillSize = positiveInt('chunkedPrefillSize', options.chunkedPrefillSize, 512);
  if (kvCacheTokens < maxRunningRequests + 1) throw new RequestError('kvCacheTokens', `must be larger than maxRunningRequests (${maxRunningRequests})`);
  if (options.radixCache !== undefined && typeof options.radixCache !== 'boolean') throw new RequestError('radixCache', 'must be a boolean');
  if (options.cacheDir !== undefined && typeof options.cacheDir !== 'string') throw new RequestError('cacheDir', 'must be a folder path');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new RequestError('onProgress', 'must be a function');
  // Undocumented on purpose: tests make shards throw or crash on a chosen token id.
  const faults = (options as { faultInjection?: ShardFaults }).faultInjection;
  return {
    modelPath,
    tp,
    device,
    dtype,
    gpuLock: GPU_LOCK,
    kvCacheTokens,
    maxRunningRequests,
    maxQueuedRequests,
    chunkedPrefillSize,
    schedulePolicy: oneOf('schedulePolicy', options.schedulePolicy, ['lpm', 'fcfs'], 'lpm'),
    radixCache: options.radixCache ?? true,
    contextLength,
    threadsPerShard: positiveInt('threadsPerShard', options.threadsPerShard, Math.max(1, Math.floor(availableParallelism() / tp))),
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    ...(faults ? { faults } : {}),
  };
}
