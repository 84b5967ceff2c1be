import type { GenerateRequest } from '../engine/types.js';
import {
  asObject,
  bad,
  type NumberRule,
  checkTokenIds,
  dropUndefined,
  field,
  optBoolean,
  optLogitBias,
  optNumber,
  optStop,
  optTokenIds,
  refuse,
  refuseStopRegex,
  type JsonObject,
} from '../openai/json-fields.js';
import { checkMinTokens, checkPromptLength, fanOut, MAX_N, MAX_TOP_LOGPROBS, REPETITION_PENALTY, type ModelLimits } from '../openai/sampling.js';
import { loopSlicer } from '../engine/time-slicer.js';

/** How /generate reports logprobs (shared by every item of one request). */
export interface LogprobOptions {
  /** `return_logprob`. */
  readonly enabled: boolean;
  /** `logprob_start_len`: first prompt position reported; -1 reports none. */
  readonly startLen: number;
  /** `top_logprobs_num`. */
  readonly topN: number;
  /** `return_text_in_logprobs`: fill the third member of each triple. */
  readonly withText: boolean;
}

/** One engine request of a /generate call. */
export interface NativeItem {
  /** `meta_info.id`. */
  readonly rid: string;
  readonly request: GenerateRequest & { inputIds: number[] };
  /** `no_stop_trim`: keep the stop string that ended generation in `text`. */
  readonly noStopTrim: boolean;
}

/** A validated /generate request. */
export interface NativeRequest {
  /** Items in response order: each input, then each of its `n` samples. */
  readonly items: NativeItem[];
  /** A list input (or n > 1): answer with a JSON array. */
  readonly batch: boolean;
  readonly stream: boolean;
  readonly logprob: LogprobOptions;
}

/** The encoder used for `text` inputs (the model's tokenizer). */
export interface PromptEncoder {
  encode(text: string): number[];
}

const CONSTRAINTS = ['regex', 'json_schema', 'ebnf'] as const;
/** SGLang's default `max_new_tokens`, set explicitly so that `min_new_tokens` is checked against it here. */
const DEFAULT_MAX_NEW_TOKENS = 128;

/**
 * Validates a /generate body (SGLang's GenerateReqInput) and builds its engine requests. Text is
 * tokenized here so `prompt_tokens` is known from the first streamed event. Null fields mean
 * "default" and unknown keys are ignored, as SGLang's frontend sends more than it needs.
 * @throws RequestError naming the wire field (e.g. "sampling_params.top_p", "input_ids[1][0]").
 * @param limits vocabulary size and context length of the served model.
 * @param newRid makes a request id for inputs without `rid`.
 * A list of thousands of inputs is read a slice at a time between turns of the event loop.
 */
export async function parseGenerateBody(body: unknown, tokenizer: PromptEncoder, limits: ModelLimits, newRid: () => string): Promise<NativeRequest> {
  const obj = asObject(body, 'body');
  const text = field(obj, 'text');
  const ids = field(obj, 'input_ids');
  if ((text === undefined) === (ids === undefined)) bad('text', 'give exactly one of "text" and "input_ids"');

  const inputs: number[][] = [];
  let batch: boolean;
  if (text !== undefined) {
    batch = Array.isArray(text);
    const texts = batch ? (text as unknown[]) : [text];
    if (texts.length === 0) bad('text', 'must not be an empty list');
    for (const [i, t] of texts.entries()) {
      await loopSlicer.turn();
      const name = batch ? `text[${i}]` : 'text';
      if (typeof t !== 'string') bad(name, 'must be a string', t);
      const encoded = tokenizer.encode(t);
      if (encoded.length === 0) bad(name, 'encodes to no tokens (at least one is needed)');
      checkPromptLength(encoded, name, limits.contextLength);
      inputs.push(encoded);
    }
  } else {
    if (!Array.isArray(ids) || ids.length === 0) bad('input_ids', 'must be a non-empty list of token ids or of such lists', ids);
    batch = Array.isArray(ids[0]);
    for (const [i, one] of (batch ? (ids as unknown[]) : [ids]).entries()) {
      await loopSlicer.turn();
      const name = batch ? `input_ids[${i}]` : 'input_ids';
      const checked = checkTokenIds(one, name, limits.vocabSize, false);
      checkPromptLength(checked, name, limits.contextLength);
      inputs.push(checked);
    }
  }

  const rids = perInput(obj, 'rid', inputs.length, batch, (v, name) => {
    if (typeof v !== 'string' || v === '') bad(name, 'must be a non-empty string', v);
    return v;
  });
  const params = perInput(obj, 'sampling_params', inputs.length, batch, (v, name) => asObject(v, name));
  const logprob = readLogprobOptions(obj);
  if (logprob.enabled) {
    inputs.forEach((input) => {
      if (logprob.startLen >= input.length) bad('logprob_start_len', `must be below the prompt length (${input.length})`, logprob.startLen);
    });
  }

  const items: NativeItem[] = [];
  const perItemParams = batch && Array.isArray(field(obj, 'sampling_params'));
  // One sampling_params object shared by every input is read once.
  const readParams = new Map<JsonObject, ReturnType<typeof readSamplingParams>>();
  for (const [i, inputIds] of inputs.entries()) {
    await loopSlicer.turn();
    const p = params[i] ?? {};
    let read = readParams.get(p);
    if (!read) {
      read = readSamplingParams(p, perItemParams ? `sampling_params[${i}]` : 'sampling_params', limits.vocabSize);
      if (!perItemParams) readParams.set(p, read);
    }
    const { request, n, noStopTrim } = read;
    const full = { ...request, ...logprobFields(logprob), inputIds };
    const rid = rids[i] ?? newRid();
    fanOut(full, n).forEach((req, k) => {
      items.push({ rid: n === 1 ? rid : `${rid}-${k}`, request: { ...req, inputIds }, noStopTrim });
    });
  }
  const stream = optBoolean(obj, 'stream', 'stream') ?? false;
  return { items, batch: batch || items.length > 1, stream, logprob };
}

