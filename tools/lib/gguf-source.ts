/**
 * Reads the source of a GGUF conversion: a Hugging Face folder's config.json and the F32 tensors of
 * its model.safetensors (one tensor at a time, straight from the file).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

export interface HfConfig {
  readonly architectures: readonly string[];
  readonly model_type: string;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_attention_heads: number;
  readonly num_hidden_layers: number;
  readonly num_key_value_heads: number;
  readonly max_position_embeddings: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  readonly vocab_size: number;
  readonly tie_word_embeddings?: boolean;
  readonly bos_token_id?: number;
  readonly eos_token_id?: number | number[];
  readonly head_dim?: number;
}

export function readHfConfig(dir: string): HfConfig {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as HfConfig;
}

interface Entry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly byteLength: number;
}

/** An open .safetensors file whose F32 tensors can be read by name. */
export class SafetensorsSource {
  private readonly fd: number;
  readonly entries = new Map<string, Entry>();

  constructor(readonly path: string) {
    if (!existsSync(path)) throw new Error(`${path} not found`);
    this.fd = openSync(path, 'r');
    const len = Buffer.alloc(8);
    readSync(this.fd, len, 0, 8, 0);
    const headerLen = Number(len.readBigUInt64LE(0));
    const header = Buffer.alloc(headerLen);
    readSync(this.fd, header, 0, headerLen, 8);
    const json = JSON.parse(header.toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    for (const [name, info] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      const [b, e] = info.data_offsets;
      this.entries.set(name, { dtype: info.dtype, shape: info.shape, offset: 8 + headerLen + b, byteLength: e - b });
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The tensor's values (F32 only: the benchmark models are written as F32). */
  read(name: string): { shape: readonly number[]; data: Float32Array } {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.path}: no tensor ${name}`);
    if (e.dtype !== 'F32') throw new Error(`${name}: dtype ${e.dtype}; only F32 sources are supported`);
    const data = new Float32Array(e.byteLength / 4);
    const bytes = new Uint8Array(data.buffer);
    let done = 0;
    while (done < e.byteLength) {
      const n = readSync(this.fd, bytes, done, Math.min(e.byteLength - done, 1 << 30), e.offset + done);
      if (n <= 0) throw new Error(`${name}: short read`);
      done += n;
    }
    return { shape: e.shape, data };
  }

  close(): void {
    closeSync(this.fd);
  }
}
