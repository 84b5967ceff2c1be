import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EngineOptions } from '../engine/types.js';
import { ChatTemplate } from '../tokenizer/chat-template.js';
import { DEFAULT_MAX_BODY_BYTES } from '../server/server.js';
import { DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST, DEFAULT_MAX_PROMPTS_PER_REQUEST } from '../server/request-limits.js';

/** A bad `arbor serve` command line; `flag` names the option at fault. */
export class ServeArgsError extends Error {
  override name = 'ServeArgsError';
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

/** What `arbor serve` was asked to do. */
export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  /** Engine options from the flags (no `onProgress`; the command adds it). */
  readonly engine: EngineOptions;
  readonly servedModelName: string | undefined;
  readonly apiKey: string | undefined;
  readonly chatTemplate: string | undefined;
  readonly enableMetrics: boolean;
  readonly maxBodyBytes: number;
  readonly maxPromptsPerRequest: number;
  readonly maxPromptTokensPerRequest: number;
  /** Facts /get_server_info reports besides the engine's options (host, port). */
  readonly serverArgs: Record<string, unknown>;
}

/** `arbor serve --help`. */
export const SERVE_HELP = `Usage: arbor serve [options]

Serves a model over HTTP: SGLang's native API (/generate, /get_model_info, ...) and OpenAI's
(/v1/completions, /v1/chat/completions, /v1/models) on one port. The port opens at once; routes
that need the model answer 503 "model is loading" until it is ready.

Model and engine:
  --model-path DIR            Hugging Face model folder (default: the bundled arbor-tiny model)
  --tp N, --tp-size N         tensor-parallel shards: 1, 2 or 4 (default 1)
  --device DEVICE             cpu or webgpu (default cpu; webgpu: KV cache on the GPU)
  --dtype TYPE                weight precision: cpu fp32, q8 or q4 (default fp32); webgpu fp16, fp32 or q4 (default fp16)
  --max-running-requests N    most requests decoding at once (default 64)
  --max-queued-requests N     most requests waiting for admission; more get 503 (default: no limit)
  --max-total-tokens N        KV cache capacity in tokens (default 16384)
  --chunked-prefill-size N    most prompt tokens prefilled per step (default 512)
  --schedule-policy P         lpm (longest cached prefix first) or fcfs (default lpm)
  --disable-radix-cache       do not reuse the KV of shared prefixes
  --context-length N          longest prompt + output (default: the model's)

Server:
  --host HOST                 address to bind (default 127.0.0.1)
  --port N                    port (default 30000)
  --api-key KEY               require "Authorization: Bearer KEY" (not on /health*, /metrics)
  --served-model-name NAME    model name reported to clients (default: the model path)
  --chat-template T           chat template for /v1/chat/completions: a file, or the template itself
  --enable-metrics            serve Prometheus metrics at /metrics
  --max-body-bytes N          largest request body; larger ones get 413 (default ${DEFAULT_MAX_BODY_BYTES})
  --max-prompts-per-request N most prompts (× n) in one request; more get 400 (default ${DEFAULT_MAX_PROMPTS_PER_REQUEST})
  --max-prompt-tokens-per-request N
                              most prompt tokens in one request, all prompts together; more get 400
                              (default ${DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST})
  -h, --help                  show this help
`;