/** A field that is one value for a single input, or one value or a per-input list for a batch. */
function perInput<T>(
  obj: JsonObject,
  key: string,
  count: number,
  batch: boolean,
  read: (value: unknown, name: string) => T,
): (T | undefined)[] {
  const value = field(obj, key);
  if (value === undefined) return new Array<T | undefined>(count).fill(undefined);
  if (batch && Array.isArray(value)) {
    if (value.length !== count) bad(key, `must have one entry per input (${count}), got ${value.length}`);
    return value.map((v: unknown, i) => read(v, `${key}[${i}]`));
  }
  // One rid for a whole batch would give every response the same id.
  if (batch && key === 'rid') bad('rid', 'must be a list with one id per input for a list input', value);
  return new Array<T | undefined>(count).fill(read(value, key));
}

function readLogprobOptions(obj: JsonObject): LogprobOptions {
  return {
    enabled: optBoolean(obj, 'return_logprob', 'return_logprob') ?? false,
    startLen: optNumber(obj, 'logprob_start_len', 'logprob_start_len', { integer: true, min: -1 }) ?? -1,
    topN: optNumber(obj, 'top_logprobs_num', 'top_logprobs_num', { integer: true, min: 0, max: MAX_TOP_LOGPROBS }) ?? 0,
    withText: optBoolean(obj, 'return_text_in_logprobs', 'return_text_in_logprobs') ?? false,
  };
}

function logprobFields(o: LogprobOptions): GenerateRequest {
  if (!o.enabled) return {};
  const out: GenerateRequest = { logprobs: true };
  if (o.topN > 0) out.topLogprobs = o.topN;
  if (o.startLen >= 0) {
    out.promptLogprobsFrom = o.startLen;
    if (o.topN > 0) out.promptTopLogprobs = o.topN;
  }
  return out;
}

/** SGLang's SamplingParams → engine options, with SGLang's ranges. */
function readSamplingParams(p: JsonObject, prefix: string, vocabSize: number): { request: GenerateRequest; n: number; noStopTrim: boolean } {
  const name = (key: string): string => `${prefix}.${key}`;
  const num = (key: string, rule: NumberRule): number | undefined => optNumber(p, key, name(key), rule);
  const flag = (key: string): boolean | undefined => optBoolean(p, key, name(key));

  const set = CONSTRAINTS.filter((key) => field(p, key) !== undefined);
  if (set.length > 1) bad(name(set[1]!), `at most one of ${CONSTRAINTS.join(', ')} may be set`);
  for (const key of CONSTRAINTS) refuse(p, key, name(key), 'constrained decoding is not available yet');
  refuseStopRegex(p, name('stop_regex'));

  const topK = num('top_k', { integer: true, min: -1 });
  if (topK === 0) bad(name('top_k'), 'must be -1 (all tokens) or >= 1', topK);
  const skipSpecial = flag('skip_special_tokens');
  // Accepted for compatibility; the tokenizer joins special tokens the Hugging Face way.
  flag('spaces_between_special_tokens');

  const request = dropUndefined<GenerateRequest>({
    maxTokens: num('max_new_tokens', { integer: true, min: 0 }) ?? DEFAULT_MAX_NEW_TOKENS,
    minTokens: num('min_new_tokens', { integer: true, min: 0 }),
    stop: optStop(p, 'stop', name('stop')),
    stopTokenIds: optTokenIds(p, 'stop_token_ids', name('stop_token_ids'), vocabSize),
    temperature: num('temperature', { min: 0 }),
    topP: num('top_p', { above: 0, max: 1 }),
    topK,
    minP: num('min_p', { min: 0, max: 1 }),
    frequencyPenalty: num('frequency_penalty', { min: -2, max: 2 }),
    presencePenalty: num('presence_penalty', { min: -2, max: 2 }),
    repetitionPenalty: num('repetition_penalty', REPETITION_PENALTY),
    ignoreEos: flag('ignore_eos'),
    includeSpecialTokens: skipSpecial === undefined ? undefined : !skipSpecial,
    logitBias: optLogitBias(p, 'logit_bias', name('logit_bias'), vocabSize),
    seed: num('seed', { integer: true, min: 0 }),
  });
  checkMinTokens(request, name('min_new_tokens'));
  const n = num('n', { integer: true, min: 1, max: MAX_N }) ?? 1;
  return { request, n, noStopTrim: flag('no_stop_trim') ?? false };
}
