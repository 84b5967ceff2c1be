import onnxProto from 'onnx-proto';
import type { WeightFile } from './weight-file.js';
import { toFloat16 } from './float16.js';

const { onnx } = onnxProto;
type AttrValue = number | number[] | string | { ints: number[] } | { floats: number[] };

/** ONNX element types the builder emits. */
export const DType = {
  float: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
} as const;
export type DTypeCode = (typeof DType)[keyof typeof DType];
/** The float element types activations and weights may have. */
export type FloatType = typeof DType.float | typeof DType.float16;

/** A symbolic or fixed dimension of a graph input/output. */
export type Dim = number | string;

/** Initializers at or below this size are stored inline; larger ones go to the external weight file. */
const INLINE_LIMIT = 256;

/**
 * Accumulates one ONNX graph (nodes, initializers, inputs, outputs) and encodes it as a ModelProto.
 * Large initializers are appended to a shared external-data file so no protobuf buffer ever holds
 * the weights (ORT rejects models and in-memory initializers over 2 GB).
 */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly inputNames = new Set<string>();
  private counter = 0;

  constructor(
    readonly name: string,
    private readonly weights: WeightFile,
  ) {}

  /** Declares a graph input (idempotent: a second call with the same name returns it). */
  input(name: string, type: DTypeCode, dims: readonly Dim[]): string {
    if (!this.inputNames.has(name)) {
      this.inputNames.add(name);
      this.inputs.push(valueInfo(name, type, dims));
    }
    return name;
  }

  /** Marks a value as a graph output, renaming it through Identity when the name differs. */
  output(value: string, name: string, type: DTypeCode, dims: readonly Dim[]): void {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node and returns its output names. */
  opN(opType: string, inputs: readonly string[], nOutputs: number, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const base = `${opType.toLowerCase()}_${this.counter++}`;
    const output = Array.from({ length: nOutputs }, (_, i) => (nOutputs === 1 ? base : `${base}_${i}`));
    this.nodes.push({
      opType,
      domain,
      name: base,
      input: [...inputs],
      output,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Adds a single-output node whose output is `name` (a graph output needs no Identity copy then). */
  opTo(name: string, opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    this.nodes.push({ opType, domain, name: `${opType.toLowerCase()}_${this.counter++}`, input: [...inputs], output: [name], attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return name;
  }

  /** Adds a single-output node and returns its output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    return this.opN(opType, inputs, 1, attrs, domain)[0]!;
  }

  /** An int64 constant tensor (1-D, or a scalar when `scalar`). */
  constI64(values: readonly number[], scalar = false): string {
    const name = `c_i64_${this.counter++}`;
    const buf = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DType.int64, dims: scalar ? [] : [values.length], rawData: bytes(buf) });
    return name;
  }

  /** A float32 constant scalar. */
  constF32(value: number): string {
    const name = `c_f32_${this.counter++}`;
    this.initializers.push({ name, dataType: DType.float, dims: [], rawData: bytes(new Float32Array([value])) });
    return name;
  }

  /** A float constant scalar of the given float type (float32 or float16). */
  constFloat(value: number, type: FloatType): string {
    if (type === DType.float) return this.constF32(value);
    const name = `c_f16_${this.counter++}`;
    this.initializers.push({ name, dataType: DType.float16, dims: [], rawData: bytes(toFloat16(new Float32Array([value]))) });
    return name;
  }

  /** A named weight tensor; large ones are written to the external data file. */
  weight(name: string, type: DTypeCode, dims: readonly number[], data: ArrayBufferView): string {
    const raw = bytes(data);
    if (raw.byteLength <= INLINE_LIMIT) {
      this.initializers.push({ name, dataType: type, dims: [...dims], rawData: raw });
    } else {
      const offset = this.weights.append(raw);
      this.initializers.push({
        name,
        dataType: type,
        dims: [...dims],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: this.weights.fileName },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      });
    }
    return name;
  }

  /** Encodes the graph as an ONNX ModelProto (IR 10, opset 21 + com.microsoft 1). */
  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 10,
      producerName: 'arbor',
      opsetImport: [
        { domain: '', version: 21 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function valueInfo(name: string, elemType: DTypeCode, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  return { name, type: T.FLOATS, floats: v.floats };
}
