import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { ModelLoadError } from './errors.js';

/** Where one tensor sits inside a .safetensors file. */
export interface SafetensorsEntry {
  readonly file: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Reads the JSON header of a .safetensors file (8-byte little-endian length, then JSON) without
 * touching the tensor data, so multi-GB files cost only their header to index.
 */
export function readSafetensorsHeader(file: string): Map<string, SafetensorsEntry> {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const lenBuf = Buffer.alloc(8);
    if (readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new ModelLoadError(`${file}: too short to be a safetensors file`);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen <= 0 || 8 + headerLen > size) {
      throw new ModelLoadError(`${file}: corrupt safetensors header length ${headerLen}`);
    }
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new ModelLoadError(`${file}: safetensors header is not JSON (${(e as Error).message})`);
    }
    const entries = new Map<string, SafetensorsEntry>();
    const dataStart = 8 + headerLen;
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const [begin, end] = info.data_offsets;
      if (dataStart + end > size) throw new ModelLoadError(`${file}: tensor "${name}" extends past the end of the file`);
      entries.set(name, { file, dtype: info.dtype, shape: info.shape, offset: dataStart + begin, byteLength: end - begin });
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

function bf16ToF32(src: Uint16Array, dst: Float32Array): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Reads one tensor's bytes from its file and upcasts F16/BF16 to a fresh Float32Array. */
export function readTensorF32(entry: SafetensorsEntry, name: string): Float32Array {
  const elemBytes = DTYPE_BYTES[entry.dtype];
  if (elemBytes === undefined) {
    throw new ModelLoadError(`${entry.file}: tensor "${name}" has dtype ${entry.dtype} (supported: F32, F16, BF16)`);
  }
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (count * elemBytes !== entry.byteLength) {
    throw new ModelLoadError(`${entry.file}: tensor "${name}" byte length ${entry.byteLength} does not match shape [${entry.shape}]`);
  }
  const out = new Float32Array(count);
  const fd = openSync(entry.file, 'r');
  try {
    const raw = entry.dtype === 'F32' ? new Uint8Array(out.buffer) : new Uint8Array(entry.byteLength);
    let done = 0;
    while (done < entry.byteLength) {
      const n = readSync(fd, raw, done, Math.min(entry.byteLength - done, 1 << 30), entry.offset + done);
      if (n <= 0) throw new ModelLoadError(`${entry.file}: unexpected end of file reading "${name}"`);
      done += n;
    }
    if (entry.dtype === 'BF16') bf16ToF32(new Uint16Array(raw.buffer, 0, count), out);
    else if (entry.dtype === 'F16') {
      const h = new Uint16Array(raw.buffer, 0, count);
      for (let i = 0; i < count; i++) out[i] = F16_TABLE[h[i]!]!;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
