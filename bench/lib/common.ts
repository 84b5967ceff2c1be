/**
 * Shared pieces of the benchmark programs: paths, the machine line, statistics, deterministic token
 * ids, the interleaved (A B A B …) pair loop and the "others' CPU" meter.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OtherCpuMeter, waitForQuiet } from '../../tools/lib/cpu-load.js';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
export const PEERS_DIR = join(BENCH_DIR, 'peers');

export type ArborDType = 'fp32' | 'q8' | 'q4';
export const GGUF_TYPE: Record<ArborDType, 'f32' | 'q8_0' | 'q4_0'> = { fp32: 'f32', q8: 'q8_0', q4: 'q4_0' };

export function modelDir(name: string): string {
  return join(BENCH_DIR, 'models', name);
}

export function ggufPath(name: string, dtype: ArborDType): string {
  const p = join(modelDir(name), `${name}-${GGUF_TYPE[dtype]}.gguf`);
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: run  npx tsx tools/make-bench-gguf.ts ${name} --type ${GGUF_TYPE[dtype]}`);
  }
  return p;
}

export interface ModelConfig {
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_attention_heads: number;
  readonly num_hidden_layers: number;
  readonly num_key_value_heads: number;
  readonly vocab_size: number;
  readonly tie_word_embeddings?: boolean;
  readonly eos_token_id?: number | number[];
  readonly architectures: string[];
}

export function readConfig(name: string): ModelConfig {
  return JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8')) as ModelConfig;
}

/** Parameter counts of the matmuls: per-token transformer layers, and the LM head. */
export function matmulParams(cfg: ModelConfig): { layers: number; lmHead: number } {
  const H = cfg.hidden_size;
  const d = H / cfg.num_attention_heads;
  const q = cfg.num_attention_heads * d;
  const kv = cfg.num_key_value_heads * d;
  const perLayer = H * q + 2 * H * kv + q * H + 3 * H * cfg.intermediate_size;
  return { layers: perLayer * cfg.num_hidden_layers, lmHead: cfg.vocab_size * H };
}

/** Bytes per weight of arbor's matmul formats (MatMulNBits: packed values + fp32 scale + uint8 zero point per block). */
export function arborBytesPerWeight(dtype: ArborDType): number {
  if (dtype === 'fp32') return 4;
  if (dtype === 'q8') return 1 + 4 / 32 + 1 / 32;
  return 0.5 + 4 / 128 + 0.5 / 128;
}

function pkgVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/**
 * Which arbor is measured: with $ARBOR_DIST, the COMMIT file beside that build's dist/ (written by
 * whoever built it), else this checkout's HEAD (+dirty when src/ has uncommitted changes).
 */
