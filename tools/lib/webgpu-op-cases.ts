/**
 * Tiny one-op graphs for tools/webgpu-ops.ts: each checks one op and dtype the WebGPU step graph may
 * use. Float cases are written once and built as fp32 and fp16; the fp16 variant casts its fp32
 * inputs and weights to fp16 inside the graph and its outputs back, so the feeds and results stay
 * fp32 and the op itself computes in fp16 (ORT folds the casts of weights into fp16 weights).
 */
import ort from 'onnxruntime-node';
import { DType, OnnxGraphBuilder, type Dim } from '../../src/shards/graph/onnx-builder.js';
import { quantizeBlocks } from '../../src/shards/graph/quantize.js';
import type { WeightFile } from '../../src/shards/graph/weight-file.js';
import { SeededRandom, fnv1a } from './prng.js';

export type FloatKind = 'fp32' | 'fp16';
type IntKind = 'int32' | 'int64';

/** One graph under test: its builder, the feeds that run it, and the node whose placement counts. */
export class CaseGraph {
  readonly b: OnnxGraphBuilder;
  readonly feeds: Record<string, ort.Tensor> = {};
  /** Name of the node under test (the builder names a node after its first output). */
  target = '';
  private readonly rng: SeededRandom;
  private outputCount = 0;

  constructor(
    readonly label: string,
    readonly ft: FloatKind,
    weights: WeightFile,
  ) {
    this.b = new OnnxGraphBuilder(label, weights);
    this.rng = new SeededRandom(fnv1a(`${label}/${ft}`));
  }

  /** A float input with N(0, 1) values, in the case's float kind; `declared` may name dims symbolically. */
  float(name: string, dims: readonly number[], declared: readonly Dim[] = dims): string {
    const data = new Float32Array(dims.reduce((a, d) => a * d, 1));
    this.rng.fillNormal(data, 0, 1);
    this.feeds[name] = new ort.Tensor('float32', data, [...dims]);
    return this.toKind(this.b.input(name, DType.float, declared));
  }

  /** A float weight (initializer) with N(0, 0.5) values, in the case's float kind. */
  floatWeight(name: string, dims: readonly number[], data?: Float32Array): string {
    const values = data ?? new Float32Array(dims.reduce((a, d) => a * d, 1));
    if (!data) this.rng.fillNormal(values, 0, 0.5);
    return this.toKind(this.b.weight(name, DType.float, dims, values));
  }

  /** An integer input holding `values`. */
  ints(name: string, kind: IntKind, dims: readonly number[], values: readonly number[]): string {
    const data = kind === 'int64' ? BigInt64Array.from(values, BigInt) : Int32Array.from(values);
    this.feeds[name] = new ort.Tensor(kind, data, [...dims]);
    return this.b.input(name, kind === 'int64' ? DType.int64 : DType.int32, dims);
  }

  /** An integer initializer holding `values`. */
  intConst(name: string, kind: IntKind, dims: readonly number[], values: readonly number[]): string {
    const data = kind === 'int64' ? BigInt64Array.from(values, BigInt) : Int32Array.from(values);
    return this.b.weight(name, kind === 'int64' ? DType.int64 : DType.int32, dims, data);
  }

  /** Adds the node under test and returns its outputs. */
  test(opType: string, inputs: readonly string[], attrs: Parameters<OnnxGraphBuilder['op']>[2] = {}, domain = '', nOutputs = 1): string[] {
    const outputs = this.b.opN(opType, inputs, nOutputs, attrs, domain);
    this.target = nOutputs === 1 ? outputs[0]! : outputs[0]!.replace(/_0$/, '');
    return outputs;
  }

  /** A graph output; float values are cast back to fp32 in the fp16 variant, bools to int32. */
  out(value: string, kind: 'float' | IntKind | 'bool', dims: readonly Dim[]): void {
    const name = `out${this.outputCount++}`;
    if (kind === 'float') {
      const v = this.ft === 'fp16' ? this.b.op('Cast', [value], { to: DType.float }) : value;
      this.b.output(v, name, DType.float, dims);
    } else if (kind === 'bool') {
      this.b.output(this.b.op('Cast', [value], { to: DType.int32 }), name, DType.int32, dims);
    } else {
      this.b.output(value, name, kind === 'int64' ? DType.int64 : DType.int32, dims);
    }
  }

