import type { FuzzRequest, Subject } from './requests.js';

/** How the server answered one generated request. */
export interface Verdict {
  /** The HTTP status; 'aborted' when the client itself gave up (abortAfterMs). */
  readonly status: number | 'aborted';
  /** Why the answer breaks the rules (a 5xx, a bad error shape, a 4xx that names nothing); undefined when fine. */
  readonly problem?: 'server error' | 'error shape' | 'unnamed' | 'network';
  readonly message?: string;
}

/** Sends one request to the server at `base` and judges the answer. */
export async function sendAndJudge(base: string, r: FuzzRequest): Promise<Verdict> {
  const signal = r.abortAfterMs === undefined ? undefined : AbortSignal.timeout(r.abortAfterMs);
  let status: number;
  let text: string;
  try {
    const res = await fetch(`${base}${r.path}`, { method: r.method, headers: r.headers, ...(r.body === undefined ? {} : { body: r.body }), ...(signal ? { signal } : {}) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    if (signal?.aborted) return { status: 'aborted' };
    return { status: 0, problem: 'network', message: String((err as Error).cause ?? err) };
  }
  return judge(r, status, text);
}

/** The rules every answer keeps: no 5xx; a 4xx is `{"error": {"message"}}` naming what is wrong. */
export function judge(r: FuzzRequest, status: number, text: string): Verdict {
  if (status >= 500) return { status, problem: 'server error', message: text.slice(0, 300) };
  if (status < 400 || r.method === 'HEAD') return { status };
  let message: unknown;
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    const keys = Object.keys(body);
    if (keys.length === 1 && keys[0] === 'error' && Object.keys(body.error ?? {}).join() === 'message') message = body.error!.message;
  } catch {
    // Not JSON: the shape check below reports it.
  }
  if (typeof message !== 'string') return { status, problem: 'error shape', message: text.slice(0, 300) };
  return names(r.expect, message) ? { status, message } : { status, problem: 'unnamed', message };
}

const startsWithName = (m: string, name: string): boolean => m.startsWith(`${name}:`) || m.startsWith(`${name}.`) || m.startsWith(`${name}[`);

/** Whether a 4xx message names what the request got wrong. */
function names(expect: Subject, m: string): boolean {
  if ('field' in expect) {
    const path = expect.field;
    // A field's container may be what is reported ("messages: the chat template failed…").
    const ancestors = [...path.matchAll(/[.[]/g)].map((match) => path.slice(0, match.index));
    return startsWithName(m, path) || ancestors.some((a) => m.startsWith(`${a}:`)) || (expect.also ?? []).some((a) => startsWithName(m, a));
  }
  switch (expect.subject) {
    case 'body':
      // When the body does parse to an object, its first missing field is what is wrong.
      return /^(body|text|input_ids|prompt|messages)[:.[]/.test(m);
    case 'route':
      return /^(no route for \/|\S* accepts [A-Z, ]+, not [A-Z]+$|flush_cache: )/.test(m);
    case 'content-type':
      return m.startsWith('Content-Type: ');
    case 'valid':
      return false;
  }
}
