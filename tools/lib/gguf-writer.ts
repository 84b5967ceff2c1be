/**
 * A minimal GGUF (version 3) writer: metadata key/values, tensor infos, then tensor data, each
 * tensor aligned to `general.alignment` (32). Tensor data is produced one tensor at a time by a
 * callback, so a multi-GB model never sits in memory whole.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 kv count, the kvs
 * (gguf string key, u32 value type, value), the tensor infos (name, u32 n_dims, u64 ne[n_dims]
 * with ne[0] the innermost — the row length —, u32 ggml type, u64 offset into the data section),
 * padding to the alignment, then the data section.
 *
 * Quantized formats (ggml's reference layouts):
 * - Q8_0: blocks of 32 values along a row: fp16 scale d = max|x| / 127, then 32 int8 q = round(x / d).
 * - Q4_0: blocks of 32: fp16 scale d = m / -8 where m is the value of largest magnitude (sign kept),
 *   then 16 bytes; byte j holds element j in its low nibble and element j + 16 in its high nibble,
 *   q = min(15, trunc(x / d + 8.5)) and the value is (q - 8) · d.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { float16Bits } from '../../src/shards/graph/float16.js';

/** GGUF metadata value types. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** The ggml tensor types this writer produces. */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

/** llama.cpp's `general.file_type` (llama_ftype) for a whole-model type. */
export const GGUF_FILE_TYPE: Record<'f32' | 'q8_0' | 'q4_0', number> = { f32: 0, q4_0: 2, q8_0: 7 };

export const QK = 32;
const BLOCK_BYTES: Record<GgmlTypeName, { elems: number; bytes: number }> = {
  F32: { elems: 1, bytes: 4 },
  F16: { elems: 1, bytes: 2 },
  Q8_0: { elems: QK, bytes: 2 + QK },
  Q4_0: { elems: QK, bytes: 2 + QK / 2 },
};

/** A metadata value with its GGUF type spelled out (arrays carry their element type). */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'i32[]'; value: ArrayLike<number> }
  | { type: 'f32[]'; value: ArrayLike<number> };

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml order: ne[0] is the row length (a Hugging Face Linear [out, in] is ne = [in, out]). */
  readonly ne: readonly number[];
  readonly type: GgmlTypeName;
}

/** Bytes of a tensor's data. */
export function tensorBytes(t: GgufTensorSpec): number {
  const n = t.ne.reduce((a, b) => a * b, 1);
  const { elems, bytes } = BLOCK_BYTES[t.type];
  if (t.ne[0]! % elems !== 0) throw new RangeError(`${t.name}: row length ${t.ne[0]} is not a multiple of ${elems} (${t.type})`);
  return (n / elems) * bytes;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 20);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f32(v: number): void {
    this.room(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  zeros(n: number): void {
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(s: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case 'u32':
      s.u32(GgufValueType.UINT32);
      s.u32(v.value);
      return;
    case 'i32':
      s.u32(GgufValueType.INT32);
      s.i32(v.value);
      return;
    case 'f32':
      s.u32(GgufValueType.FLOAT32);
      s.f32(v.value);
      return;
    case 'bool':
      s.u32(GgufValueType.BOOL);
      s.u8(v.value ? 1 : 0);
      return;
    case 'string':
      s.u32(GgufValueType.STRING);
      s.str(v.value);
      return;
    case 'string[]':
      s.u32(GgufValueType.ARRAY);
      s.u32(GgufValueType.STRING);
      s.u64(v.value.length);
      for (const x of v.value) s.str(x);
      return;
    case 'i32[]':
      s.u32(GgufValueType.ARRAY);
      s.u32(GgufValueType.INT32);
      s.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) s.i32(v.value[i]!);
      return;
    case 'f32[]':
      s.u32(GgufValueType.ARRAY);
      s.u32(GgufValueType.FLOAT32);
      s.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) s.f32(v.value[i]!);
      return;
  }
}

export const GGUF_ALIGNMENT = 32;

/**
 * Writes a GGUF file. `data(i)` returns tensor i's bytes (exactly `tensorBytes(tensors[i])` long),
 * called in order. Writes to `path.tmp` and renames, so an interrupted run leaves no truncated file.
 */