  private toKind(value: string): string {
    return this.ft === 'fp16' ? this.b.op('Cast', [value], { to: DType.float16 }) : value;
  }
}

/** One entry of the survey: float cases (`dtype: 'float'`) are built as fp32 and as fp16. */
export interface OpCase {
  readonly op: string;
  readonly dtype: 'float' | string;
  /** ONNX-domain opset to import instead of the builder's 21 (for opset-23 ops). */
  readonly opset?: number;
  build(g: CaseGraph): void;
}

const MS = 'com.microsoft';

function matMulNBits(bits: 4 | 8, blockSize: number): OpCase {
  return {
    op: `MatMulNBits ${bits}-bit, block ${blockSize}`,
    dtype: 'float',
    build(g) {
      const [m, k, n] = [4, 256, 16];
      const w = new Float32Array(n * k);
      new SeededRandom(7).fillNormal(w, 0, 0.5);
      const q = quantizeBlocks(w, n, k, blockSize, bits);
      const [y] = g.test(
        'MatMulNBits',
        [
          g.float('a', [m, k]),
          g.b.weight('w.q', DType.uint8, [n, q.blocksPerCol, (blockSize * bits) / 8], q.packed),
          g.floatWeight('w.scales', [n * q.blocksPerCol], q.scales),
          g.b.weight('w.zp', DType.uint8, [q.zeroPoints.length], q.zeroPoints),
        ],
        { K: k, N: n, bits, block_size: blockSize, accuracy_level: 4 },
        MS,
      );
      g.out(y!, 'float', [m, n]);
    },
  };
}

