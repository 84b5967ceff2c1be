import onnxProto from 'onnx-proto';
import { GraphInput } from '../../src/shards/graph/transformer.js';

const { onnx } = onnxProto;

/** Where a kernel's time is charged in a decode-step profile. */
export type NodeClass = 'matmul' | 'attention' | 'glue';

/** Operator types that multiply matrices (ONNX, ORT fusions and contrib quantized kernels). */
const MATMUL_OPS = new Set([
  'MatMul',
  'Gemm',
  'FusedMatMul',
  'MatMulNBits',
  'DynamicQuantizeMatMul',
  'MatMulInteger',
  'MatMulIntegerToFloat',
  'QGemm',
]);

/** Graph inputs that only the attention block reads; the others are token ids, logit rows and the tp>1 residual stream. */
const NON_ATTENTION_INPUTS: ReadonlySet<string> = new Set([
  GraphInput.inputIds,
  GraphInput.logitRows,
  GraphInput.residualIn,
  GraphInput.reducedIn,
]);

/** A graph node's class and operator type, keyed by node name. */
export interface NodeInfo {
  readonly cls: NodeClass;
  readonly opType: string;
}

/**
 * Classifies the nodes of an ORT-optimized arbor graph (node names as they appear in profiles,
 * fused nodes included) by data flow rather than by name, so it survives ORT's renaming:
 *
 * 1. **matmul**: a MATMUL_OPS node with an initializer among its inputs after the first — the
 *    q/k/v, o, gate/up and down projections and the LM head (a Gemm that ORT formed from a
 *    projection and the residual Add is one of them, so that Add is charged here).
 * 2. **attention**: every node reachable from the attention-only graph inputs (KV pool, rotary
 *    tables, attention-group indices, shapes and masks) without passing through a matmul node,
 *    plus every non-matmul ancestor of those nodes up to the nearest matmul node. That is rotary,
 *    the pool Gathers, Concat/Transpose/Reshape of K and V, the two activation×activation MatMuls,
 *    mask Add, Softmax, the output Gather, the Split of the fused QKV output, and the `new_kv`
 *    output assembly.
 * 3. **glue**: everything else — embedding Gather, RMS norms, SiLU·up, residual Adds that were
 *    not fused into a Gemm, the logit-row Gather.
 */
export function classifyGraph(model: Uint8Array): Map<string, NodeInfo> {
  const graph = onnx.ModelProto.decode(model).graph;
  if (!graph) throw new Error('ONNX model has no graph');
  const nodes = graph.node ?? [];
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const out of n.output ?? []) producer.set(out, i);
    for (const inp of n.input ?? []) {
      const list = consumers.get(inp);
      if (list) list.push(i);
      else consumers.set(inp, [i]);
    }
  });
  const isWeightMatmul = (i: number) => {
    const n = nodes[i]!;
    return MATMUL_OPS.has(n.opType ?? '') && (n.input ?? []).slice(1).some((x) => initializers.has(x));
  };

  const attention = new Set<number>();
  const forward = (graph.input ?? []).map((v) => v.name ?? '').filter((name) => !NON_ATTENTION_INPUTS.has(name));
  while (forward.length) {
    for (const i of consumers.get(forward.pop()!) ?? []) {
      if (attention.has(i) || isWeightMatmul(i)) continue;
      attention.add(i);
      forward.push(...(nodes[i]!.output ?? []));
    }
  }
  const backward = [...attention];
  while (backward.length) {
    for (const inp of nodes[backward.pop()!]!.input ?? []) {
      const p = producer.get(inp);
      if (p === undefined || attention.has(p) || isWeightMatmul(p)) continue;
      attention.add(p);
      backward.push(p);
    }
  }

  const classes = new Map<string, NodeInfo>();
  nodes.forEach((n, i) => {
    const cls: NodeClass = isWeightMatmul(i) ? 'matmul' : attention.has(i) ? 'attention' : 'glue';
    classes.set(n.name ?? '', { cls, opType: n.opType ?? '' });
  });
  return classes;
}

/** One kernel execution from an ORT profile. */
export interface KernelTime {
  readonly node: string;
  readonly op: string;
  readonly us: number;
}

/** One `session.run` from an ORT profile: its wall time inside ORT and its kernels. */
export interface ProfiledRun {
  readonly wallUs: number;
  readonly kernels: readonly KernelTime[];
}

interface TraceEvent {
  readonly cat?: string;
  readonly name: string;
  readonly ts: number;
  readonly dur: number;
  readonly args?: { readonly op_name?: string };
}

/**
 * Splits an ORT profile (the Chrome-trace JSON written by `endProfiling`) into runs: each
 * `model_run` session event with the `<node>_kernel_time` events inside its time span.
 */
export function parseOrtTrace(json: string): ProfiledRun[] {
  const events = JSON.parse(json) as TraceEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  return runs.map((r) => ({
    wallUs: r.dur,
    kernels: kernels
      .filter((k) => k.ts >= r.ts && k.ts <= r.ts + r.dur)
      .map((k) => ({ node: k.name.slice(0, -'_kernel_time'.length), op: k.args?.op_name ?? '?', us: k.dur })),
  }));
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Kernel time of a profile per class and per class × operator, in µs. */
export interface ProfileSplit {
  readonly byClass: Record<NodeClass, number>;
  /** `${cls}:${op}` → µs and node count. */
  readonly byOp: Map<string, { us: number; nodes: number }>;
  /** Median over runs of the sum of all kernel times. */
  readonly kernelSumUs: number;
  /** Median over runs of ORT's own run time (`model_run`). */
  readonly wallUs: number;
  /** Profiled node names missing from the graph (should be none). */
  readonly unknownNodes: readonly string[];
}

/**
 * Charges each node its median duration over the runs, then sums per class. Medians per node keep a
 * preemption of one kernel in one run (common on a busy 2-core machine) out of the totals.
 */
export function splitProfile(runs: readonly ProfiledRun[], classes: ReadonlyMap<string, NodeInfo>): ProfileSplit {
  const perNode = new Map<string, number[]>();
  for (const run of runs) {
    // A node can appear once per run; summing guards against ORT ever splitting one into several events.
    const thisRun = new Map<string, number>();
    for (const k of run.kernels) thisRun.set(k.node, (thisRun.get(k.node) ?? 0) + k.us);
    for (const [node, us] of thisRun) {
      const list = perNode.get(node);
      if (list) list.push(us);
      else perNode.set(node, [us]);
    }
  }
  const byClass: Record<NodeClass, number> = { matmul: 0, attention: 0, glue: 0 };
  const byOp = new Map<string, { us: number; nodes: number }>();
  const unknownNodes: string[] = [];
  for (const [node, durations] of perNode) {
    const info = classes.get(node);
    if (!info) unknownNodes.push(node);
    const cls = info?.cls ?? 'glue';
    const us = median(durations);
    byClass[cls] += us;
    const key = `${cls}:${info?.opType ?? '?'}`;
    const entry = byOp.get(key) ?? { us: 0, nodes: 0 };
    byOp.set(key, { us: entry.us + us, nodes: entry.nodes + 1 });
  }
  return {
    byClass,
    byOp,
    kernelSumUs: median(runs.map((r) => r.kernels.reduce((s, k) => s + k.us, 0))),
    wallUs: median(runs.map((r) => r.wallUs)),
    unknownNodes,
  };
}
