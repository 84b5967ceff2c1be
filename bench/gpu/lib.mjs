/**
 * What bench/gpu/arbor-gpu.mjs and bench/gpu/report.mjs share: the workload presets, the token ids
 * every workload feeds (bench/gpu/hf_peer.py draws the same ones), FLOP counts, statistics, the
 * machine line, GPU memory readings and the JSON-lines output. Plain JavaScript: on the GPU machine
 * these run under a bare carried `node`, without tsx.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenIds } from '../lib/token-ids.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {{ kvCacheTokens: number, maxRunningRequests: number }} EnginePreset
 * @typedef {{ groups: number, prefix: number, suffixes: number, suffixLen: number, seed: number, seedStride: number, hfFullBatch: number }} W1Preset
 * @typedef {{ requests: number, promptLen: number, outputLen: number, seed: number, seedStride: number }} W2Preset
 * @typedef {{ promptLen: number, outputLen: number, seed: number, seedStride: number }} W3Preset
 * @typedef {{ promptLen: number, seed: number, seedStride: number, matmul: number }} PrefillPreset
 * @typedef {{ promptLen: number, firstSteps: number, steps: number, requestTokens: number, maxSeconds: number, seed: number, seedStride: number }} MemPreset
 * @typedef {{ engine: EnginePreset, w1: W1Preset, w2: W2Preset, w3: W3Preset, prefill: PrefillPreset, mem: MemPreset }} Preset
 */

/** The sizes of every workload, by preset name ("full" = issue 19's definitions, "tiny" = a lavapipe smoke run). */
export function loadPreset(name) {
  /** @type {Record<string, Preset>} */
  const all = JSON.parse(readFileSync(join(HERE, 'workloads.json'), 'utf8'));
  const preset = all[name];
  if (!preset) throw new Error(`--preset ${name}: not in bench/gpu/workloads.json (${Object.keys(all).join(', ')})`);
  return preset;
}

/**
 * @typedef {{ hidden_size: number, intermediate_size: number, num_attention_heads: number, num_key_value_heads: number,
 *   num_hidden_layers: number, vocab_size: number, head_dim?: number, eos_token_id?: number | number[] }} HfConfig
 */

/** @param {string} modelDir @returns {HfConfig} */
export function readHfConfig(modelDir) {
  return JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
}

/** The EOS ids, which prompts avoid so that no prompt ends a request early. */
export function specialIds(cfg) {
  const e = cfg.eos_token_id;
  return new Set(Array.isArray(e) ? e : e === undefined ? [] : [e]);
}

const ids = (cfg, seed) => new TokenIds(seed, cfg.vocab_size, specialIds(cfg));

/** W1's prefixes and suffixes for one round: one generator, per group the prefix then its suffixes. */
export function w1Data(cfg, w1, round) {
  const g = ids(cfg, w1.seed + round * w1.seedStride);
  const prefixes = [];
  const suffixes = [];
  for (let i = 0; i < w1.groups; i++) {
    prefixes.push(g.take(w1.prefix));
    suffixes.push(Array.from({ length: w1.suffixes }, () => g.take(w1.suffixLen)));
  }
  return { prefixes, suffixes };
}

/** W2's prompts for one round. */
export function w2Prompts(cfg, w2, round) {
  const g = ids(cfg, w2.seed + round * w2.seedStride);
  return Array.from({ length: w2.requests }, () => g.take(w2.promptLen));
}

/** A single prompt (W3, prefill) for one round. */
export function singlePrompt(cfg, spec, round) {
  return ids(cfg, spec.seed + round * spec.seedStride).take(spec.promptLen);
}

/**
 * FLOPs of a cold prefill of `tokens` tokens: 2 × matmul parameters × tokens for the transformer
 * layers, the LM head on the one position it runs on, and the attention products (QKᵀ and PV,
 * causal: token i attends to i + 1 positions), which bench/workloads/limits.ts leaves out but which
 * are 11% (bench-500m) to 25% (bench-135m) of the total at 2,048 tokens.
 */
