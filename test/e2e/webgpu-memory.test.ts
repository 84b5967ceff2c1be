import t from 'tap';
import { join } from 'node:path';
import { loadShard } from '../../src/shards/shard-loader.js';
import { LocalTensorParallel } from '../../src/shards/local-tensor-parallel.js';
import { FIXTURES, tempCacheDir } from '../helpers/fixtures.js';
import { requireWebGpu } from '../helpers/webgpu.js';

// On lavapipe GPU buffers are this process's memory, so RSS shows a KV pool tensor that is not disposed:
// without the dispose, 1,000 steps of this model grew RSS by ~250 MB (measured).
t.test('WebGPU: memory after 10,000 decode steps ÷ after 100 ≤ 1.05 (replaced KV pool tensors are disposed)', async (t) => {
  if (!requireWebGpu(t)) return;
  const shard = await loadShard({ modelDir: join(FIXTURES, 'qwen2'), tp: 1, rank: 0, device: 'webgpu', dtype: 'fp32', kvSlots: 512, threads: 2, cacheDir: tempCacheDir() });
  const model = new LocalTensorParallel([shard]);
  t.teardown(() => model.release());
  const context = Array.from({ length: 64 }, (_, i) => i);
  await model.forward({ sequences: [{ tokens: context.map((i) => 5 + i), cachedSlots: [], newSlots: context, logitsFrom: 63 }] });
  // Every step decodes against the same 64 cached slots and writes the same spare slot.
  const step = { sequences: [{ tokens: [7], cachedSlots: context, newSlots: [100], logitsFrom: 0 }] };
  for (let i = 0; i < 100; i++) await model.forward(step);
  const after100 = process.memoryUsage().rss;
  for (let i = 100; i < 10_000; i++) await model.forward(step);
  const after10k = process.memoryUsage().rss;
  const ratio = after10k / after100;
  t.comment(`RSS after 100 steps ${(after100 / 2 ** 20).toFixed(0)} MiB, after 10,000 ${(after10k / 2 ** 20).toFixed(0)} MiB: ratio ${ratio.toFixed(3)}`);
  t.ok(ratio <= 1.05, `ratio ${ratio.toFixed(3)} ≤ 1.05`);
});
