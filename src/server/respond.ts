import type { ServerResponse } from 'node:http';
import { EngineError, QueueFullError, RequestError } from '../engine/errors.js';
import { HttpError, sendError } from './http-io.js';

/** The HTTP status an error thrown by a route maps to. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof RequestError) return 400;
  if (err instanceof EngineError) return 503;
  return 500;
}

/** The message clients see (RequestError's already names its field; a full queue names the server flag). */
export function errorMessage(err: unknown): string {
  if (err instanceof QueueFullError) return `the request queue is full (--max-queued-requests ${err.limit}); retry later`;
  return err instanceof Error ? err.message : String(err);
}

/** The SSE event that ends a stream on `err` (the client raises it; `[DONE]` follows). */
export function errorEvent(err: unknown): { error: { message: string; code: number } } {
  return { error: { message: errorMessage(err), code: statusOf(err) } };
}

/**
 * Answers a failed request in the shared error shape. When the response has already begun (a
 * stream), it can only be cut short.
 */
export function respondError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = err instanceof HttpError ? { ...err.headers } : err instanceof QueueFullError ? { 'Retry-After': '1' } : {};
  sendError(res, statusOf(err), errorMessage(err), headers);
}