/** Index-math cases, each for int32 and int64. */
function intCases(kind: IntKind): OpCase[] {
  const a = (g: CaseGraph) => g.ints('a', kind, [6], [3, 1, 4, 1, 5, 9]);
  const b = (g: CaseGraph) => g.ints('b', kind, [6], [2, 7, 1, 8, 2, 8]);
  const binary = (op: string): OpCase => ({ op, dtype: kind, build: (g) => g.out(g.test(op, [a(g), b(g)])[0]!, kind, [6]) });
  return [
    binary('Add'),
    binary('Sub'),
    binary('Mul'),
    binary('Div'),
    { op: 'Less', dtype: kind, build: (g) => g.out(g.test('Less', [a(g), b(g)])[0]!, 'bool', [6]) },
    { op: 'Equal', dtype: kind, build: (g) => g.out(g.test('Equal', [a(g), b(g)])[0]!, 'bool', [6]) },
    { op: 'Reshape', dtype: kind, build: (g) => g.out(g.test('Reshape', [a(g), g.b.constI64([2, 3])])[0]!, kind, [2, 3]) },
    { op: 'Concat', dtype: kind, build: (g) => g.out(g.test('Concat', [a(g), b(g)], { axis: 0 })[0]!, kind, [12]) },
    { op: 'Expand', dtype: kind, build: (g) => g.out(g.test('Expand', [a(g), g.b.constI64([2, 6])])[0]!, kind, [2, 6]) },
    { op: 'Unsqueeze', dtype: kind, build: (g) => g.out(g.test('Unsqueeze', [a(g), g.b.constI64([0])])[0]!, kind, [1, 6]) },
    {
      op: 'Slice',
      dtype: kind,
      build: (g) => g.out(g.test('Slice', [a(g), g.intConst('starts', kind, [1], [1]), g.intConst('ends', kind, [1], [4])])[0]!, kind, [3]),
    },
    {
      op: 'Where',
      dtype: kind,
      build: (g) => {
        const cond = g.b.op('Less', [g.float('x', [6]), g.float('y', [6])]);
        g.out(g.test('Where', [cond, a(g), b(g)])[0]!, kind, [6]);
      },
    },
    {
      op: 'Range',
      dtype: kind,
      build: (g) => {
        const s = (name: string, v: number) => g.ints(name, kind, [], [v]);
        g.out(g.test('Range', [s('start', 2), s('limit', 9), s('delta', 1)])[0]!, kind, ['n']);
      },
    },
    {
      op: `Cast ${kind} → ${kind === 'int64' ? 'int32' : 'int64'}`,
      dtype: kind,
      build: (g) => {
        const to = kind === 'int64' ? DType.int32 : DType.int64;
        g.out(g.test('Cast', [a(g)], { to })[0]!, kind === 'int64' ? 'int32' : 'int64', [6]);
      },
    },
    { op: `Cast ${kind} → float`, dtype: kind, build: (g) => g.out(g.test('Cast', [a(g)], { to: DType.float })[0]!, 'float', [6]) },
    {
      op: `Cast float → ${kind}`,
      dtype: kind,
      build: (g) => g.out(g.test('Cast', [g.float('x', [6])], { to: kind === 'int64' ? DType.int64 : DType.int32 })[0]!, kind, [6]),
    },
    ...(['float', 'int32', 'int64'] as const).map(
      (data): OpCase => ({
        op: `Gather (${kind} indices)`,
        dtype: data === 'float' ? 'float' : `${data} data`,
        build(g) {
          const d = data === 'float' ? g.float('data', [16, 8]) : g.ints('data', data, [16, 8], Array.from({ length: 128 }, (_, i) => i * 3 - 50));
          g.out(g.test('Gather', [d, g.ints('idx', kind, [3], [2, 0, 15])], { axis: 0 })[0]!, data, [3, 8]);
        },
      }),
    ),
    {
      op: `ScatterElements (${kind} indices)`,
      dtype: 'float',
      build(g) {
        const idx = g.ints('idx', kind, [2, 8], Array.from({ length: 16 }, (_, i) => (i * 5) % 16));
        g.out(g.test('ScatterElements', [g.float('data', [16, 8]), idx, g.float('upd', [2, 8])], { axis: 0 })[0]!, 'float', [16, 8]);
      },
    },
    {
      op: `ScatterND (${kind} indices)`,
      dtype: 'float',
      build(g) {
        const [y] = g.test('ScatterND', [g.float('data', [16, 8]), g.ints('idx', kind, [3, 1], [1, 5, 9]), g.float('upd', [3, 8])]);
        g.out(y!, 'float', [16, 8]);
      },
    },
  ];
}

