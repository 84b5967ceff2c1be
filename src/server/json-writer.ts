import type { ServerResponse } from 'node:http';
import { loopSlicer } from '../engine/time-slicer.js';
import { writeOrWait } from './http-io.js';

/** Arrays at least this long are serialised element by element, between turns of the event loop. */
const LONG_ARRAY = 64;
/** Bytes gathered before a socket write. */
const WRITE_BYTES = 64 * 1024;

/**
 * Sends a JSON body the way `sendJson` does, but serialised a slice at a time: one
 * `JSON.stringify` of the answers to 20,000 prompts held up the event loop for tens of
 * milliseconds (seconds at 200,000). Long arrays, wherever they are nested, are written element
 * by element; the body is sent chunked. Plain data only (no toJSON), as the routes build it.
 */
export async function sendJsonSliced(res: ServerResponse, status: number, body: unknown): Promise<void> {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  let buffer = '';
  for (const piece of pieces(body)) {
    if (piece === TURN) {
      await loopSlicer.turn();
      continue;
    }
    buffer += piece;
    if (buffer.length >= WRITE_BYTES) {
      await writeOrWait(res, buffer);
      buffer = '';
    }
  }
  res.end(buffer);
}

const TURN = Symbol('turn');

/** The JSON text of `value` in pieces, with a TURN marker between the elements of long arrays. */
function* pieces(value: unknown): Generator<string | typeof TURN> {
  if (Array.isArray(value)) {
    if (value.length < LONG_ARRAY) {
      yield JSON.stringify(value);
      return;
    }
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield TURN;
      if (i > 0) yield ',';
      const v: unknown = value[i];
      yield* v === undefined || typeof v === 'function' ? ['null'] : pieces(v);
    }
    yield ']';
    return;
  }
  if (value === null || typeof value !== 'object') {
    yield JSON.stringify(value) ?? 'null';
    return;
  }
  yield '{';
  let first = true;
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || typeof v === 'function') continue;
    yield `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    yield* pieces(v);
  }
  yield '}';
}
