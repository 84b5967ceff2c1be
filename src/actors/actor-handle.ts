import * as Comlink from 'comlink';
import type { Worker } from 'node:worker_threads';
import { nodeEndpoint } from './comlink-node.js';
import { startActorWorker } from './worker-url.js';

/** A worker actor died (crashed, or exited without being stopped). */
export class ActorDiedError extends Error {
  override name = 'ActorDiedError';
}

/**
 * A worker-thread actor seen from the thread that started it: its typed comlink API, and a
 * lifecycle in which every unexpected end (an uncaught error, an exit) is reported once to the
 * death listeners and rejects calls still waiting on the actor — a dead actor never hangs its caller.
 */
export class ActorHandle<Api> {
  readonly api: Comlink.Remote<Api>;
  private readonly worker: Worker;
  private stopping = false;
  private exited = false;
  private death: string | null = null;
  private readonly listeners: ((message: string) => void)[] = [];

  constructor(kind: 'scheduler-worker' | 'shard-worker', readonly label: string) {
    this.worker = startActorWorker(kind, { name: `arbor ${label}` });
    this.api = Comlink.wrap<Api>(nodeEndpoint(this.worker));
    this.worker.on('error', (e) => this.died(`${label} crashed: ${e.message}`));
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.stopping) this.died(`${label} exited (code ${code})`);
    });
  }

  /** Why the actor died, or null while it lives. */
  get deathMessage(): string | null {
    return this.death;
  }

  /** Calls `listener` once when the actor dies (at once if it already has). */
  onDeath(listener: (message: string) => void): void {
    if (this.death !== null) listener(this.death);
    else this.listeners.push(listener);
  }

  /** Lets the process exit while this actor lives (nothing is waiting on it). */
  unref(): void {
    this.worker.unref();
  }

  /** Keeps the process alive while this actor lives (the default). */
  ref(): void {
    this.worker.ref();
  }

  /** Awaits a call on the actor, rejecting with ActorDiedError if the actor dies first. */
  call<T>(pending: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.onDeath((message) => reject(new ActorDiedError(message)));
      pending.then(resolve, reject);
    });
  }

  /**
   * Ends the actor: runs `graceful` (e.g. a shutdown call that makes the worker exit by itself),
   * waits up to `timeoutMs` for the exit, then terminates the thread.
   */
  async stop(graceful?: () => Promise<unknown>, timeoutMs = 5000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      if (graceful && this.death === null) await graceful().catch(() => {});
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') await this.worker.terminate();
    }
    this.api[Comlink.releaseProxy]();
  }

  private died(message: string): void {
    if (this.death !== null) return;
    this.death = message;
    for (const l of this.listeners.splice(0)) l(message);
  }
}
