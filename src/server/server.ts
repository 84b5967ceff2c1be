import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiKeyGuard } from './auth.js';
import { HttpError, readJsonBody, sendText } from './http-io.js';
import { ServerMetrics } from './metrics.js';
import { flushCache, generate, getModelInfo, getServerInfo, health, healthGenerate } from './native-routes.js';
import { chatCompletions, completions, listModels } from './openai-routes.js';
import { DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST, DEFAULT_MAX_PROMPTS_PER_REQUEST } from './request-limits.js';
import { respondError } from './respond.js';
import type { RouteContext, RouteHandler, ServerSettings } from './route-context.js';
import { EngineSlot, type ServedEngine } from './served-engine.js';

/** Default request body limit: ample for batches of thousands of prompts. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Default time shutdown waits for in-flight requests before aborting them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** How long requests aborted by shutdown get to send their error before the sockets close. */
const FAREWELL_MS = 1_000;

/** Options of {@link createArborServer}. */
export interface ArborServerOptions {
  /** The engine, or its promise: the port can open while the model still loads. */
  readonly engine: ServedEngine | Promise<ServedEngine>;
  /** The model name clients see (OpenAI `model`, /v1/models). */
  readonly servedModelName: string;
  /** Require `Authorization: Bearer <apiKey>` (except on /health* and /metrics). */
  readonly apiKey?: string;
  /** Serve Prometheus metrics at /metrics. */
  readonly enableMetrics?: boolean;
  /** Largest accepted request body; larger ones get 413. Default 32 MiB. */
  readonly maxBodyBytes?: number;
  /** Most engine requests (prompts × n) one HTTP request may create; more get 400. Default 65,536. */
  readonly maxPromptsPerRequest?: number;
  /** Most prompt tokens one HTTP request may carry, over all its prompts; more get 400. Default 4,194,304. */
  readonly maxPromptTokensPerRequest?: number;
  /** A Jinja chat template that replaces the model's (for /v1/chat/completions). */
  readonly chatTemplate?: string;
  /** How long {@link ArborServer.close} lets in-flight requests finish before aborting them. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** Extra facts reported by /get_server_info (launch flags, host, port). */
  readonly serverArgs?: Readonly<Record<string, unknown>>;
}

/** A running (or ready to run) arbor HTTP server. */
export interface ArborServer {
  readonly server: Server;
  /** Opens the port; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<AddressInfo>;
  /**
   * Graceful shutdown: stops accepting connections, lets in-flight requests finish (up to
   * drainTimeoutMs), then aborts what is left — each of those clients gets a 503 or, mid-stream,
   * an error event and `[DONE]`, saying the server is shutting down — and closes the engine.
   * Idempotent.
   */
  close(): Promise<void>;
}

type Method = 'GET' | 'POST' | 'PUT';

/**
 * Creates arbor's HTTP server: SGLang's native routes and OpenAI's, on one port (PROTOCOL.md).
 * Routes that need the model answer 503 until `opts.engine` resolves.
 */
