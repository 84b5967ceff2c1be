/**
 * Which ops ORT's WebGPU EP runs on the GPU, per dtype: builds each tiny graph of
 * tools/lib/webgpu-op-cases.ts, reads its node placement from ORT's verbose log, runs it on the
 * WebGPU EP and on the CPU EP, and prints a Markdown
 * table (the one in docs/WEBGPU-OPS.md).
 *
 *   VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json npx tsx tools/webgpu-ops.ts [--only REGEX]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { WeightFile } from '../src/shards/graph/weight-file.js';
import { WEBGPU_EP, offEp, readPlacement, type SessionPlacement } from '../src/shards/ep-placement.js';
import { CaseGraph, OP_CASES, type FloatKind, type OpCase } from './lib/webgpu-op-cases.js';

const { values: args } = parseArgs({ options: { only: { type: 'string' } } });

interface Built {
  readonly c: OpCase;
  readonly dtype: string;
  readonly g: CaseGraph;
  readonly path: string;
}

interface Outcome {
  /** Created on the WebGPU EP (then its placement is read). */
  readonly created: boolean;
  readonly notes: string[];
}

const dir = mkdtempSync(join(tmpdir(), 'arbor-webgpu-ops-'));
try {
  const built = OP_CASES.filter((c) => !args.only || new RegExp(args.only).test(c.op)).flatMap((c) =>
    (c.dtype === 'float' ? (['fp32', 'fp16'] as const) : (['fp32'] as const)).map((ft, i) => build(c, ft, `${OP_CASES.indexOf(c)}_${i}`)),
  );
  const outcomes: Outcome[] = [];
  for (const b of built) outcomes.push(await compare(b));
  const created = built.filter((_, i) => outcomes[i]!.created);
  const placements = await readPlacement(created.map((b) => b.path));
  console.log('| op | dtype | placed on | notes |');
  console.log('|---|---|---|---|');
  for (const [i, b] of built.entries()) {
    const p = outcomes[i]!.created ? placements[created.indexOf(b)]! : null;
    const [placed, placeNotes] = p ? describe(p, b.g.target) : ['not created', []];
    const notes = [...placeNotes, ...outcomes[i]!.notes].join('; ');
    console.log(`| ${b.c.op} | ${b.dtype} | ${placed} | ${notes.replaceAll('|', '\\|')} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function build(c: OpCase, ft: FloatKind, id: string): Built {
  const weights = new WeightFile(join(dir, `${id}.bin`));
  const g = new CaseGraph(c.op, ft, weights);
  c.build(g);
  weights.close();
  const path = join(dir, `${id}.onnx`);
  writeFileSync(path, c.opset ? withOpset(g.b.encode(), c.opset) : g.b.encode());
  return { c, dtype: c.dtype === 'float' ? ft : c.dtype, g, path };
}

/** Re-encodes a model with another ONNX-domain opset (the builder always imports 21). */
function withOpset(model: Uint8Array, version: number): Uint8Array {
  const m = onnxProto.onnx.ModelProto.decode(model);
  for (const o of m.opsetImport) if (!o.domain) o.version = version;
  return onnxProto.onnx.ModelProto.encode(m).finish();
}

/** Runs the graph on both EPs and notes how far the WebGPU results are from the CPU EP's. */
async function compare(b: Built): Promise<Outcome> {
  const base = { graphOptimizationLevel: 'all', logSeverityLevel: 3 } as const;
  let gpu: ort.InferenceSession;
  try {
    gpu = await ort.InferenceSession.create(b.path, { ...base, executionProviders: ['webgpu'] });
  } catch (e) {
    return { created: false, notes: [`session rejected: ${short(e)}`] };
  }
  const notes: string[] = [];
  let got: Record<string, ort.Tensor.DataType> | null = null;
  try {
    // Host outputs: getData() on a gpu-buffer output aborts the process in ORT 1.30 (docs/WEBGPU-OPS.md).
    const out = await gpu.run(b.g.feeds);
    got = Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data]));
  } catch (e) {
    notes.push(`WebGPU run failed: ${short(e)}`);
  }
  await gpu.release();
  try {
    const cpu = await ort.InferenceSession.create(b.path, { ...base, executionProviders: ['cpu'] });
    const want = await cpu.run(b.g.feeds);
    await cpu.release();
    if (got) notes.push(difference(want, got));
  } catch (e) {
    notes.push(`CPU EP reference failed: ${short(e)}`);
  }
  return { created: true, notes };
}

/** "exact", or the largest error relative to the CPU output's largest magnitude. */
function difference(want: ort.InferenceSession.OnnxValueMapType, got: Record<string, ort.Tensor.DataType>): string {
  let rel = 0;
  for (const [name, t] of Object.entries(want)) {
    const a = t.data as ArrayLike<number | bigint>;
    const b = got[name] as ArrayLike<number | bigint>;
    if (a.length !== b.length) return `MISMATCH: ${name} has ${b.length} values, CPU EP ${a.length}`;
    let scale = 0;
    let err = 0;
    for (let i = 0; i < a.length; i++) {
      scale = Math.max(scale, Math.abs(Number(a[i])));
      err = Math.max(err, Math.abs(Number(a[i]) - Number(b[i])));
    }
    if (typeof a[0] !== 'number' || !(t.type === 'float32')) {
      if (err !== 0) return `MISMATCH: ${name} differs from the CPU EP`;
    } else rel = Math.max(rel, err / Math.max(scale, 1e-30));
  }
  return rel === 0 ? 'same as CPU EP' : `vs CPU EP: max rel err ${rel.toExponential(1)}`;
}

/** The target node's EP, and notes on every other node not on the WebGPU EP. */
function describe(p: SessionPlacement, target: string): [string, string[]] {
  const short = (ep: string) => ep.replace('ExecutionProvider', '').replace('WebGpu', 'WebGPU');
  const notes: string[] = [];
  let placed: string;
  const eps = Object.keys(p.counts);
  if (eps.length === 0) {
    placed = 'folded away by the optimizer';
  } else if (p.nodes.length === 0) {
    placed = short(eps[0]!);
  } else {
    const node = p.nodes.find((n) => n.name === target);
    placed = node ? short(node.ep) : 'fused or renamed';
    const others = offEp(p, WEBGPU_EP).filter((s) => !s.includes(`(${target})`));
    if (others.length) notes.push(`also off WebGPU: ${others.map((s) => s.replace(' on CPUExecutionProvider', '')).join(', ')}`);
  }
  if (!placed.startsWith('WebGPU') && p.noKernel.some((n) => n.endsWith(`(${target})`))) notes.push('no WebGPU kernel for these types');
  if (p.forcedToCpu.includes(target)) notes.push('ORT forced it to CPU (shape math)');
  if (p.copies) notes.push(`${p.copies} Memcpy`);
  return [placed, notes];
}

function short(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/^\/onnxruntime_src\/\S+ /, '').replace(/^Load model from \S+ failed:/, '').split('\n')[0]!.slice(0, 160);
}
