import type { Engine } from '../../src/engine/engine.js';
import type { EngineOptions } from '../../src/engine/types.js';
import { createArborServer, type ArborServer, type ArborServerOptions } from '../../src/server/server.js';
import { fixtureEngine } from './engine.js';

/** The served model name the server tests use. */
export const MODEL_NAME = 'qwen2-fixture';

/** An arbor server on 127.0.0.1 with a random port, over a real engine on the qwen2 fixture. */
export interface TestServer {
  readonly url: string;
  readonly engine: Engine;
  readonly arbor: ArborServer;
}

/** Starts a server (engine on test/fixtures/qwen2); close it with `arbor.close()` in t.teardown. */
export async function startTestServer(
  options: Partial<Omit<ArborServerOptions, 'engine'>> = {},
  engineOptions: EngineOptions = {},
): Promise<TestServer> {
  const engine = await fixtureEngine('qwen2', engineOptions);
  const arbor = createArborServer({ engine, servedModelName: MODEL_NAME, ...options });
  const { port } = await arbor.listen('127.0.0.1', 0);
  return { url: `http://127.0.0.1:${port}`, engine, arbor };
}

/** POSTs JSON and returns status and parsed body (text when the body is not JSON). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await parseBody(res) };
}

/** The parsed JSON body of a response, or its text when it is not JSON. */
export async function parseBody(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The `data:` payloads of an SSE response, in order (`[DONE]` included, as a string). */
export async function sseData(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => {
      const data = block.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

/** Waits until the engine has nothing running or queued and holds no KV beyond the evictable cache. */
export async function kvIdle(engine: Engine, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = engine.stats();
    if (s.running === 0 && s.queued === 0 && s.slotsUsed === s.slotsEvictable) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
