/**
 * A frontend-language call the runtime refuses or cannot carry out; `field` names what is wrong
 * (e.g. "select.choices[2]", "gen.name", "fork.n", "tokenizerPath").
 */
export class LangError extends Error {
  override name = 'LangError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A backend request that failed on the server (HTTP status ≠ 200) or on the wire. */
export class BackendError extends Error {
  override name = 'BackendError';
  constructor(
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}
