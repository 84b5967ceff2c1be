import type { ServerResponse } from 'node:http';
import { EngineError, RequestError } from '../engine/errors.js';
import { HttpError, sendError } from './http-io.js';

/** The HTTP status an error thrown by a route maps to. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof RequestError) return 400;
  if (err instanceof EngineError) return 503;
  return 500;
}

/** The message clients see (RequestError's already names its field). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
  sendError(res, statusOf(err), errorMessage(err), err instanceof HttpError ? { ...err.headers } : {});
}
