import { closeSync, openSync, renameSync, writeSync } from 'node:fs';

/** One F32 tensor to write: its name, shape, and a producer that fills successive chunks of its data. */
export interface F32TensorSource {
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * Called with consecutive chunks covering the tensor in row-major order; each call must fill the
   * whole chunk. Chunks let multi-hundred-MB tensors be written without holding them in memory.
   */
  readonly fill: (chunk: Float32Array) => void;
}

/** Elements generated and written per write call (4 MiB of float32). */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * Writes a `.safetensors` file (8-byte little-endian header length, JSON header
 * `{name: {dtype, shape, data_offsets}}`, then the raw data) tensor by tensor, so neither the file
 * nor any whole tensor sits in memory. Writes to `path.tmp` and renames, so an interrupted run never
 * leaves a truncated file under the final name.
 */
export function writeSafetensorsF32(
  path: string,
  tensors: readonly F32TensorSource[],
  onTensor?: (index: number, total: number, name: string) => void,
): void {
  const header: Record<string, { dtype: 'F32'; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = 4 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // The format pads the header with spaces so the data starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, prefix);
    writeAll(fd, headerBytes);
    const chunk = new Float32Array(CHUNK_ELEMENTS);
    tensors.forEach((t, i) => {
      onTensor?.(i, tensors.length, t.name);
      let left = t.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const part = left >= CHUNK_ELEMENTS ? chunk : chunk.subarray(0, left);
        t.fill(part);
        writeAll(fd, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
        left -= part.length;
      }
    });
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done);
}
