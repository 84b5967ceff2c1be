import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader, readTensorF32 } from './safetensors.js';
import type { SafetensorsEntry } from './safetensors.js';
import { ModelLoadError } from './errors.js';

/** A row-major float32 tensor. */
export interface F32Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/**
 * The checkpoint's tensors, indexed across one or many .safetensors files; each tensor is read from
 * disk only when asked for, so no whole file ever sits in the JS heap.
 */
export class WeightStore {
  private constructor(
    readonly dir: string,
    private readonly entries: Map<string, SafetensorsEntry>,
  ) {}

  /** Indexes `model.safetensors`, or the files named by `model.safetensors.index.json`, or every `*.safetensors`. */
  static open(dir: string): WeightStore {
    const indexFile = join(dir, 'model.safetensors.index.json');
    let files: string[];
    if (existsSync(indexFile)) {
      let weightMap: Record<string, string>;
      try {
        weightMap = (JSON.parse(readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
      } catch (e) {
        throw new ModelLoadError(`${indexFile}: not valid JSON (${(e as Error).message})`);
      }
      if (!weightMap || typeof weightMap !== 'object') throw new ModelLoadError(`${indexFile}: field "weight_map" is missing`);
      files = [...new Set(Object.values(weightMap))].map((f) => join(dir, f));
      for (const f of files) if (!existsSync(f)) throw new ModelLoadError(`${f}: listed in ${indexFile} but missing`);
    } else {
      files = existsSync(dir)
        ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(dir, f))
        : [];
      if (files.length === 0) throw new ModelLoadError(`${dir}: no *.safetensors weights found`);
    }
    const entries = new Map<string, SafetensorsEntry>();
    for (const f of files) for (const [name, e] of readSafetensorsHeader(f)) entries.set(name, e);
    return new WeightStore(dir, entries);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Reads a tensor as float32 and checks its shape; a missing tensor or wrong shape names both. */
  get(name: string, expectedShape: readonly number[]): F32Tensor {
    const entry = this.entries.get(name);
    if (!entry) throw new ModelLoadError(`${this.dir}: tensor "${name}" is missing from the checkpoint`);
    if (entry.shape.length !== expectedShape.length || entry.shape.some((d, i) => d !== expectedShape[i])) {
      throw new ModelLoadError(
        `${entry.file}: tensor "${name}" has shape [${entry.shape}], expected [${expectedShape}] from config.json`,
      );
    }
    return { data: readTensorF32(entry, name), shape: entry.shape };
  }
}
