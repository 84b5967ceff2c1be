import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DType, OnnxGraphBuilder } from '../../src/shards/graph/onnx-builder.js';
import { WeightFile } from '../../src/shards/graph/weight-file.js';
import { PlacementError, WEBGPU_EP, offEp, parsePlacement, readPlacement } from '../../src/shards/ep-placement.js';

const dir = mkdtempSync(join(tmpdir(), 'arbor-placement-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a graph over one input x: float[2, 8] built by `body`, and returns its file. */
function model(name: string, body: (b: OnnxGraphBuilder, x: string) => string): string {
  const weights = new WeightFile(join(dir, `${name}.bin`));
  const b = new OnnxGraphBuilder(name, weights);
  b.output(body(b, b.input('x', DType.float, [2, 8])), 'y', DType.float, [2, 'n']);
  weights.close();
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, b.encode());
  return path;
}

// FusedMatMul (com.microsoft) has no WebGPU kernel (docs/WEBGPU-OPS.md).
const mixed = model('mixed', (b, x) => b.op('Softmax', [b.op('FusedMatMul', [b.op('Add', [x, x]), x], { transB: 1, alpha: 0.5 }, 'com.microsoft')], { axis: -1 }));
const gpuOnly = model('gpu', (b, x) => b.op('Mul', [x, b.op('Sigmoid', [b.op('Softmax', [b.op('Add', [x, x])], { axis: -1 })])]));

t.test('names the node that falls back to the CPU EP, and the copies around it', async (t) => {
  const [p, q] = await readPlacement([mixed, gpuOnly]);
  t.same(offEp(p!), ['FusedMatMul (fusedmatmul_1) on CPUExecutionProvider']);
  t.same(p!.noKernel, ['FusedMatMul (fusedmatmul_1)']);
  // x goes up for Add; Add's sum comes down for FusedMatMul, whose result goes up for Softmax.
  t.equal(p!.copies, 3);
  t.same(p!.counts, { CPUExecutionProvider: 1, [WEBGPU_EP]: 5 });
  t.same(offEp(q!), [], 'every node of the other graph is on WebGPU');
  t.same(q!.counts, { [WEBGPU_EP]: 4 });
});

t.test('on the CPU EP alone, everything is reported off WebGPU', async (t) => {
  const [p] = await readPlacement([gpuOnly], { sessionOptions: { executionProviders: ['cpu'] } });
  t.same(offEp(p!), ['all 4 nodes on CPUExecutionProvider']);
});

t.test('a model ORT rejects is named in a PlacementError', async (t) => {
  const bad = join(dir, 'bad.onnx');
  writeFileSync(bad, 'not a model');
  await t.rejects(readPlacement([gpuOnly, bad]), { name: 'PlacementError', message: new RegExp(`${bad}: ORT could not create the session`) });
});

t.test('parsePlacement reads ORT 1.30 log lines; a log without placement is an error', async (t) => {
  const log = [
    '[I:onnxruntime:, webgpu_execution_provider.cc:665 GetCapability] webgpu kernel not found in registries for Op type: Range node name: range_3',
    '[I:onnxruntime:, get_cpu_preferred_nodes.cc:1 GetCpuPreferredNodes] ORT optimization- Force fallback to CPU execution for node: shape_1 because the CPU execution path is deemed faster',
    '[V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
    '[V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2',
    '[V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Range (range_3)',
    '[V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   Shape (shape_1)',
    '[V:onnxruntime:, session_state.cc:1383 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 1',
    '[V:onnxruntime:, session_state.cc:1385 VerifyEachNodeIsAssignedToAnEp]   MemcpyFromHost (Memcpy)',
  ].join('\n');
  const p = parsePlacement(log);
  t.same(p.nodes.map((n) => `${n.name}@${n.ep}`), ['range_3@CPUExecutionProvider', 'shape_1@CPUExecutionProvider', `Memcpy@${WEBGPU_EP}`]);
  t.same([p.noKernel, p.forcedToCpu, p.copies], [['Range (range_3)'], ['shape_1'], 1]);
  t.throws(() => parsePlacement('nothing here'), PlacementError);
});