export function writeGguf(
  path: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorSpec[],
  data: (index: number) => Uint8Array,
  onTensor?: (index: number, total: number, name: string) => void,
): number {
  const h = new ByteSink();
  h.u8(0x47); // G
  h.u8(0x47); // G
  h.u8(0x55); // U
  h.u8(0x46); // F
  h.u32(3);
  h.u64(tensors.length);
  const kv = new Map(metadata);
  if (!kv.has('general.alignment')) kv.set('general.alignment', { type: 'u32', value: GGUF_ALIGNMENT });
  h.u64(kv.size);
  for (const [key, value] of kv) {
    h.str(key);
    writeValue(h, value);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    offsets.push(offset);
    h.str(t.name);
    h.u32(t.ne.length);
    for (const n of t.ne) h.u64(n);
    h.u32(GgmlType[t.type]);
    h.u64(offset);
    offset = align(offset + tensorBytes(t), GGUF_ALIGNMENT);
  }
  h.zeros(align(h.length, GGUF_ALIGNMENT) - h.length);

  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  let written = 0;
  try {
    written += writeAll(fd, h.bytes());
    const pad = new Uint8Array(GGUF_ALIGNMENT);
    tensors.forEach((t, i) => {
      onTensor?.(i, tensors.length, t.name);
      const bytes = data(i);
      if (bytes.byteLength !== tensorBytes(t)) throw new Error(`${t.name}: got ${bytes.byteLength} bytes, expected ${tensorBytes(t)}`);
      written += writeAll(fd, bytes);
      const end = offsets[i]! + bytes.byteLength;
      const padTo = align(end, GGUF_ALIGNMENT);
      if (i < tensors.length - 1 && padTo > end) written += writeAll(fd, pad.subarray(0, padTo - end));
    });
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return written;
}

function writeAll(fd: number, data: Uint8Array): number {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done);
  return done;
}

// --- float16 -------------------------------------------------------------------------------

/** The float value of binary16 bits. */
export function fromHalfBits(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// --- quantizers ------------------------------------------------------------------------------

/** Q8_0 blocks of a row-major matrix whose rows are multiples of 32 long (ggml's reference rounding). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % QK !== 0) throw new RangeError(`Q8_0 needs a multiple of ${QK} values`);
  const nb = x.length / QK;
  const out = new Uint8Array(nb * (2 + QK));
  const view = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const src = b * QK;
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[src + j]!));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const dst = b * (2 + QK);
    view.setUint16(dst, float16Bits(d), true);
    for (let j = 0; j < QK; j++) {
      // roundf: halves away from zero
      const v = Math.fround(x[src + j]! * id);
      const q = Math.sign(v) * Math.round(Math.abs(v));
      view.setInt8(dst + 2 + j, q);
    }
  }
  return out;
}

/** Q4_0 blocks (ggml's reference quantize_row_q4_0). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  if (x.length % QK !== 0) throw new RangeError(`Q4_0 needs a multiple of ${QK} values`);
  const nb = x.length / QK;
  const out = new Uint8Array(nb * (2 + QK / 2));
  const view = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const src = b * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[src + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const dst = b * (2 + QK / 2);
    view.setUint16(dst, float16Bits(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = Math.fround(x[src + j]! * id);
      const x1 = Math.fround(x[src + QK / 2 + j]! * id);
      const q0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)));
      out[dst + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** Dequantizes Q8_0 / Q4_0 blocks (for round-trip checks). */
export function dequantize(type: 'Q8_0' | 'Q4_0', data: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bb = BLOCK_BYTES[type].bytes;
  for (let b = 0; b < n / QK; b++) {
    const d = fromHalfBits(view.getUint16(b * bb, true));
    for (let j = 0; j < QK; j++) {
      if (type === 'Q8_0') out[b * QK + j] = view.getInt8(b * bb + 2 + j) * d;
      else {
        const byte = data[b * bb + 2 + (j % 16)]!;
        const q = j < 16 ? byte & 0xf : byte >> 4;
        out[b * QK + j] = (q - 8) * d;
      }
    }
  }
  return out;
}

/** Bytes of a tensor in the given ggml type from its f32 values. */
export function encodeTensor(type: GgmlTypeName, x: Float32Array): Uint8Array {
  switch (type) {
    case 'F32':
      return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    case 'F16': {
      const h = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) h[i] = float16Bits(x[i]!);
      return new Uint8Array(h.buffer);
    }
    case 'Q8_0':
      return quantizeQ8_0(x);
    case 'Q4_0':
      return quantizeQ4_0(x);
  }
}
