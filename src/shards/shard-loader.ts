import ort from 'onnxruntime-node';
import { mkdirSync, writeFileSync, existsSync, readFileSync, renameSync, rmSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { defaultCacheDir } from './cache-dir.js';
import { loadModelConfig } from '../model/config.js';
import type { ModelConfig } from '../model/config.js';
import { WeightStore } from '../model/weights.js';
import { planShard } from './shard-layout.js';
import { buildShardGraphs } from './graph/transformer.js';
import { GraphInput, type GraphSegment } from './graph/segment-emitter.js';
import { WebGpuShardRuntime } from './webgpu-runtime.js';
import { GpuRunLock } from './gpu-run-lock.js';
import { probeWebGpu } from './webgpu-probe.js';

/** One probe per thread: a missing adapter must be a clear error, never a crash inside ORT. */
let webgpuProbe: Promise<unknown> | null = null;
import type { ShardCompute } from './shard-compute.js';
import { WeightFile } from './graph/weight-file.js';
import type { ShardDevice, ShardDType } from './device.js';
import { ShardRuntime } from './shard-runtime.js';
import type { LoadedSegment } from './shard-runtime.js';

/** Bump when the emitted graphs change, so stale cached sessions are never reused. */
const GRAPH_VERSION = 6;

/** How to load one tensor-parallel shard. */
export interface ShardLoadOptions {
  readonly modelDir: string;
  readonly tp: number;
  readonly rank: number;
  /** WebGPU: the process-wide lock word serializing GPU runs (see GpuRunLock); default: one per thread. */
  readonly gpuLock?: SharedArrayBuffer;
  /** Where the shard computes (default 'cpu'). */
  readonly device?: ShardDevice;
  readonly dtype: ShardDType;
  /** KV slots (tokens) in this shard's pool. */
  readonly kvSlots: number;
  /** ORT intra-op threads for this shard. */
  readonly threads: number;
  /** Root of the on-disk graph/session cache (default: $ARBOR_CACHE_DIR or ~/.cache/arbor). */
  readonly cacheDir?: string;
  readonly onProgress?: (p: { phase: string; done: number; total: number }) => void;
}


interface CacheManifest {
  readonly segments: Omit<GraphSegment, 'model'>[];
}

/** A key over everything the built graphs depend on: checkpoint files (name, size, mtime), shard, device, dtype, ORT version. */
function cacheKey(o: ShardLoadOptions): string {
  const files = readdirSync(o.modelDir)
    .filter((f) => f.endsWith('.json') || f.endsWith('.safetensors'))
    .sort()
    .map((f) => {
      const st = statSync(join(o.modelDir, f));
      return `${f}:${st.size}:${st.mtimeMs}`;
    });
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: GRAPH_VERSION, ort: ort.env.versions.common, files, tp: o.tp, rank: o.rank, device: o.device ?? 'cpu', dtype: o.dtype }));
  return h.digest('hex').slice(0, 24);
}

/**
 * The device seam's session options. CPU: the arena, intra-op threads, and (see openSegment) a
 * cached optimized graph with pre-packed weights. WebGPU: every KV pool output stays on the GPU.
 */
function sessionOptions(o: ShardLoadOptions, spec?: Omit<GraphSegment, 'model'>): ort.InferenceSession.SessionOptions {
  if (o.device === 'webgpu') {
    return {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      preferredOutputLocation: Object.fromEntries((spec?.kvLayers ?? []).map((l) => [GraphInput.kvPoolOut(l), 'gpu-buffer' as const])),
    };
  }
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    // ORT warns that an optimized model is machine-specific; the cache is per machine by design.
    logSeverityLevel: 3,
  };
}

/**
 * Opens a segment's session. The first open saves ORT's optimized graph with its pre-packed weights
 * beside the built graph (machine-specific, hence a local cache); later opens load that directly.
 */
async function openSegment(o: ShardLoadOptions, dir: string, spec: Omit<GraphSegment, 'model'>): Promise<ort.InferenceSession> {
  const index = spec.index;
  // Pre-packed optimized graphs are the CPU EP's; WebGPU sessions open the built graph.
  if (o.device === 'webgpu') return ort.InferenceSession.create(join(dir, `seg${index}.onnx`), sessionOptions(o, spec));
  const optimized = join(dir, `seg${index}.opt.onnx`);
  const done = join(dir, `seg${index}.opt.ok`);
  if (existsSync(done)) return ort.InferenceSession.create(optimized, sessionOptions(o));
  const session = await ort.InferenceSession.create(join(dir, `seg${index}.onnx`), {
    ...sessionOptions(o),
    optimizedModelFilePath: optimized,
    extra: {
      session: {
        save_external_prepacked_constant_initializers: '1',
        optimized_model_external_initializers_file_name: `seg${index}.opt.bin`,
        optimized_model_external_initializers_min_size_in_bytes: '1024',
      },
    },
  });
  writeFileSync(done, '');
  return session;
}

/**
 * Builds (or reuses from the cache) a shard's graphs and opens their sessions. Graphs and their
 * external weights are written once per model × shard × dtype; later starts skip building.
 */
export async function loadShard(o: ShardLoadOptions): Promise<ShardCompute> {
  if (o.device === 'webgpu') {
    webgpuProbe ??= probeWebGpu();
    webgpuProbe.catch(() => (webgpuProbe = null));
    await webgpuProbe;
  }
  const cfg: ModelConfig = loadModelConfig(o.modelDir);
  const layout = planShard(cfg, o.tp, o.rank);
  const dir = join(o.cacheDir ?? defaultCacheDir(), `${cacheKey(o)}-tp${o.tp}r${o.rank}-${o.device ?? 'cpu'}-${o.dtype}`);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) buildIntoCache(o, cfg, layout, dir, manifestPath);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CacheManifest;
  const loaded: LoadedSegment[] = [];
  for (const spec of manifest.segments) {
    o.onProgress?.({ phase: `shard ${o.rank}: opening sessions`, done: spec.index, total: manifest.segments.length });
    const session = await openSegment(o, dir, spec);
    loaded.push({ spec, session });
  }
  o.onProgress?.({ phase: `shard ${o.rank}: opening sessions`, done: manifest.segments.length, total: manifest.segments.length });
  if (o.device === 'webgpu') return new WebGpuShardRuntime(cfg, layout, loaded, o.kvSlots, o.dtype !== 'fp32', o.gpuLock && new GpuRunLock(o.gpuLock));
  return new ShardRuntime(cfg, layout, loaded, o.kvSlots);
}

function buildIntoCache(
  o: ShardLoadOptions,
  cfg: ModelConfig,
  layout: ReturnType<typeof planShard>,
  dir: string,
  manifestPath: string,
): void {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    o.onProgress?.({ phase: `shard ${o.rank}: building graphs`, done: 0, total: 1 });
    const weights = WeightStore.open(o.modelDir);
    const file = new WeightFile(join(tmp, 'weights.bin'));
    let segments: GraphSegment[];
    try {
      segments = buildShardGraphs(cfg, weights, layout, { device: o.device ?? 'cpu', dtype: o.dtype }, file);
    } finally {
      file.close();
    }
    for (const s of segments) writeFileSync(join(tmp, `seg${s.index}.onnx`), s.model);
    const manifest: CacheManifest = { segments: segments.map(({ model: _m, ...spec }) => spec) };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    o.onProgress?.({ phase: `shard ${o.rank}: building graphs`, done: 1, total: 1 });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!existsSync(manifestPath)) throw new Error(`graph cache ${dir} has no manifest after building`);
}
