import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { EngineOptions } from '../../src/engine/types.js';
import { FIXTURES, tempCacheDir } from './fixtures.js';

const cacheDir = tempCacheDir();

/** An engine on a fixture model with a private graph cache; close it in t.teardown. */
export function fixtureEngine(name: string, options: EngineOptions & { faultInjection?: object } = {}): Promise<Engine> {
  return Engine.create({ model: join(FIXTURES, name), cacheDir, kvCacheTokens: 2048, ...options });
}

/** Deterministic pseudo-random token ids in [first, vocab). */
export function tokenIds(seed: number, n: number, vocab = 512, first = 3): number[] {
  let x = seed * 2654435761 + 1;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return first + (x % (vocab - first));
  });
}

/** Waits until the engine reports no running or queued requests. */
export async function idle(engine: Engine): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = engine.stats();
    if (s.running === 0 && s.queued === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('engine did not become idle');
}
