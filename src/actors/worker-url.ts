import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from 'node:worker_threads';

/**
 * Starts an actor worker from a module of this folder. Running from sources (a TypeScript loader
 * in execArgv, as under tap or tsx) the `.ts` file is used, from dist/ the `.js`; workers inherit
 * the parent's execArgv, hence its loader.
 */
export function startActorWorker(name: 'shard-worker' | 'scheduler-worker', options: WorkerOptions = {}): Worker {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new Worker(new URL(`./${name}${ext}`, import.meta.url), options);
}