export function prefillFlops(cfg, tokens) {
  const H = cfg.hidden_size;
  const d = cfg.head_dim ?? H / cfg.num_attention_heads;
  const q = cfg.num_attention_heads * d;
  const kv = cfg.num_key_value_heads * d;
  const perLayer = H * q + 2 * H * kv + q * H + 3 * H * cfg.intermediate_size;
  const matmul = 2 * perLayer * cfg.num_hidden_layers * tokens + 2 * cfg.vocab_size * H;
  const attention = 2 * 2 * q * ((tokens * (tokens + 1)) / 2) * cfg.num_hidden_layers;
  return { total: matmul + attention, matmul, attention };
}

/** @param {readonly number[]} xs */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** @param {readonly number[]} xs @param {number} p */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** A number for a table: integers as they are, else 3 significant digits, no exponent for large values. */
export function fmt(x) {
  if (typeof x !== 'number' || !Number.isFinite(x) || Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  return x.toPrecision(3);
}

/** Output of a command, or null when it is missing or fails (nvidia-smi on a machine without one). */
function tryRun(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

/** GPU name and driver from nvidia-smi, or the Vulkan driver file in use (lavapipe), or "no GPU". */
export function gpuLine() {
  const smi = tryRun('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  if (smi) return smi.split('\n')[0];
  const icd = process.env['VK_DRIVER_FILES'];
  return icd ? `Vulkan ICD ${icd.split('/').pop()}` : 'no GPU';
}

/** CPU, cores, memory, Node, GPU, the arbor commit under test ($ARBOR_COMMIT, written by bench/gpu/build.sh). */
export function machineLine(ortVersion) {
  const commit = process.env['ARBOR_COMMIT'] ?? tryRun('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  return `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${gpuLine()}, Node ${process.version}, onnxruntime-node ${ortVersion}; arbor ${commit}`;
}

/**
 * GPU memory in use, MiB. ORT exposes no WebGPU memory figure, so it is read from nvidia-smi: this
 * process's own row when nvidia-smi lists it (`source: 'process'`), else the whole GPU's used memory
 * (`'gpu-total'`: includes other processes, so run nothing else on the GPU meanwhile). Without
 * nvidia-smi (lavapipe, whose "GPU" memory is host memory) it is this process's RSS (`'rss'`).
 */
export function gpuMemoryMiB() {
  const apps = tryRun('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits']);
  if (apps !== null) {
    const own = apps
      .split('\n')
      .map((l) => l.split(',').map((x) => x.trim()))
      .filter(([pid]) => Number(pid) === process.pid);
    if (own.length) return { mib: own.reduce((s, [, m]) => s + Number(m), 0), source: 'process' };
    const total = tryRun('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits']);
    if (total) return { mib: Number(total.split('\n')[0]), source: 'gpu-total' };
  }
  return { mib: process.memoryUsage().rss / 2 ** 20, source: 'rss' };
}

/** Appends result rows to a JSON-lines file (and echoes them to stdout). */
export class JsonlOut {
  /** @param {string | undefined} path @param {Record<string, unknown>} common fields every row carries */
  constructor(path, common) {
    this.path = path;
    this.common = common;
  }

  /** @param {Record<string, unknown>} row */
  emit(row) {
    const line = JSON.stringify({ ...this.common, ...row, time: new Date().toISOString() });
    if (this.path) appendFileSync(this.path, `${line}\n`);
    console.log(line);
  }
}

/** Seconds since the epoch at which a script must stop starting work (`--deadline`), or Infinity. */
export function deadlineFrom(arg) {
  if (arg === undefined) return Infinity;
  const d = Number(arg);
  if (!Number.isFinite(d)) throw new Error(`--deadline must be seconds since the epoch (got ${arg})`);
  return d;
}

export const nowS = () => Date.now() / 1000;
