import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES, tempCacheDir } from '../helpers/fixtures.js';
import { fixtureEngine, idle, tokenIds } from '../helpers/engine.js';
import { requireWebGpu } from '../helpers/webgpu.js';

t.test('WebGPU engine: breaking out of a stream or aborting frees its KV slots', async (t) => {
  if (!requireWebGpu(t)) return;
  const engine = await fixtureEngine('qwen2', { device: 'webgpu', dtype: 'fp32', radixCache: false });
  t.teardown(() => engine.close());
  const before = engine.stats().slotsFree;
  for await (const c of engine.stream({ inputIds: tokenIds(3, 20), maxTokens: 200, temperature: 0, ignoreEos: true })) {
    if (c.tokenIds.length > 0) break;
  }
  const ac = new AbortController();
  const aborted = engine.generate({ inputIds: tokenIds(4, 20), maxTokens: 200, temperature: 0, ignoreEos: true, signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await aborted.then((r) => t.equal(r.finishReason, 'abort'), (e: Error) => t.match(e.message, /abort/i));
  await idle(engine);
  t.equal(engine.stats().slotsFree, before, 'every slot is free again');
});

t.test('WebGPU engine: fp16 (the device default) generates, and its greedy output is deterministic', async (t) => {
  if (!requireWebGpu(t)) return;
  const engine = await fixtureEngine('qwen2', { device: 'webgpu' });
  t.teardown(() => engine.close());
  const req = { inputIds: tokenIds(9, 12), maxTokens: 8, temperature: 0, ignoreEos: true };
  const a = await engine.generate(req);
  const b = await engine.generate(req);
  t.equal(a.tokenIds.length, 8);
  t.same(b.tokenIds, a.tokenIds);
  t.ok(b.usage.cachedTokens > 0, 'the second run reuses the cached prompt');
});

t.test('WebGPU without a usable Vulkan driver: Engine.create rejects saying what is missing (no crash inside ORT)', async (t) => {
  const child = fileURLToPath(new URL('../helpers/create-engine-child.ts', import.meta.url));
  const options = { model: join(FIXTURES, 'qwen2'), device: 'webgpu', cacheDir: tempCacheDir() };
  const r = spawnSync(process.execPath, [...process.execArgv, child, JSON.stringify(options)], {
    encoding: 'utf8',
    env: { ...process.env, VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json' },
    timeout: 120_000,
  });
  t.equal(r.status, 0, `the process exits normally (stderr: ${r.stderr.slice(-500)})`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  const outcome = JSON.parse(line) as { ok: boolean; message?: string };
  t.equal(outcome.ok, false, 'Engine.create rejects');
  t.match(outcome.message, /Vulkan|driver|adapter/i, `the message names what is missing: ${outcome.message}`);
  t.match(outcome.message, /install|VK_DRIVER_FILES/, 'and how to fix it');
});
