import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { importCycles, importGraph, runtimeClosure } from '../helpers/import-graph.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const graph = importGraph(root, join(root, 'src'));

t.test('the import graph parser sees imports, re-exports and type-only imports', async (t) => {
  const engine = graph.get('src/engine/engine.ts')!;
  t.ok(engine.some((e) => e.target === 'src/actors/protocol.ts' && e.typeOnly), 'type-only import');
  t.ok(engine.some((e) => e.target === 'comlink' && !e.typeOnly), 'package import');
  t.ok(graph.get('src/index.ts')!.length > 5, 're-exports');
});

t.test('no import cycles between source files (type-only imports included)', async (t) => {
  t.same(importCycles(graph).map((c) => c.join(' → ')), []);
});

t.test('nothing imports a worker entry file (it runs Comlink.expose when loaded)', async (t) => {
  const entries = ['src/actors/scheduler-worker.ts', 'src/actors/shard-worker.ts'];
  const importers = [...graph].filter(([, edges]) => edges.some((e) => entries.includes(e.target))).map(([f]) => f);
  t.same(importers, []);
});

t.test('the front never loads onnxruntime-node, the graph builder or the shard runtime', async (t) => {
  const loaded = [...runtimeClosure(graph, 'src/engine/engine.ts')];
  t.same(loaded.filter((f) => f === 'onnxruntime-node' || f.startsWith('src/shards/') && !['src/shards/cache-dir.ts', 'src/shards/device.ts'].includes(f)), []);
});

t.test('shards and the scheduler import nothing from the front or the worker plumbing', async (t) => {
  const bad = [...graph].flatMap(([f, edges]) =>
    f.startsWith('src/shards/') || f.startsWith('src/scheduler/') || f.startsWith('src/kvcache/')
      ? edges.filter((e) => e.target.startsWith('src/engine/') || (e.target.startsWith('src/actors/') && e.target !== 'src/actors/protocol.ts')).map((e) => `${f} → ${e.target}`)
      : [],
  );
  t.same(bad, []);
});
