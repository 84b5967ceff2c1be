import fc from 'fast-check';

/** Names of Object.prototype members and other JavaScript built-ins: the lookups they must not hit. */
export const BUILTIN_NAMES = [
  'constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable',
  'toLocaleString', '__defineGetter__', '__lookupGetter__', 'prototype', 'length', 'then', 'toJSON',
] as const;

/** JSON text spliced into a body as it is: nesting too deep for JSON.stringify, or numbers JSON.stringify cannot write. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** `depth` nested arrays (or `{"a": …}` objects), closed or not. */
export function nested(depth: number, kind: 'array' | 'object', closed: boolean): RawJson {
  const [open, close] = kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
  return new RawJson(open.repeat(depth) + (kind === 'object' ? '1' : '') + (closed ? close.repeat(depth) : ''));
}

/** A value as JSON text, RawJson parts spliced in. */
export function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof RawJson ? `\u0000raw${raws.push(v.text) - 1}` : v));
  return text.replace(/"\\u0000raw(\d+)"/g, (_m, i: string) => raws[Number(i)]!);
}

/** Numbers at the edges of the ranges the protocol has (token ids of a 512-token vocabulary, 20 logprobs, 128 samples, 2^53). */
const edgeNumbers = fc.constantFrom(-1e300, -2, -1, -0.5, 0, 1e-7, 0.5, 1, 2, 3, 20, 21, 100, 101, 128, 129, 255, 511, 512, 1e5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e300);

const strings = fc.oneof(
  fc.constantFrom(...BUILTIN_NAMES),
  fc.constantFrom('', ' ', '\u0000', '\n', 'hi', 'user', 'system', 'assistant', 'text', 'json_object', '\\d+', 'x'.repeat(3000)),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  // Lone surrogates and other code units that are not valid UTF-16 text.
  fc.string({ unit: 'binary', maxLength: 8 }),
);

const scalars = fc.oneof(
  strings,
  edgeNumbers,
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  // Valid JSON that JSON.parse turns into ±Infinity or -0.
  fc.constantFrom(new RawJson('1e999'), new RawJson('-1e999'), new RawJson('-0'), new RawJson('1.0')),
);

const keys = fc.oneof(
  fc.constantFrom(...BUILTIN_NAMES),
  fc.constantFrom('0', '1', '-1', '511', '512', '1e3', ' 1', 'type', 'text', 'role', 'content', 'include_usage', 'max_new_tokens'),
  fc.string({ maxLength: 8 }),
);

/** Any JSON value a hostile client might put in a field: scalars at the edges, wrong shapes, deep nesting, built-in names as keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: scalars, weight: 8 },
    { arbitrary: fc.array(tie('value'), { maxLength: 5 }), weight: 2 },
    { arbitrary: fc.dictionary(keys, tie('value'), { maxKeys: 5 }), weight: 2 },
    { arbitrary: fc.tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>).map(([d, k]) => nested(d, k, true)), weight: 1 },
  ),
})).value;