/** Every op and dtype the survey checks, in table order. */
export const OP_CASES: readonly OpCase[] = [
  { op: 'MatMul (weight)', dtype: 'float', build: (g) => g.out(g.test('MatMul', [g.float('x', [4, 64]), g.floatWeight('w', [64, 32])])[0]!, 'float', [4, 32]) },
  { op: 'MatMul (batched, 2 inputs)', dtype: 'float', build: (g) => g.out(g.test('MatMul', [g.float('a', [2, 4, 16]), g.float('b', [2, 16, 8])])[0]!, 'float', [2, 4, 8]) },
  {
    op: 'FusedMatMul (com.microsoft)',
    dtype: 'float',
    build: (g) => g.out(g.test('FusedMatMul', [g.float('a', [2, 4, 16]), g.float('b', [2, 8, 16])], { transB: 1, alpha: 0.25 }, MS)[0]!, 'float', [2, 4, 8]),
  },
  matMulNBits(4, 128),
  matMulNBits(4, 32),
  matMulNBits(8, 32),
  matMulNBits(8, 128),
  {
    op: 'ScatterND (KV pool [rows, ctx, d], indices [n, 2])',
    dtype: 'float',
    build(g) {
      const [y] = g.test('ScatterND', [g.float('pool', [4, 6, 8]), g.ints('idx', 'int64', [3, 2], [0, 1, 2, 5, 3, 0]), g.float('upd', [3, 8])]);
      g.out(y!, 'float', [4, 6, 8]);
    },
  },
  { op: 'Softmax', dtype: 'float', build: (g) => g.out(g.test('Softmax', [g.float('x', [4, 16])], { axis: -1 })[0]!, 'float', [4, 16]) },
  { op: 'ArgMax → int64', dtype: 'float', build: (g) => g.out(g.test('ArgMax', [g.float('x', [4, 16])], { axis: -1, keepdims: 0 })[0]!, 'int64', [4]) },
  {
    op: 'TopK (k = 4) → values, int64 indices',
    dtype: 'float',
    build(g) {
      const [v, i] = g.test('TopK', [g.float('x', [4, 16]), g.b.constI64([4])], { axis: -1 }, '', 2);
      g.out(v!, 'float', [4, 4]);
      g.out(i!, 'int64', [4, 4]);
    },
  },
  {
    op: 'RotaryEmbedding (com.microsoft, 4-D input)',
    dtype: 'float',
    build(g) {
      const [y] = g.test('RotaryEmbedding', [g.float('x', [1, 2, 3, 8]), g.ints('pos', 'int64', [1, 3], [4, 5, 6]), g.floatWeight('cos', [16, 4]), g.floatWeight('sin', [16, 4])], {}, MS);
      g.out(y!, 'float', [1, 2, 3, 8]);
    },
  },
  {
    op: 'RotaryEmbedding (com.microsoft, 3-D input, num_heads 2)',
    dtype: 'float',
    build(g) {
      const [y] = g.test('RotaryEmbedding', [g.float('x', [1, 3, 16]), g.ints('pos', 'int64', [1, 3], [4, 5, 6]), g.floatWeight('cos', [16, 4]), g.floatWeight('sin', [16, 4])], { num_heads: 2 }, MS);
      g.out(y!, 'float', [1, 3, 16]);
    },
  },
  {
    op: 'RotaryEmbedding (ONNX opset 23)',
    dtype: 'float',
    opset: 23,
    build(g) {
      const [y] = g.test('RotaryEmbedding', [g.float('x', [1, 2, 3, 8]), g.floatWeight('cos', [16, 4]), g.floatWeight('sin', [16, 4]), g.ints('pos', 'int64', [1, 3], [4, 5, 6])]);
      g.out(y!, 'float', [1, 2, 3, 8]);
    },
  },
  {
    op: 'SimplifiedLayerNormalization',
    dtype: 'float',
    build: (g) => g.out(g.test('SimplifiedLayerNormalization', [g.float('x', [4, 16]), g.floatWeight('s', [16])], { axis: -1, epsilon: 1e-5 })[0]!, 'float', [4, 16]),
  },
  {
    op: 'SkipSimplifiedLayerNormalization (com.microsoft), output + residual sum',
    dtype: 'float',
    build(g) {
      const outs = g.test('SkipSimplifiedLayerNormalization', [g.float('x', [1, 4, 16]), g.float('skip', [1, 4, 16]), g.floatWeight('s', [16])], { epsilon: 1e-5 }, MS, 4);
      g.out(outs[0]!, 'float', [1, 4, 16]);
      g.out(outs[3]!, 'float', [1, 4, 16]);
    },
  },
  {
    op: 'RMSNormalization (ONNX opset 23)',
    dtype: 'float',
    opset: 23,
    build: (g) => g.out(g.test('RMSNormalization', [g.float('x', [4, 16]), g.floatWeight('s', [16])], { axis: -1, epsilon: 1e-5 })[0]!, 'float', [4, 16]),
  },
  {
    op: 'Split (2 outputs)',
    dtype: 'float',
    build(g) {
      const [p, q] = g.test('Split', [g.float('x', [4, 16]), g.b.constI64([8, 8])], { axis: -1 }, '', 2);
      g.out(p!, 'float', [4, 8]);
      g.out(q!, 'float', [4, 8]);
    },
  },
  { op: 'Transpose', dtype: 'float', build: (g) => g.out(g.test('Transpose', [g.float('x', [1, 3, 2, 8])], { perm: [0, 2, 1, 3] })[0]!, 'float', [1, 2, 3, 8]) },
  {
    op: 'Where (bool from Less)',
    dtype: 'float',
    build(g) {
      const [x, y] = [g.float('x', [4, 16]), g.float('y', [4, 16])];
      g.out(g.test('Where', [g.b.op('Less', [x, y]), x, y])[0]!, 'float', [4, 16]);
    },
  },
  {
    op: 'SiLU as Sigmoid + Mul',
    dtype: 'float',
    build(g) {
      const x = g.float('x', [4, 16]);
      g.out(g.test('Mul', [x, g.b.op('Sigmoid', [x])])[0]!, 'float', [4, 16]);
    },
  },
  {
    op: 'GroupQueryAttention (com.microsoft), KV buffer of 8, 4 cached + 3 new',
    dtype: 'float',
    build(g) {
      // past and present share one buffer of `cap` positions, as GQA expects for a static cache.
      const [b, s, past, cap, nq, nkv, h] = [1, 3, 4, 8, 4, 2, 8];
      const outs = g.test(
        'GroupQueryAttention',
        [
          g.float('q', [b, s, nq * h]),
          g.float('k', [b, s, nkv * h]),
          g.float('v', [b, s, nkv * h]),
          g.float('past_k', [b, nkv, cap, h]),
          g.float('past_v', [b, nkv, cap, h]),
          g.ints('seqlens_k', 'int32', [b], [past + s - 1]),
          g.ints('total_len', 'int32', [], [past + s]),
        ],
        { num_heads: nq, kv_num_heads: nkv },
        MS,
        3,
      );
      g.out(outs[0]!, 'float', [b, s, nq * h]);
      // Positions past the total length are left undefined, so only the written ones are compared.
      const written = g.b.op('Slice', [outs[1]!, g.b.constI64([0]), g.b.constI64([past + s]), g.b.constI64([2])]);
      g.out(written, 'float', [b, nkv, past + s, h]);
    },
  },
  { op: 'Reshape', dtype: 'float', build: (g) => g.out(g.test('Reshape', [g.float('x', [4, 16]), g.b.constI64([8, 8])])[0]!, 'float', [8, 8]) },
  { op: 'Concat', dtype: 'float', build: (g) => g.out(g.test('Concat', [g.float('x', [4, 16]), g.float('y', [2, 16])], { axis: 0 })[0]!, 'float', [6, 16]) },
  { op: 'Expand', dtype: 'float', build: (g) => g.out(g.test('Expand', [g.float('x', [1, 16]), g.b.constI64([4, 16])])[0]!, 'float', [4, 16]) },
  { op: 'Unsqueeze', dtype: 'float', build: (g) => g.out(g.test('Unsqueeze', [g.float('x', [4, 16]), g.b.constI64([1])])[0]!, 'float', [4, 1, 16]) },
  ...(['int64', 'int32'] as const).map(
    (kind): OpCase => ({
      op: `Slice (${kind} starts/ends)`,
      dtype: 'float',
      build: (g) => g.out(g.test('Slice', [g.float('x', [4, 16]), g.intConst('starts', kind, [1], [2]), g.intConst('ends', kind, [1], [10]), g.intConst('axes', kind, [1], [1])])[0]!, 'float', [4, 8]),
    }),
  ),
  {
    op: 'Shape (of a float tensor) → int64',
    dtype: 'float',
    build: (g) => g.out(g.test('Shape', [g.float('x', [2, 3, 4], ['a', 'b', 'c'])])[0]!, 'int64', [3]),
  },
  {
    op: 'Shape → Gather → Concat → Reshape (shape math feeding a shape input)',
    dtype: 'float',
    build(g) {
      const x = g.float('x', [2, 3, 4], ['a', 'b', 'c']);
      const dim0 = g.b.op('Gather', [g.b.op('Shape', [x]), g.b.constI64([0])], { axis: 0 });
      const shape = g.b.op('Concat', [dim0, g.b.constI64([-1])], { axis: 0 });
      g.out(g.test('Reshape', [x, shape])[0]!, 'float', ['a', 'bc']);
    },
  },
  ...intCases('int64'),
  ...intCases('int32'),
];
