import fc from 'fast-check';
import { BUILTIN_NAMES, hostileValue, nested, toJsonText } from './values.js';

/** What a 4xx answer to a generated request must name. */
export type Subject =
  /** A field by its wire path (`sampling_params.top_p`, `messages[0].role`); `also`: fields another rule may name. */
  | { readonly field: string; readonly also?: readonly string[] }
  | { readonly subject: 'body' | 'route' | 'content-type' }
  /** A valid request: any 4xx is a finding. */
  | { readonly subject: 'valid' };

/** One generated HTTP request. */
export interface FuzzRequest {
  /** The generator that made it (for the figures). */
  readonly kind: 'field' | 'extra-key' | 'body' | 'content-type' | 'route' | 'valid';
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly expect: Subject;
  /** Disconnect after this many milliseconds (a client that goes away). */
  readonly abortAfterMs?: number;
}

type Json = Record<string, unknown>;

/** A JSON route with a cheap valid body and the wire paths a mutation may hit. */
interface RouteSpec {
  readonly path: string;
  readonly base: Json;
  readonly fields: readonly string[];
  /** Fields whose bad value another field's rule may report first. */
  readonly also?: Readonly<Record<string, readonly string[]>>;
}

const NATIVE_PARAMS = [
  'max_new_tokens', 'min_new_tokens', 'stop', 'stop_token_ids', 'temperature', 'top_p', 'top_k', 'min_p', 'frequency_penalty',
  'presence_penalty', 'repetition_penalty', 'ignore_eos', 'skip_special_tokens', 'spaces_between_special_tokens', 'no_stop_trim',
  'n', 'regex', 'json_schema', 'ebnf', 'stop_regex', 'logit_bias', 'seed',
];
const NATIVE_TOP = ['rid', 'return_logprob', 'logprob_start_len', 'top_logprobs_num', 'return_text_in_logprobs', 'stream'];
const OPENAI_COMMON = [
  'model', 'max_tokens', 'temperature', 'top_p', 'n', 'best_of', 'stop', 'seed', 'presence_penalty', 'frequency_penalty',
  'repetition_penalty', 'logit_bias', 'top_k', 'min_p', 'min_tokens', 'ignore_eos', 'stop_token_ids', 'skip_special_tokens',
  'stream', 'stream_options', 'stream_options.include_usage', 'response_format', 'regex', 'ebnf', 'stop_regex', 'user',
];

/** The JSON routes; `max new tokens 1` keeps every valid variant cheap. */
export const ROUTE_SPECS: readonly RouteSpec[] = [
  {
    path: '/generate',
    base: { text: 'hi', sampling_params: { max_new_tokens: 1 } },
    fields: ['text', 'input_ids', 'sampling_params', ...NATIVE_TOP, ...NATIVE_PARAMS.map((p) => `sampling_params.${p}`)],
    also: { input_ids: ['text'] },
  },
  {
    path: '/generate',
    base: { input_ids: [[1, 2, 3], [4, 5]], sampling_params: [{ max_new_tokens: 1 }, { max_new_tokens: 1 }], rid: ['a', 'b'] },
    fields: ['input_ids', 'input_ids[1]', 'input_ids[1][0]', 'text', 'rid', 'rid[1]', 'sampling_params', 'sampling_params[1]', ...NATIVE_PARAMS.map((p) => `sampling_params[1].${p}`)],
    // A different number of inputs is reported where the per-input lists no longer match.
    also: { input_ids: ['text', 'sampling_params', 'rid'], text: ['input_ids'] },
  },
  {
    path: '/v1/completions',
    base: { prompt: 'hi', max_tokens: 1 },
    fields: ['prompt', 'echo', 'suffix', 'logprobs', ...OPENAI_COMMON],
  },
  {
    path: '/v1/completions',
    base: { prompt: [[1, 2], [3]], max_tokens: 1 },
    fields: ['prompt', 'prompt[1]', 'prompt[1][0]', 'max_tokens', 'n'],
  },
  {
    path: '/v1/chat/completions',
    base: { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }], max_tokens: 1 },
    fields: [
      'messages', 'messages[0]', 'messages[0].role', 'messages[0].content', 'messages[1].content', 'messages[1].content[0]',
      'messages[1].content[0].type', 'messages[1].content[0].text', 'messages[1].tool_calls', 'max_completion_tokens', 'logprobs',
      'top_logprobs', 'tools', 'functions', ...OPENAI_COMMON,
    ],
  },
];

