import onnxProto from 'onnx-proto';
import { classifyGraph } from './ort-profile.js';
import type { NodeClass, NodeInfo } from './ort-profile.js';

const { onnx } = onnxProto;
type Long = number | { toNumber(): number };

/** A graph input that stands in for a removed node's output; feed it zeros of `[rows, width]`. */
export interface StubInput {
  readonly name: string;
  readonly width: number;
}

/** The three graphs timed against each other, all taking the same inputs (`stubs` included). */
export interface AblationVariants {
  readonly full: Uint8Array;
  readonly noMatmul: Uint8Array;
  readonly noAttention: Uint8Array;
  readonly stubs: readonly StubInput[];
}

/** Stub inputs get names of their own, so the other graphs can declare them too. */
const stubName = (value: string) => `ablated.${value}`;
const num = (v: Long | null | undefined) => (typeof v === 'number' ? v : (v?.toNumber() ?? NaN));

/** Output and input feature counts of a projection node, read from its weight (or its attributes). */
function projectionShape(node: onnxProto.onnx.INodeProto, dims: ReadonlyMap<string, number[]>): { k: number; n: number } {
  const attr = (name: string) => num(node.attribute?.find((a) => a.name === name)?.i);
  if (node.opType === 'MatMulNBits') return { k: attr('K'), n: attr('N') };
  const w = dims.get(node.input?.[1] ?? '');
  if (!w || w.length !== 2) throw new Error(`projection ${node.name} has no 2-D weight`);
  const transB = node.opType === 'Gemm' && attr('transB') === 1;
  return transB ? { k: w[1]!, n: w[0]! } : { k: w[0]!, n: w[1]! };
}

function declare(graph: onnxProto.onnx.IGraphProto, stubs: readonly StubInput[]): void {
  graph.input = [
    ...(graph.input ?? []),
    ...stubs.map(({ name, width }) => ({
      name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'T' }, { dimValue: width }] } } },
    })),
  ];
}

/**
 * Removes every node of class `drop`. Values a kept node needs from a removed one become zero-filled
 * graph inputs (`[T, width]` for a decode step with one logit row per sequence); a graph output only
 * removed nodes produce (`new_kv` when dropping attention) is dropped. Each removed value gets its
 * own input: sharing one per width lets ORT's common-subexpression elimination merge the layers
 * that would then compute identical values (half the graph vanished that way).
 */
function ablate(graph: onnxProto.onnx.IGraphProto, classes: ReadonlyMap<string, NodeInfo>, drop: NodeClass): StubInput[] {
  const dims = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', (t.dims ?? []).map(num)]));
  const all = graph.node ?? [];
  const removed = all.filter((n) => classes.get(n.name ?? '')?.cls === drop);
  const kept = all.filter((n) => classes.get(n.name ?? '')?.cls !== drop);
  const removedOutputs = new Set(removed.flatMap((n) => n.output ?? []));
  const stubs = new Map<string, number>();
  for (const n of kept) {
    n.input = (n.input ?? []).map((inp, idx) => {
      if (!removedOutputs.has(inp)) return inp;
      if (drop === 'matmul') stubs.set(stubName(inp), projectionShape(removed.find((r) => r.output?.includes(inp))!, dims).n);
      else if (idx === 0 && classes.get(n.name ?? '')?.cls === 'matmul') stubs.set(stubName(inp), projectionShape(n, dims).k);
      else throw new Error(`cannot stub ${inp} (read by ${n.name}): only projection inputs and outputs have known widths`);
      return stubName(inp);
    });
  }
  graph.node = kept;
  graph.output = (graph.output ?? []).filter((o) => !removedOutputs.has(o.name ?? ''));
  // Initializers only the removed nodes read would make ORT warn; drop them.
  const used = new Set(kept.flatMap((n) => n.input ?? []));
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  return [...stubs].map(([name, width]) => ({ name, width }));
}

/**
 * From an arbor graph (tp = 1, the unoptimized `seg0.onnx`), the copies whose run times measure a
 * node class's cost with no profiler attached: the graph without its matmul nodes and without its
 * attention nodes (classes from {@link classifyGraph}), kernels, per-node executor work and the
 * outputs only they produce all included. Every copy, the full one too, declares every stub input,
 * so all take the same feeds and the per-input cost of a run (µs each, 150 stubs) cancels out of
 * their differences.
 */
export function ablationVariants(model: Uint8Array): AblationVariants {
  const classes = classifyGraph(model);
  const full = onnx.ModelProto.decode(model);
  const noMatmul = onnx.ModelProto.decode(model);
  const noAttention = onnx.ModelProto.decode(model);
  const matmulStubs = ablate(noMatmul.graph!, classes, 'matmul');
  const attentionStubs = ablate(noAttention.graph!, classes, 'attention');
  const stubs = [...matmulStubs, ...attentionStubs];
  const encode = (m: onnxProto.onnx.ModelProto) => {
    declare(m.graph!, stubs);
    return onnx.ModelProto.encode(m).finish();
  };
  return { full: encode(full), noMatmul: encode(noMatmul), noAttention: encode(noAttention), stubs };
}
