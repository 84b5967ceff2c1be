import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { findArchitecture, SUPPORTED_ARCHITECTURES } from './architectures.js';
import type { ArchitectureSpec } from './architectures.js';
import { ModelLoadError } from './errors.js';

/** Rotary scaling from `rope_scaling` in config.json. */
export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

/** A Hugging Face config.json, normalised to what the graph builder needs. */
export interface ModelConfig {
  readonly architecture: ArchitectureSpec;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  readonly tieWordEmbeddings: boolean;
  readonly maxPositionEmbeddings: number;
  readonly hiddenAct: string;
  /** Keys further back than this many positions are masked (Mistral's sliding window); null = full attention. */
  readonly slidingWindow: number | null;
  /** Token ids that end generation, from config.json (tokenizer files may add more). */
  readonly eosTokenIds: readonly number[];
}

type Json = Record<string, unknown>;

function positiveInt(raw: Json, field: string, file: string, fallback?: number): number {
  const v = raw[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ModelLoadError(`${file}: field "${field}" must be a positive integer (got ${JSON.stringify(v)})`);
  }
  return v;
}

function positiveNumber(raw: Json, field: string, file: string, fallback: number): number {
  const v = raw[field] ?? fallback;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new ModelLoadError(`${file}: field "${field}" must be a positive number (got ${JSON.stringify(v)})`);
  }
  return v;
}

function parseRopeScaling(raw: unknown, file: string): RopeScaling {
  if (raw === null || raw === undefined) return { type: 'default' };
  if (typeof raw !== 'object') throw new ModelLoadError(`${file}: field "rope_scaling" must be an object or null`);
  const r = raw as Json;
  const type = (r['rope_type'] ?? r['type']) as unknown;
  const where = `${file} rope_scaling`;
  if (type === 'default') return { type: 'default' };
  if (type === 'linear') return { type: 'linear', factor: positiveNumber(r, 'factor', where, NaN) };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: positiveNumber(r, 'factor', where, NaN),
      lowFreqFactor: positiveNumber(r, 'low_freq_factor', where, NaN),
      highFreqFactor: positiveNumber(r, 'high_freq_factor', where, NaN),
      originalMaxPositionEmbeddings: positiveInt(r, 'original_max_position_embeddings', where),
    };
  }
  throw new ModelLoadError(
    `${file}: rope_scaling type ${JSON.stringify(type)} is not supported (supported: default, linear, llama3)`,
  );
}

function eosIds(raw: unknown): number[] {
  if (typeof raw === 'number') return [raw];
  if (Array.isArray(raw)) return raw.filter((x): x is number => typeof x === 'number');
  return [];
}

/** transformers ≥ 5 writes `rope_parameters` (theta included) where older versions wrote `rope_scaling`. */
function ropeParams(raw: Json): Json | undefined {
  const p = raw['rope_parameters'];
  return p && typeof p === 'object' ? (p as Json) : undefined;
}

function slidingWindow(raw: Json, arch: string): number | null {
  const w = raw['sliding_window'];
  if (typeof w !== 'number' || w <= 0) return null;
  // Qwen2 configs carry a sliding_window that is only active with use_sliding_window.
  if (arch.startsWith('Qwen') && raw['use_sliding_window'] !== true) return null;
  return w;
}

/** Reads and validates `config.json` from a Hugging Face model folder. */
export function loadModelConfig(dir: string): ModelConfig {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) throw new ModelLoadError(`${file}: missing (is "${dir}" a Hugging Face model folder?)`);
  let raw: Json;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new ModelLoadError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const archs = raw['architectures'];
  const archName = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (!archName) throw new ModelLoadError(`${file}: field "architectures" is missing`);
  const architecture = findArchitecture(archName);
  if (!architecture) {
    throw new ModelLoadError(
      `${file}: architecture "${archName}" is not supported (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`,
    );
  }
  const hiddenSize = positiveInt(raw, 'hidden_size', file);
  const numHeads = positiveInt(raw, 'num_attention_heads', file);
  const numKvHeads = positiveInt(raw, 'num_key_value_heads', file, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelLoadError(
      `${file}: num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`,
    );
  }
  const headDimRaw = raw['head_dim'];
  const headDim =
    headDimRaw === undefined || headDimRaw === null ? hiddenSize / numHeads : positiveInt(raw, 'head_dim', file);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ModelLoadError(`${file}: head_dim ${headDim} must be an even integer`);
  }
  const hiddenAct = String(raw['hidden_act'] ?? 'silu');
  if (hiddenAct !== 'silu') throw new ModelLoadError(`${file}: hidden_act "${hiddenAct}" is not supported (only silu)`);
  return {
    architecture,
    hiddenSize,
    numLayers: positiveInt(raw, 'num_hidden_layers', file),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: positiveInt(raw, 'intermediate_size', file),
    vocabSize: positiveInt(raw, 'vocab_size', file),
    rmsNormEps: positiveNumber(raw, 'rms_norm_eps', file, 1e-6),
    ropeTheta: positiveNumber(raw, 'rope_theta', file, ropeParams(raw)?.['rope_theta'] as number ?? 10000),
    ropeScaling: parseRopeScaling(raw['rope_scaling'] ?? ropeParams(raw), file),
    tieWordEmbeddings: raw['tie_word_embeddings'] === true,
    maxPositionEmbeddings: positiveInt(raw, 'max_position_embeddings', file, 2048),
    hiddenAct,
    slidingWindow: slidingWindow(raw, architecture.name),
    eosTokenIds: eosIds(raw['eos_token_id']),
  };
}
