import { RequestError } from '../engine/errors.js';
import { previewValue } from '../util/value-preview.js';

/** A parsed JSON object (a request body or one of its nested objects). */
export type JsonObject = Record<string, unknown>;

/** Bounds of a numeric field; `integer` also refuses fractions. */
export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  /** Exclusive lower bound, for ranges like top_p's (0, 1]. */
  readonly above?: number;
  /** A whole number no larger in magnitude than 2^53 − 1 (beyond it, integers are not exact). */
  readonly integer?: boolean;
}

/** Throws the 400-class error for `name`; `got`, when given, is the offending value. */
export function bad(name: string, rule: string, ...got: [] | [unknown]): never {
  throw new RequestError(name, got.length > 0 ? `${rule} (got ${previewValue(got[0])})` : rule);
}

/**
 * `obj[key]`, with `null` read as absent: SGLang's frontend and many OpenAI clients send every
 * optional field, null meaning "use the default".
 */
export function field(obj: JsonObject, key: string): unknown {
  const value = obj[key];
  return value === null ? undefined : value;
}

/** `value` as a JSON object, or a RequestError naming `name`. */
export function asObject(value: unknown, name: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(name, 'must be a JSON object', value);
  return value as JsonObject;
}

/** Checks a number against `rule`; `name` is the wire path used in the error. */
export function checkNumber(value: unknown, name: string, rule: NumberRule = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) bad(name, 'must be a finite number', value);
  if (rule.integer && !Number.isInteger(value)) bad(name, 'must be an integer', value);
  if (rule.integer && !Number.isSafeInteger(value)) bad(name, `must be an integer of at most ${Number.MAX_SAFE_INTEGER} in magnitude`, value);
  if (rule.min !== undefined && value < rule.min) bad(name, `must be >= ${rule.min}`, value);
  if (rule.above !== undefined && value <= rule.above) bad(name, `must be > ${rule.above}`, value);
  if (rule.max !== undefined && value > rule.max) bad(name, `must be <= ${rule.max}`, value);
  return value;
}

/** An optional number field. */
export function optNumber(obj: JsonObject, key: string, name: string, rule: NumberRule = {}): number | undefined {
  const value = field(obj, key);
  return value === undefined ? undefined : checkNumber(value, name, rule);
}

/** An optional boolean field. */
export function optBoolean(obj: JsonObject, key: string, name: string): boolean | undefined {
  const value = field(obj, key);
  if (value !== undefined && typeof value !== 'boolean') bad(name, 'must be true or false', value);
  return value as boolean | undefined;
}

/** An optional string field. */
export function optString(obj: JsonObject, key: string, name: string): string | undefined {
  const value = field(obj, key);
  if (value !== undefined && typeof value !== 'string') bad(name, 'must be a string', value);
  return value as string | undefined;
}

/** A stop field: one string or a list of non-empty strings. */
export function optStop(obj: JsonObject, key: string, name: string): string | string[] | undefined {
  const value = field(obj, key);
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) bad(name, 'must be a string or a list of strings', value);
  list.forEach((s: unknown, i) => {
    if (typeof s !== 'string' || s === '') bad(`${name}[${i}]`, 'must be a non-empty string', s);
  });
  return value as string | string[];
}

/** A token id: an integer in [0, vocabSize). */
function checkTokenId(value: unknown, name: string, vocabSize: number): number {
  return checkNumber(value, name, { integer: true, min: 0, max: vocabSize - 1 });
}

/** A list of token ids; `allowEmpty` false refuses `[]`. */
export function checkTokenIds(value: unknown, name: string, vocabSize: number, allowEmpty: boolean): number[] {
  if (!Array.isArray(value)) bad(name, 'must be a list of token ids', value);
  if (!allowEmpty && value.length === 0) bad(name, 'must not be empty');
  value.forEach((id: unknown, i) => checkTokenId(id, `${name}[${i}]`, vocabSize));
  return value as number[];
}

/** An optional list of token ids. */
export function optTokenIds(obj: JsonObject, key: string, name: string, vocabSize: number): number[] | undefined {
  const value = field(obj, key);
  return value === undefined ? undefined : checkTokenIds(value, name, vocabSize, true);
}

/** A logit_bias map: token id (as a JSON key) → bias in [-100, 100], as OpenAI defines it. */
export function optLogitBias(obj: JsonObject, key: string, name: string, vocabSize: number): Record<number, number> | undefined {
  const value = field(obj, key);
  if (value === undefined) return undefined;
  const map = asObject(value, name);
  const out: Record<number, number> = {};
  for (const [id, bias] of Object.entries(map)) {
    if (!/^(0|[1-9]\d*)$/.test(id) || Number(id) >= vocabSize) bad(`${name}.${id}`, `key must be a token id in [0, ${vocabSize})`);
    out[Number(id)] = checkNumber(bias, `${name}.${id}`, { min: -100, max: 100 });
  }
  return out;
}

/**
 * Refuses a non-empty `stop_regex` (string or list of strings) until regex matching is built: it
 * used to be accepted and ignored. Empty values pass, because SGLang's frontend sends
 * `"stop_regex": []` with every request.
 */
export function refuseStopRegex(obj: JsonObject, name: string): void {
  const value = field(obj, 'stop_regex');
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return;
  optStop(obj, 'stop_regex', name);
  bad(name, 'is not supported yet (regex stops need the constrained-decoding work); use "stop" strings');
}

/** Refuses a field this build cannot honour yet, rather than silently ignoring it. */
export function refuse(obj: JsonObject, key: string, name: string, why: string): void {
  if (field(obj, key) !== undefined) bad(name, why);
}

/** Leaves unset options out, so that the engine applies its own defaults. */
export function dropUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
