import type { Engine } from '../engine/engine.js';

/** The part of `Engine` the server uses. */
export type ServedEngine = Pick<Engine, 'modelPath' | 'options' | 'tokenizer' | 'tokenize' | 'generate' | 'stream' | 'stats' | 'flushCache' | 'close'>;

/**
 * The engine behind a server that opened its port before the model finished loading: answers
 * "loading" until the promise settles, then the engine or the load error.
 */
export class EngineSlot {
  private engine: ServedEngine | undefined;
  private failure: Error | undefined;
  /** Settles (never rejects) once loading has ended either way. */
  readonly settled: Promise<void>;

  constructor(source: ServedEngine | Promise<ServedEngine>) {
    this.settled = Promise.resolve(source).then(
      (engine) => {
        this.engine = engine;
      },
      (err: unknown) => {
        this.failure = err instanceof Error ? err : new Error(String(err));
      },
    );
  }

  /** 'loading' until the engine is ready, then 'ready' or 'failed'. */
  get state(): 'loading' | 'ready' | 'failed' {
    return this.engine ? 'ready' : this.failure ? 'failed' : 'loading';
  }

  /** The engine when ready, else undefined. */
  get current(): ServedEngine | undefined {
    return this.engine;
  }

  /** Why loading failed, when it did. */
  get error(): Error | undefined {
    return this.failure;
  }
}
