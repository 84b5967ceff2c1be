/** A request or option the engine refuses; `field` names what is wrong (e.g. "maxTokens", "messages[2].role"). */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The engine cannot serve: closed, failed (a worker died), or the request was rejected by a failing step. */
export class EngineError extends Error {
  override name = 'EngineError';
}

/** The engine cannot do this now: `state` says why ('closed': close() was called; 'failed': a worker died). */
export class EngineStateError extends EngineError {
  override name = 'EngineStateError';
  constructor(
    readonly state: 'closed' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

/** The scheduler's waiting queue holds `maxQueuedRequests` requests already; this one was not queued. */
export class QueueFullError extends EngineError {
  override name = 'QueueFullError';
  constructor(readonly limit: number) {
    super(`the request queue is full (maxQueuedRequests: ${limit} requests waiting); retry later`);
  }
}

/** A text given to `tokenize` with `maxTokens` encodes to more tokens than that; `field` is `texts[index]`. */
export class TokenLimitError extends RequestError {
  override name = 'TokenLimitError';
  constructor(
    readonly index: number,
    readonly tokens: number,
    readonly limit: number,
  ) {
    super(`texts[${index}]`, `has ${tokens} tokens; at most ${limit} are allowed`);
  }
}
