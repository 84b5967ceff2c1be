/** Longest preview of a bad value that error messages quote. */
export const PREVIEW_CHARS = 80;

/**
 * A short JSON-like rendering of any value, for quoting a bad input in an error message.
 *
 * `JSON.stringify` cannot be used for that: it overflows the stack on deeply nested arrays (a 10 kB
 * body of 5,000 `[` is enough), throws on cycles and BigInts, and would copy a 30 MB string back
 * into the message. This walk stops once `limit` characters are written, so its work and its
 * recursion depth are bounded by `limit` whatever the value, and it never throws.
 */
export function previewValue(value: unknown, limit = PREVIEW_CHARS): string {
  let text = '';
  // Each call writes at least one character before descending, so depth ≤ limit.
  const write = (s: string): boolean => {
    text += s;
    return text.length <= limit;
  };
  const walk = (v: unknown): boolean => {
    if (Array.isArray(v)) {
      if (!write('[')) return false;
      for (let i = 0; i < v.length; i++) {
        if ((i > 0 && !write(',')) || !walk(v[i])) return false;
      }
      return write(']');
    }
    if (v !== null && typeof v === 'object') {
      if (!write('{')) return false;
      let first = true;
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue;
        if ((!first && !write(',')) || !write(`${quote(key, limit)}:`) || !walk(readOwn(v, key))) return false;
        first = false;
      }
      return write('}');
    }
    return write(scalar(v, limit));
  };
  walk(value);
  return text.length > limit ? `${text.slice(0, limit - 3)}...` : text;
}

function scalar(v: unknown, limit: number): string {
  switch (typeof v) {
    case 'string':
      return quote(v, limit);
    case 'bigint':
      return `${v}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return v.toString();
    default:
      return String(v);
  }
}

/** A string as JSON, cut first so that a huge string costs nothing. */
function quote(s: string, limit: number): string {
  return JSON.stringify(s.length > limit ? s.slice(0, limit) : s);
}

/** A property read that a throwing getter (library callers may pass any object) cannot break. */
function readOwn(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return '<unreadable>';
  }
}
