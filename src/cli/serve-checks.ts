import { RequestError } from '../engine/errors.js';
import { resolveEngineOptions, resolveModelPath } from '../engine/options.js';
import type { EngineOptions } from '../engine/types.js';
import { loadModelConfig } from '../model/config.js';
import { ModelBuildError, ModelLoadError } from '../model/errors.js';
import { planShard } from '../shards/shard-layout.js';
import { ServeArgsError } from './serve-args.js';

/** The `arbor serve` flag behind each engine option the flags set. */
const FLAG_OF: ReadonlyMap<string, string> = new Map([
  ['model', '--model-path'],
  ['tp', '--tp'],
  ['device', '--device'],
  ['dtype', '--dtype'],
  ['kvCacheTokens', '--max-total-tokens'],
  ['maxRunningRequests', '--max-running-requests'],
  ['maxQueuedRequests', '--max-queued-requests'],
  ['chunkedPrefillSize', '--chunked-prefill-size'],
  ['schedulePolicy', '--schedule-policy'],
  ['radixCache', '--disable-radix-cache'],
  ['contextLength', '--context-length'],
]);

// The camelCase names, which cannot be ordinary words of a message ("model", "tp" can).
const FIELD_NAMES = new RegExp(`\\b(${[...FLAG_OF.keys()].filter((name) => /[A-Z]/.test(name)).join('|')})\\b`, 'g');

/**
 * Checks the engine options of `arbor serve` the way `Engine.create` will — options, the model's
 * config.json, whether `--tp` divides its heads — before the port opens, so that a bad command
 * line fails at once instead of after "listening at". Only cheap checks: no weights are read and
 * onnxruntime is not loaded.
 * @throws ServeArgsError naming the flag, with the engine's field names in the message replaced by
 *   their flags (`kvCacheTokens` → `--max-total-tokens`).
 */
export function checkServeEngineOptions(options: EngineOptions): void {
  try {
    const modelPath = resolveModelPath(options);
    const model = loadModelConfig(modelPath);
    const resolved = resolveEngineOptions(options, modelPath, model);
    planShard(model, resolved.tp, 0);
  } catch (err) {
    if (err instanceof RequestError) {
      const rule = err.message.slice(err.field.length + ': '.length);
      throw new ServeArgsError(flagOf(err.field), rule.replace(FIELD_NAMES, (name) => flagOf(name)));
    }
    if (err instanceof ModelLoadError) throw new ServeArgsError('--model-path', err.message);
    if (err instanceof ModelBuildError) throw new ServeArgsError('--tp', err.message);
    throw err;
  }
}

function flagOf(field: string): string {
  return FLAG_OF.get(field) ?? field;
}

/**
 * The error of a failed `listen`, named after the flag at fault: the port when it is taken or
 * privileged, the host otherwise (unknown name, an address this machine does not have).
 */
export function listenError(err: NodeJS.ErrnoException, host: string, port: number): ServeArgsError {
  const flag = err.code === 'EADDRINUSE' || err.code === 'EACCES' ? '--port' : '--host';
  return new ServeArgsError(flag, `cannot listen on ${host}:${port}: ${err.message}`);
}