/** Sets (or with `undefined`, deletes) the value at a wire path like `messages[1].content[0].text`. */
function withValue(base: Json, path: string, value: unknown): Json {
  const copy = structuredClone(base);
  const keys = path.split(/\.|(?=\[)/).map((k) => (k.startsWith('[') ? Number(k.slice(1, -1)) : k));
  let node = copy as Record<string | number, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string | number, unknown>;
  }
  const last = keys.at(-1)!;
  if (value === undefined) delete node[last];
  // defineProperty: an assignment to "__proto__" would set the prototype instead of a key.
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

const isObject = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const spec = fc.constantFrom(...ROUTE_SPECS);

/** One field of a valid body replaced by a hostile value (or removed). */
const fieldMutation: fc.Arbitrary<FuzzRequest> = spec.chain((s) =>
  fc.tuple(fc.constantFrom(...s.fields), fc.option(hostileValue, { freq: 12, nil: undefined })).map(([field, value]) => ({
    kind: 'field' as const,
    method: 'POST',
    path: s.path,
    headers: JSON_HEADERS,
    body: toJsonText(withValue(s.base, field, value)),
    expect: { field, also: s.also?.[field] ?? [] },
  })),
);

/** A key the protocol does not know (built-in names first) added to the body or an object in it. */
const extraKey: fc.Arbitrary<FuzzRequest> = spec.chain((s) =>
  fc
    .tuple(fc.constantFrom('', ...Object.keys(s.base).filter((f) => isObject(s.base[f]) || (Array.isArray(s.base[f]) && isObject(s.base[f][0])))), fc.oneof(fc.constantFrom(...BUILTIN_NAMES), fc.string({ maxLength: 6 })), hostileValue)
    .filter(([, key]) => !s.fields.includes(key) && key !== '')
    .map(([parent, key, value]) => {
      const path = parent === '' ? key : `${parent}.${key}`;
      const target = parent === '' || !Array.isArray(s.base[parent]) ? path : `${parent}[0].${key}`;
      return { kind: 'extra-key' as const, method: 'POST', path: s.path, headers: JSON_HEADERS, body: toJsonText(withValue(s.base, target, value)), expect: { field: target } };
    }),
);

/** Bodies that are not a JSON object: not JSON, truncated, scalars, deep nesting up to 100,000, over the size limit. */
function badBody(maxBodyBytes: number): fc.Arbitrary<FuzzRequest> {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('', '   ', 'null', '0', '"text"', '[]', '[{}]', 'true', '{"text": "hi",}', '{text: "hi"}', "{'text': 'hi'}", '\uFEFF{}', '01', 'NaN'),
    fc.tuple(spec, fc.nat()).map(([s, cut]) => {
      const full = JSON.stringify(s.base);
      return full.slice(0, cut % full.length);
    }),
    fc
      .tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>, fc.boolean())
      .map(([depth, kind, closed]) => nested(depth, kind, closed).text),
    fc.constant(null).map(() => `"${'x'.repeat(maxBodyBytes)}"`),
  );
  return fc.tuple(spec, text).map(([s, body]) => ({ kind: 'body' as const, method: 'POST', path: s.path, headers: JSON_HEADERS, body, expect: { subject: 'body' as const } }));
}

/** A valid body under a Content-Type that may or may not be JSON. */
const contentType: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    spec,
    fc.oneof(
      fc.constantFrom('text/plain', 'text/html', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'application/json; charset=latin1', 'application/json; charset=utf-8', 'application/problem+json', 'application/x-www-form-urlencoded', 'json', '*/*', ';', 'application/json;;'),
      fc.stringMatching(/^[!-~][ -~]{0,30}[!-~]$/),
    ),
  )
  .map(([s, type]) => ({ kind: 'content-type' as const, method: 'POST', path: s.path, headers: { 'Content-Type': type }, body: JSON.stringify(s.base), expect: { subject: 'content-type' as const } }));

const KNOWN_PATHS = ['/health', '/health_generate', '/get_model_info', '/model_info', '/get_server_info', '/server_info', '/flush_cache', '/generate', '/v1/models', '/v1/completions', '/v1/chat/completions', '/metrics'];

/** Known and unknown paths under every method fetch can send. */
const route: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    fc.oneof(
      fc.constantFrom(...KNOWN_PATHS),
      fc.constantFrom(...BUILTIN_NAMES).map((n) => `/${n}`),
      fc.tuple(fc.constantFrom(...KNOWN_PATHS), fc.constantFrom('/', '/x', '?a=1', '?', '%00', '/..', '#x', '.json')).map(([p, s]) => p + s),
      fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    ),
  )
  .map(([method, path]) => {
    const known = ROUTE_SPECS.find((s) => path.startsWith(s.path));
    const body = method === 'GET' || method === 'HEAD' ? undefined : JSON.stringify(known?.base ?? {});
    return { kind: 'route' as const, method, path, headers: body === undefined ? {} : JSON_HEADERS, ...(body === undefined ? {} : { body }), expect: { subject: 'route' as const } };
  });

/** Valid generation requests, streamed or not, some abandoned by their client mid-way. */
const valid: fc.Arbitrary<FuzzRequest> = fc.tuple(spec, fc.boolean(), fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined })).map(([s, stream, abortAfterMs]) => ({
  kind: 'valid' as const,
  method: 'POST',
  path: s.path,
  headers: JSON_HEADERS,
  body: JSON.stringify(withValue(s.base, 'stream', stream)),
  expect: { subject: 'valid' as const },
  ...(abortAfterMs === undefined ? {} : { abortAfterMs }),
}));

/**
 * Hostile requests over every route: mostly one field of a valid body spoiled, the rest bad bodies,
 * content types, paths and methods, unknown keys, and valid requests (some abandoned) in between.
 * @param maxBodyBytes the server's body limit (some bodies exceed it).
 */
export function fuzzRequest(maxBodyBytes: number): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    { arbitrary: fieldMutation, weight: 60 },
    { arbitrary: extraKey, weight: 6 },
    { arbitrary: badBody(maxBodyBytes), weight: 12 },
    { arbitrary: contentType, weight: 7 },
    { arbitrary: route, weight: 10 },
    { arbitrary: valid, weight: 5 },
  );
}
