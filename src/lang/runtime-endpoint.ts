import { ModelTokenizer } from '../tokenizer/tokenizer.js';
import type { ChatRenderer, GenCall, GenOutcome, LangBackend, ScoredChoice } from './backend.js';
import { templateRenderer } from './chat-roles.js';
import { scorableTokens } from './choices.js';
import { BackendError, LangError } from './errors.js';
import { entriesOf, generateFields, genMetaOf, type WireResponse } from './native-wire.js';
import { sseEvents } from './sse.js';
import { firstScoredOffset, healingWindowStart } from './token-healing.js';

/** Options of {@link RuntimeEndpoint}. */
export interface RuntimeEndpointOptions {
  /** Sent as `Authorization: Bearer <apiKey>` (the server's `--api-key`). */
  readonly apiKey?: string;
  /**
   * A local model folder whose chat template role blocks use. Default: the server's
   * `tokenizer_path` from /get_model_info, which works when client and server share a machine.
   */
  readonly tokenizerPath?: string;
}

/** What /get_model_info reports. */
export interface ModelInfo {
  readonly modelPath: string;
  readonly tokenizerPath: string;
}

// Prefill-only, greedy: how select's scoring requests sample (they generate nothing).
const SCORE_PARAMS = { max_new_tokens: 0, temperature: 0 };

/**
 * Runs programs against an arbor (or SGLang) server through its native /generate route, making
 * the requests SGLang's frontend makes: `gen` sends the whole text so far; `select` sends the
 * prefix with max_new_tokens 0, then every `prefix + choice` as one list request.
 */
export class RuntimeEndpoint implements LangBackend {
  /** The server's base URL, without a trailing slash. */
  readonly url: string;
  private info: Promise<ModelInfo> | undefined;
  private renderer: Promise<ChatRenderer> | undefined;

  /** @throws LangError when `url` is not an http(s) URL. */
  constructor(
    url: string,
    private readonly options: RuntimeEndpointOptions = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new LangError('url', `is not a URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new LangError('url', `must be http or https, not ${parsed.protocol}`);
    this.url = url.replace(/\/+$/, '');
  }

  /** The served model's path and tokenizer path (fetched once). */
  modelInfo(): Promise<ModelInfo> {
    this.info ??= this.call('GET', '/get_model_info').then((b) => {
      const body = b as { model_path: string; tokenizer_path?: string };
      return { modelPath: body.model_path, tokenizerPath: body.tokenizer_path ?? body.model_path };
    });
    return this.info;
  }

  /** Empties the server's radix cache; false when requests are in flight (nothing flushed). */
  async flushCache(): Promise<boolean> {
    try {
      await this.call('POST', '/flush_cache', {});
      return true;
    } catch (err) {
      if (err instanceof BackendError && err.status === 400) return false;
      throw err;
    }
  }

  async cachePrefix(text: string, signal?: AbortSignal): Promise<number> {
    const r = (await this.call('POST', '/generate', { text, sampling_params: { max_new_tokens: 0 } }, signal)) as WireResponse;
    return r.meta_info.prompt_tokens;
  }

  async generate(call: GenCall): Promise<GenOutcome> {
    const body = { text: call.text, ...generateFields(call.options) };
    if (!call.onText) {
      const r = (await this.call('POST', '/generate', body, call.signal)) as WireResponse;
      return { text: r.text, meta: genMetaOf(r.meta_info, call.options) };
    }
    const res = await this.send('POST', '/generate', { ...body, stream: true }, call.signal);
    let last: WireResponse | undefined;
    let text = '';
    for await (const event of sseEvents(res.body!)) {
      last = event as WireResponse;
      // Each event carries the text so far; the new piece is what extends the previous one.
      const piece = last.text.slice(text.length);
      text = last.text;
      if (piece) call.onText(piece);
    }
    if (!last) throw new BackendError('POST /generate: the stream carried no event');
    return { text, meta: genMetaOf(last.meta_info, call.options) };
  }

  async scoreChoices(prefix: string, choices: readonly string[], unconditional: boolean, signal?: AbortSignal): Promise<ScoredChoice[]> {
    const start = healingWindowStart(await this.cachePrefix(prefix, signal));
    // The prefix rides along so its tokens in the window are known without a local tokenizer.
    const texts = [prefix, ...choices.map((c) => prefix + c)];
    const body = { text: texts, sampling_params: SCORE_PARAMS, return_logprob: true, return_text_in_logprobs: true, logprob_start_len: start };
    const [own, ...full] = (await this.call('POST', '/generate', body, signal)) as WireResponse[];
    const ownWindow = own!.meta_info.input_token_logprobs!.map((t) => t[1]);
    const scored = full.map((r, i) => {
      const window = r.meta_info.input_token_logprobs!;
      const from = firstScoredOffset(ownWindow, window.map((t) => t[1]), i);
      return scorableTokens(entriesOf(window.slice(from)), i);
    });
    if (!unconditional) return scored.map((tokens) => ({ tokens }));
    const alone = {
      input_ids: scored.map((tokens) => tokens.map((t) => t.token)),
      sampling_params: SCORE_PARAMS,
      return_logprob: true,
      return_text_in_logprobs: true,
      logprob_start_len: 0,
    };
    const rs = (await this.call('POST', '/generate', alone, signal)) as WireResponse[];
    return scored.map((tokens, i) => ({ tokens, unconditional: entriesOf(rs[i]!.meta_info.input_token_logprobs!) }));
  }

  /**
   * The chat template, from `options.tokenizerPath` or the server's tokenizer_path.
   * @throws LangError naming `tokenizerPath` when that folder cannot be read here.
   */
  chatRenderer(): Promise<ChatRenderer> {
    this.renderer ??= (async () => {
      const path = this.options.tokenizerPath ?? (await this.modelInfo()).tokenizerPath;
      try {
        return templateRenderer(await ModelTokenizer.load(path));
      } catch (err) {
        const why = `role blocks need the model's chat template, and ${path} cannot be loaded here (${(err as Error).message})`;
        throw new LangError('tokenizerPath', `${why}; pass a local copy of the model folder as RuntimeEndpointOptions.tokenizerPath`);
      }
    })();
    // A failed load may be retried (e.g. after the folder appears).
    this.renderer.catch(() => (this.renderer = undefined));
    return this.renderer;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const res = await this.send(method, path, body, signal);
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  /** Sends a request; any status but 200 becomes a BackendError carrying the server's message. */
  private async send(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.options.apiKey !== undefined) headers['Authorization'] = `Bearer ${this.options.apiKey}`;
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new BackendError(`${method} ${this.url}${path}: ${(err as Error).message}${causeOf(err)}`);
    }
    if (res.status === 200) return res;
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // not JSON: the text is the message
    }
    throw new BackendError(`${method} ${path}: HTTP ${res.status}: ${message}`, res.status);
  }
}

// fetch's "fetch failed" hides the reason (ECONNREFUSED …) in `cause`.
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { message?: string } }).cause;
  return cause?.message ? ` (${cause.message})` : '';
}
