import { setMaxListeners } from 'node:events';
import type { LangBackend } from './backend.js';
import { LangError } from './errors.js';
import { batchProgress } from './progress.js';
import { SharedPrefixGate } from './shared-prefix.js';
import { ProgramState, type StateInit } from './state.js';
import type { SamplingOptions } from './types.js';

/** Options of `run`. */
export interface RunOptions {
  /** Where the program runs. Default: the one given to {@link setDefaultBackend}. */
  readonly backend?: LangBackend;
  /** Sampling options every `gen` starts from (a gen's own options win), like SGLang's run(**kwargs). */
  readonly defaults?: SamplingOptions;
  /** Aborting cancels the program's requests. */
  readonly signal?: AbortSignal;
}

/** Options of `runBatch`. */
export interface BatchOptions extends RunOptions {
  /** Programs in flight at once. Default 64. */
  readonly concurrency?: number;
  /** A progress bar on stderr when it is a terminal. Default true; false never draws one. */
  readonly progress?: boolean;
}

/** A program run failed; `state` holds what it wrote before the error, `cause` the error. */
export class ProgramError extends Error {
  override name = 'ProgramError';
  constructor(
    readonly state: ProgramState,
    cause: unknown,
  ) {
    super(`program failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export const DEFAULT_CONCURRENCY = 64;

let defaultBackend: LangBackend | undefined;

/** Sets the backend programs use when `run` / `runBatch` get none (SGLang's set_default_backend). */
export function setDefaultBackend(backend: LangBackend | undefined): void {
  defaultBackend = backend;
}

/** The body of a program: writes to `s` using `args`. */
export type ProgramFn<A, R> = (s: ProgramState, args: A) => R | Promise<R>;

/**
 * A program: an async function over a state, run once (`run`) or over many argument sets
 * (`runBatch`).
 * @example
 * const qa = program(async (s, args: { question: string }) => {
 *   s.append(`Q: ${args.question}\nA:`);
 *   await s.gen('answer', { maxTokens: 32, stop: '\n' });
 * });
 * const state = await qa.run({ question: 'Why is the sky blue?' }, { backend: new EngineBackend(engine) });
 * state.get('answer');
 */
export function program<A = void, R = void>(fn: ProgramFn<A, R>): Program<A, R> {
  return new Program(fn);
}

export class Program<A, R> {
  constructor(readonly fn: ProgramFn<A, R>) {}

  /**
   * Runs the program and waits for all its operations.
   * @throws ProgramError (with the partial state) when the program or one of its requests fails.
   */
  async run(args: A, options: RunOptions = {}): Promise<ProgramState<R>> {
    const { init, release } = stateInit(options);
    let state: ProgramState<R>;
    try {
      state = await this.execute(args, init);
    } finally {
      release();
    }
    if (state.error !== undefined) throw new ProgramError(state, state.error);
    return state;
  }

  /**
   * Runs the program once per argument set, `concurrency` at a time. The results come in input
   * order; a program that fails does not stop the others: its state carries the error (`error`).
   * Before the first wave sends anything, the text its programs share is prefilled once, so all of
   * them reuse its KV from the radix cache.
   */
  async runBatch(argsList: readonly A[], options: BatchOptions = {}): Promise<ProgramState<R>[]> {
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new LangError('concurrency', `must be an integer ≥ 1 (got ${concurrency})`);
    if (!Array.isArray(argsList)) throw new LangError('argsList', 'must be an array');
    const { init, release } = stateInit(options);
    const firstWave = Math.min(concurrency, argsList.length);
    const gate = new SharedPrefixGate(firstWave, (text) => init.backend.cachePrefix(text, init.signal), init.signal);
    const progress = batchProgress(argsList.length, options.progress);
    const results = new Array<ProgramState<R>>(argsList.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < argsList.length) {
        const i = next++;
        if (i >= firstWave) results[i] = await this.execute(argsList[i]!, init);
        else {
          let arrived = false;
          const beforeFirstRequest = (text: string): Promise<void> => {
            arrived = true;
            return gate.arrive(text);
          };
          results[i] = await this.execute(argsList[i]!, { ...init, beforeFirstRequest });
          if (!arrived) gate.leave();
        }
        progress.tick();
      }
    };
    try {
      await Promise.all(Array.from({ length: firstWave }, worker));
    } finally {
      progress.stop();
      release();
    }
    return results;
  }

  private async execute(args: A, init: StateInit): Promise<ProgramState<R>> {
    const state = new ProgramState<R>(init);
    try {
      state.returnValue = await this.fn(state, args);
    } catch (err) {
      state.fail(err);
    }
    await state.finish();
    return state;
  }
}

/** The states' setup for a run; `release` detaches from the caller's signal when the run ends. */
function stateInit(options: RunOptions): { init: StateInit; release: () => void } {
  const backend = options.backend ?? defaultBackend;
  if (!backend) throw new LangError('backend', 'no backend: pass { backend } (an EngineBackend or RuntimeEndpoint) or call setDefaultBackend()');
  const base = { backend, ...(options.defaults ? { defaults: options.defaults } : {}) };
  const user = options.signal;
  if (!user) return { init: base, release: () => {} };
  // Every request of the run listens for the abort: far more listeners than an EventTarget's
  // default limit of 10, so they go on a signal of our own (unlimited), linked to the caller's by one.
  const own = new AbortController();
  setMaxListeners(0, own.signal);
  const forward = (): void => own.abort(user.reason);
  if (user.aborted) forward();
  else user.addEventListener('abort', forward, { once: true });
  return { init: { ...base, signal: own.signal }, release: () => user.removeEventListener('abort', forward) };
}