export function arborVersion(): string {
  const dist = process.env['ARBOR_DIST'];
  if (dist) {
    const f = join(dirname(dirname(dist.replace(/^file:\/\//, ''))), 'COMMIT');
    return existsSync(f) ? `arbor ${readFileSync(f, 'utf8').trim()} (${dist})` : `arbor from ${dist}`;
  }
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_DIR, encoding: 'utf8' }).trim() !== '';
    return `arbor ${head}${dirty ? '+dirty src' : ''}`;
  } catch {
    return 'arbor (unknown commit)';
  }
}

/**
 * arbor's graph/session cache folder for a benchmark engine. q8/q4: a fresh folder per engine —
 * sessions reloaded from arbor's cache (the saved pre-packed MatMulNBits model) produced
 * non-finite / wrong logits at commits 354b084 and 46674d9 (reported to the lead); fp32 reloads
 * correctly and uses the default cache.
 */
export function arborCacheDir(dtype: ArborDType): { cacheDir?: string } {
  if (dtype === 'fp32' || process.env['ARBOR_BENCH_SHARED_CACHE']) return {};
  const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-cache-'));
  if (freshCaches.length === 0) process.once('exit', () => freshCaches.forEach((d) => rmSync(d, { recursive: true, force: true })));
  freshCaches.push(dir);
  return { cacheDir: dir };
}
const freshCaches: string[] = [];

/** CPU, cores, memory, Node, onnxruntime-node and node-llama-cpp versions. */
export function machineLine(): string {
  const ort = pkgVersion(join(REPO_DIR, 'node_modules', 'onnxruntime-node', 'package.json'));
  const nlc = pkgVersion(join(PEERS_DIR, 'node_modules', 'node-llama-cpp', 'package.json'));
  return `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, onnxruntime-node ${ort}, node-llama-cpp ${nlc}; ${arborVersion()}`;
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const min = (xs: readonly number[]) => Math.min(...xs);
export const max = (xs: readonly number[]) => Math.max(...xs);

export { TokenIds } from './token-ids.mjs';

export function specialIds(cfg: ModelConfig): Set<number> {
  const e = cfg.eos_token_id;
  return new Set(Array.isArray(e) ? e : e === undefined ? [] : [e]);
}

/** One measurement of one system in one pair. */
export interface Sample {
  /** The headline metric (higher is better unless the workload says otherwise). */
  readonly value: number;
  /** Other numbers worth keeping (latencies, counts). */
  readonly extra?: Record<string, number | string | boolean>;
}

export interface SystemUnderTest {
  readonly name: string;
  run(pair: number): Promise<Sample>;
}

export interface PairedResult {
  readonly samples: Map<string, Sample[]>;
  /** Share of the machine (0–1) other processes used during each system's runs. */
  readonly others: Map<string, number[]>;
}

/**
 * Runs warm-up once per system, then `pairs` rounds of every system in order (A B A B …). Before
 * each round it waits up to `quietWaitMs` for a second in which other processes use < 10% of the
 * machine (this box is shared), and it records the share they used during each run; a run that
 * saw more than `maxOthers` is repeated in place (up to `attempts` in all), keeping the quietest.
 */
export async function interleave(
  systems: readonly SystemUnderTest[],
  pairs: number,
  opts: { warmup?: boolean; quietWaitMs?: number; maxOthers?: number; attempts?: number; log?: (line: string) => void } = {},
): Promise<PairedResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const samples = new Map<string, Sample[]>(systems.map((s) => [s.name, []]));
  const others = new Map<string, number[]>(systems.map((s) => [s.name, []]));
  const maxOthers = opts.maxOthers ?? 0.25;
  const attempts = opts.attempts ?? 3;
  if (opts.warmup ?? true) {
    for (const s of systems) {
      const t0 = performance.now();
      await s.run(-1);
      log(`  warm-up ${s.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const quietWaitMs = opts.quietWaitMs ?? 30_000;
  for (let p = 0; p < pairs; p++) {
    await waitForQuiet(0.1, quietWaitMs);
    for (const s of systems) {
      // Same round, same inputs on a retry.
      const best = await quietestRun(
        async () => {
          const t0 = performance.now();
          return { r: await s.run(p), seconds: (performance.now() - t0) / 1000 };
        },
        {
          attempts,
          maxOthers,
          quietWaitMs,
          onAttempt: ({ r, seconds }, share, a) =>
            log(`  pair ${p + 1}/${pairs}${a ? ` (retry ${a})` : ''} ${s.name}: ${fmt(r.value)} (${seconds.toFixed(1)} s, others' CPU ${(share * 100).toFixed(0)}%)`),
        },
      );
      samples.get(s.name)!.push(best.result.r);
      others.get(s.name)!.push(best.share);
    }
  }
  return { samples, others };
}

/**
 * Runs `attempt` again (up to `attempts` tries, each retry after a quiet second) while other
 * processes used more than `maxOthers` of the machine during it, and returns the quietest try.
 */
export async function quietestRun<T>(
  attempt: () => Promise<T>,
  opts: { attempts: number; maxOthers: number; quietWaitMs: number; onAttempt?: (result: T, share: number, retry: number) => void },
): Promise<{ result: T; share: number }> {
  let best: { result: T; share: number } | null = null;
  for (let a = 0; a < opts.attempts; a++) {
    if (a > 0) await waitForQuiet(0.1, opts.quietWaitMs);
    const meter = OtherCpuMeter.start();
    const result = await attempt();
    const share = meter.otherShare();
    opts.onAttempt?.(result, share, a);
    if (!best || share < best.share) best = { result, share };
    if (!(share > opts.maxOthers)) break;
  }
  return best!;
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  return x.toPrecision(digits);
}

/** Per-pair ratios a/b (values of two systems measured in the same pair). */
export function ratios(a: readonly Sample[], b: readonly Sample[]): number[] {
  return a.map((s, i) => s.value / b[i]!.value);
}

export async function importArbor(): Promise<typeof import('../../dist/index.js')> {
  const spec = process.env['ARBOR_DIST'];
  if (spec) return (await import(spec.startsWith('/') ? pathToFileURL(spec).href : spec)) as typeof import('../../dist/index.js');
  return import('../../dist/index.js');
}

export function parseIntList(s: string): number[] {
  return s.split(',').map((x) => Number(x.trim()));
}
