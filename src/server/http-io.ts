import type { IncomingMessage, ServerResponse } from 'node:http';
import { previewValue } from '../util/value-preview.js';

/** An HTTP error answered as `{"error": {"message": …}}` with `status`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers (e.g. `Allow` for 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Sends a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Sends the error shape every route uses. */
export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message } }, headers);
}

/** Sends a plain-text body. */
export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Refuses a body whose Content-Type is not JSON (415), before reading it. Accepted: no
 * Content-Type at all (SGLang reads any body as JSON, and some clients send none),
 * `application/json` and `application/<x>+json`, and `application/x-www-form-urlencoded` — what
 * `curl -d` sends unless told otherwise, with a JSON body in practice. A `charset` other than UTF-8
 * is refused too: the body is decoded as UTF-8.
 */
export function checkJsonContentType(header: string | undefined): void {
  if (header === undefined || header.trim() === '') return;
  const [essence = '', ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  const json = essence === 'application/json' || /^application\/[^/\s]+\+json$/.test(essence);
  if (!json && essence !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, `Content-Type: expected application/json, got ${previewValue(header)}`);
  }
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpError(415, `Content-Type: expected charset utf-8 for application/json, got ${previewValue(header)}`);
  }
}

/**
 * Reads and parses a JSON request body of at most `limit` bytes.
 * @throws HttpError 415 when the Content-Type is not JSON ({@link checkJsonContentType}), 413 when
 *   the body is larger (the declared Content-Length is checked first, so a huge upload is refused
 *   without reading it), 400 when it is empty or not JSON.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  checkJsonContentType(req.headers['content-type']);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'body: must be a JSON object (the request body is empty)');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `body: not valid JSON: ${(err as Error).message}`);
  }
}

function tooLarge(limit: number): HttpError {
  // Closing the connection stops Node from reading (and discarding) the rest of the upload.
  return new HttpError(413, `body: larger than the limit of ${limit} bytes (--max-body-bytes)`, { Connection: 'close' });
}

/** A server-sent-events response: `data: <json>\n\n` events, ended by `data: [DONE]`. */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.flushHeaders();
  }

  /** Writes one event; waits while the socket's buffer is full, so a slow reader slows its stream. */
  async send(data: unknown): Promise<void> {
    await this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Writes `data: [DONE]` and ends the response. */
  end(): void {
    if (!this.res.destroyed) this.res.end('data: [DONE]\n\n');
  }

  private write(text: string): Promise<void> {
    return writeOrWait(this.res, text);
  }
}

/** Writes `text`; while the socket's buffer is full, resolves once it drains (or the response closes). */
export function writeOrWait(res: ServerResponse, text: string): Promise<void> {
  if (res.destroyed || res.write(text)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
