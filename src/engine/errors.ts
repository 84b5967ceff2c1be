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