export function createArborServer(opts: ArborServerOptions): ArborServer {
  const slot = new EngineSlot(opts.engine);
  const settings: ServerSettings = {
    servedModelName: opts.servedModelName,
    chatTemplate: opts.chatTemplate,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    limits: {
      maxPromptsPerRequest: opts.maxPromptsPerRequest ?? DEFAULT_MAX_PROMPTS_PER_REQUEST,
      maxPromptTokensPerRequest: opts.maxPromptTokensPerRequest ?? DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST,
    },
    apiKeySet: opts.apiKey !== undefined,
    enableMetrics: opts.enableMetrics ?? false,
    serverArgs: opts.serverArgs ?? {},
    startedAt: Math.floor(Date.now() / 1000),
  };
  const guard = opts.apiKey === undefined ? undefined : new ApiKeyGuard(opts.apiKey);
  const metrics = settings.enableMetrics
    ? new ServerMetrics(settings.servedModelName, () => {
        const engine = slot.current;
        return engine && { stats: engine.stats(), kvCacheTokens: engine.options.kvCacheTokens };
      })
    : undefined;

  const routes: Readonly<Record<string, Route>> = {
    '/health': { GET: health },
    '/health_generate': { GET: healthGenerate },
    '/get_model_info': { GET: getModelInfo },
    // SGLang frontends from v0.5.10 on ask for the shorter names.
    '/model_info': { GET: getModelInfo },
    '/get_server_info': { GET: getServerInfo },
    '/server_info': { GET: getServerInfo },
    '/flush_cache': { GET: flushCache, POST: flushCache },
    '/generate': { POST: generate, PUT: generate },
    '/v1/models': { GET: listModels },
    '/v1/completions': { POST: completions },
    '/v1/chat/completions': { POST: chatCompletions },
    ...(metrics && {
      '/metrics': { GET: async (ctx: RouteContext) => sendText(ctx.res, 200, await metrics.render(), metrics.contentType) },
    }),
  };

  // Each in-flight request's controller, so shutdown can abort what outlives the drain.
  const inFlight = new Set<AbortController>();
  let onIdle: (() => void) | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    // A list /generate hands this one signal to every item's engine request.
    setMaxListeners(0, controller.signal);
    inFlight.add(controller);
    // A client that goes away mid-request cancels its engine requests, freeing their KV slots.
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new HttpError(499, 'the client closed the connection'));
    });
    try {
      // A keep-alive connection may still send requests while shutdown drains the others.
      if (closing) throw new HttpError(503, 'the server is shutting down', { Connection: 'close' });
      const path = pathOf(req.url);
      if (guard && !guard.allows(req, path)) {
        throw new HttpError(401, 'Authorization: missing or wrong API key (send "Authorization: Bearer <key>")');
      }
      // hasOwn: a path must never resolve to an Object.prototype member.
      const route = Object.hasOwn(routes, path) ? routes[path]! : undefined;
      if (!route) throw new HttpError(404, `no route for ${path}`);
      const handler = handlerFor(route, req.method);
      if (!handler) {
        const allow = allowedMethods(route).join(', ');
        throw new HttpError(405, `${path} accepts ${allow}, not ${req.method}`, { Allow: allow });
      }
      await handler({
        req,
        res,
        signal: controller.signal,
        settings,
        slot,
        metrics,
        body: () => readJsonBody(req, settings.maxBodyBytes),
        engine: () => readyEngine(slot),
      });
    } catch (err) {
      // Work cut short by shutdown fails in many ways (an AbortError from the tokenizer pool, …):
      // the client hears why it was cut short.
      respondError(res, controller.signal.aborted ? controller.signal.reason : err);
    } finally {
      // Cancels whatever engine work the handler left behind (e.g. siblings of a failed batch item).
      controller.abort();
      inFlight.delete(controller);
      if (inFlight.size === 0) onIdle?.();
    }
  }

  // handle() answers its own errors; this only guards against a failure while answering one.
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  let closing: Promise<void> | undefined;

  async function shutdown(drainTimeoutMs: number): Promise<void> {
    const wasListening = server.listening;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    await untilIdle(drainTimeoutMs);
    const farewell = new HttpError(503, 'the server is shutting down', { Connection: 'close' });
    for (const controller of inFlight) controller.abort(farewell);
    await untilIdle(FAREWELL_MS);
    server.closeAllConnections();
    if (wasListening) await stopped;
    await slot.settled;
    await slot.current?.close();
  }

  /** Resolves once no request is in flight, or after `ms`. */
  function untilIdle(ms: number): Promise<void> {
    if (inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  return {
    server,
    listen: (host, port) =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () => (closing ??= shutdown(opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS)),
  };
}

type Route = Partial<Record<Method, RouteHandler>>;

/**
 * The handler of `method` on `route`. HEAD runs the GET handler: node:http sends the headers of a
 * HEAD response (Content-Length included) and drops its body, as HTTP asks.
 */
function handlerFor(route: Route, method: string | undefined): RouteHandler | undefined {
  const m = method === 'HEAD' ? 'GET' : (method ?? '');
  // hasOwn: a method must never resolve to an Object.prototype member.
  return Object.hasOwn(route, m) ? route[m as Method] : undefined;
}

function allowedMethods(route: Route): string[] {
  const methods = Object.keys(route);
  return Object.hasOwn(route, 'GET') ? [...methods, 'HEAD'] : methods;
}

function readyEngine(slot: EngineSlot): ServedEngine {
  const engine = slot.current;
  if (engine) return engine;
  if (slot.error) throw new HttpError(503, `model failed to load: ${slot.error.message}`);
  throw new HttpError(503, 'model is loading');
}

/** The path of a request target, without query string; a malformed target matches no route. */
function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return url ?? '/';
  }
}