const OPTIONS = {
  'model-path': { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '30000' },
  tp: { type: 'string' },
  'tp-size': { type: 'string' },
  device: { type: 'string' },
  dtype: { type: 'string' },
  'max-running-requests': { type: 'string' },
  'max-queued-requests': { type: 'string' },
  'max-total-tokens': { type: 'string' },
  'chunked-prefill-size': { type: 'string' },
  'schedule-policy': { type: 'string' },
  'disable-radix-cache': { type: 'boolean', default: false },
  'context-length': { type: 'string' },
  'api-key': { type: 'string' },
  'served-model-name': { type: 'string' },
  'chat-template': { type: 'string' },
  'enable-metrics': { type: 'boolean', default: false },
  'max-body-bytes': { type: 'string' },
  'max-prompts-per-request': { type: 'string' },
  'max-prompt-tokens-per-request': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Parses `arbor serve`'s arguments (after the word "serve").
 * @returns 'help' for --help, else the configuration.
 * @throws ServeArgsError naming the flag that is unknown, malformed or out of range.
 */
export function parseServeArgs(argv: readonly string[]): ServeConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    // parseArgs names the offending option inside its message; keep that, point at --help.
    const flag = /'(-[^' ]*)/.exec((err as Error).message)?.[1] ?? 'arguments';
    throw new ServeArgsError(flag, `${(err as Error).message} (see arbor serve --help)`);
  }
  if (values.help) return 'help';

  if (values.tp !== undefined && values['tp-size'] !== undefined && values.tp !== values['tp-size']) {
    throw new ServeArgsError('--tp', `--tp ${values.tp} and --tp-size ${values['tp-size']} disagree (they are the same flag)`);
  }
  const tp = int('--tp', values.tp ?? values['tp-size'], 1);
  const device = oneOf('--device', values.device, ['cpu', 'webgpu'] as const);
  const dtype = oneOf('--dtype', values.dtype, device === 'webgpu' ? (['fp16', 'fp32', 'q4'] as const) : (['fp32', 'q8', 'q4'] as const));
  const schedulePolicy = oneOf('--schedule-policy', values['schedule-policy'], ['lpm', 'fcfs'] as const);
  const engine: EngineOptions = {
    ...(values['model-path'] !== undefined && { model: values['model-path'] }),
    ...(tp !== undefined && { tp }),
    ...(device !== undefined && { device }),
    ...(dtype !== undefined && { dtype }),
    ...optional('maxRunningRequests', int('--max-running-requests', values['max-running-requests'], 1)),
    ...optional('maxQueuedRequests', int('--max-queued-requests', values['max-queued-requests'], 1)),
    ...optional('kvCacheTokens', int('--max-total-tokens', values['max-total-tokens'], 1)),
    ...optional('chunkedPrefillSize', int('--chunked-prefill-size', values['chunked-prefill-size'], 1)),
    ...(schedulePolicy !== undefined && { schedulePolicy }),
    ...(values['disable-radix-cache'] && { radixCache: false }),
    ...optional('contextLength', int('--context-length', values['context-length'], 1)),
  };
  const host = values.host;
  if (host === '') throw new ServeArgsError('--host', 'must not be empty');
  const port = int('--port', values.port, 0, 65535)!;
  const apiKey = values['api-key'];
  if (apiKey === '') throw new ServeArgsError('--api-key', 'must not be empty (leave the flag out for no key)');

  return {
    host,
    port,
    engine,
    servedModelName: values['served-model-name'],
    apiKey,
    chatTemplate: readChatTemplate(values['chat-template']),
    enableMetrics: values['enable-metrics'],
    maxBodyBytes: int('--max-body-bytes', values['max-body-bytes'], 1) ?? DEFAULT_MAX_BODY_BYTES,
    maxPromptsPerRequest: int('--max-prompts-per-request', values['max-prompts-per-request'], 1) ?? DEFAULT_MAX_PROMPTS_PER_REQUEST,
    maxPromptTokensPerRequest: int('--max-prompt-tokens-per-request', values['max-prompt-tokens-per-request'], 1) ?? DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST,
    serverArgs: { host, port },
  };
}

function int(flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ServeArgsError(flag, `must be an integer in [${min}, ${max}] (got "${raw}")`);
  }
  return value;
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) throw new ServeArgsError(flag, `must be one of ${allowed.join(', ')} (got "${raw}")`);
  return raw as T;
}

function optional<K extends keyof EngineOptions>(key: K, value: EngineOptions[K] | undefined): Partial<EngineOptions> {
  return value === undefined ? {} : { [key]: value };
}

/** --chat-template: an existing file's contents, else the argument itself if it looks like Jinja. */
function readChatTemplate(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let source: string;
  if (existsSync(raw)) {
    try {
      source = readFileSync(raw, 'utf8');
    } catch (err) {
      throw new ServeArgsError('--chat-template', `cannot read ${raw}: ${(err as Error).message}`);
    }
  } else if (/\{[{%]/.test(raw)) {
    source = raw;
  } else {
    throw new ServeArgsError('--chat-template', `"${raw}" is neither a file nor a Jinja template`);
  }
  // Compiled here only so that a broken template fails at launch, not on the first chat request.
  try {
    new ChatTemplate(source, '--chat-template');
  } catch (err) {
    throw new ServeArgsError('--chat-template', (err as Error).message);
  }
  return source;
}
