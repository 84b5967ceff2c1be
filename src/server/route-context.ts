import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerMetrics } from './metrics.js';
import type { RequestLimits } from './request-limits.js';
import type { ServedEngine, EngineSlot } from './served-engine.js';

/** Server-wide settings the routes read. */
export interface ServerSettings {
  /** The model name clients see (`model` in OpenAI responses, /v1/models). */
  readonly servedModelName: string;
  /** A chat template that replaces the model's. */
  readonly chatTemplate: string | undefined;
  readonly maxBodyBytes: number;
  /** Most prompts and prompt tokens one request may carry. */
  readonly limits: RequestLimits;
  readonly apiKeySet: boolean;
  readonly enableMetrics: boolean;
  /** Extra facts for /get_server_info (host, port, launch flags). */
  readonly serverArgs: Readonly<Record<string, unknown>>;
  /** Unix seconds the server started (`created` of /v1/models). */
  readonly startedAt: number;
}

/** Everything a route handler gets for one HTTP request. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /**
   * Aborted when the client disconnects before the response is complete, or when shutdown ends
   * what outlived the drain: then its reason is an HttpError 503 saying so, which the route
   * answers (`throwIfAborted()`) with a 503 status or, mid-stream, an error event.
   */
  readonly signal: AbortSignal;
  readonly settings: ServerSettings;
  readonly slot: EngineSlot;
  readonly metrics: ServerMetrics | undefined;
  /** The parsed JSON body (size-limited). */
  body(): Promise<unknown>;
  /** The engine, or HttpError 503 while the model loads or after it failed to. */
  engine(): ServedEngine;
}

/** A route: answers one request, or throws (HttpError, RequestError, …) for the server to answer. */
export type RouteHandler = (ctx: RouteContext) => Promise<void>;
