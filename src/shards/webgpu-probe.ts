import { devNull } from 'node:os';
import { DeviceUnavailableError, type DeviceUnavailableReason } from './device-errors.js';
import { WEBGPU_EP, parsePlacement } from './ep-placement.js';
import { DType, OnnxGraphBuilder } from './graph/onnx-builder.js';
import { WeightFile } from './graph/weight-file.js';
import { runOrtChild } from './ort-child.js';

/** What the probe found: a working WebGPU adapter, and how long it took to find out. */
export interface WebGpuProbe {
  /** Wall time of the whole probe: spawning the child, loading ORT, the adapter, create and run. */
  readonly totalMs: number;
  /** The first WebGPU session's creation inside the child (includes adapter and device setup). */
  readonly createMs: number;
  /** Its first run. */
  readonly runMs: number;
  /** Whether an fp16 graph ran right with every node on the WebGPU EP (the adapter has shader-f16). */
  readonly fp16: boolean;
}

export interface ProbeOptions {
  /** The probe child's environment (default: this process's), e.g. with VK_DRIVER_FILES. */
  readonly env?: NodeJS.ProcessEnv;
  /** Gives up after this long (default 30 s): a broken driver can hang adapter setup. */
  readonly timeoutMs?: number;
}

const MARK = '@@arbor-probe';
const INPUT = [1, 2, 3, 4];

// Runs y = x + x on the WebGPU EP, then the same in fp16 with ORT's verbose log (for placement).
// ORT reports a missing adapter as a thrown error, but Dawn's reasons go only to native stderr.
const CHILD = `
const [ortUrl, f32, f16] = process.argv.slice(1);
const { default: ort } = await import(ortUrl);
const say = (o) => process.stdout.write('\\n${MARK} ' + JSON.stringify(o) + '\\n');
const message = (e) => String((e && e.message) || e);
const x = new ort.Tensor('float32', Float32Array.from(${JSON.stringify(INPUT)}), [${INPUT.length}]);
const open = (b64, extra) => ort.InferenceSession.create(Buffer.from(b64, 'base64'), { executionProviders: ['webgpu'], ...extra });
let t = performance.now();
let session;
try { session = await open(f32, {}); } catch (e) { say({ stage: 'create', error: message(e) }); process.exit(0); }
const createMs = performance.now() - t;
t = performance.now();
let y;
try { y = Array.from((await session.run({ x })).y.data); } catch (e) { say({ stage: 'run', error: message(e) }); process.exit(0); }
const runMs = performance.now() - t;
process.stderr.write('\\n${MARK} fp16\\n');
let y16 = null;
try { y16 = Array.from((await (await open(f16, { logSeverityLevel: 0 })).run({ x })).y.data); } catch {}
say({ createMs, runMs, y, y16 });
`;

interface ChildAnswer {
  readonly stage?: 'create' | 'run';
  readonly error?: string;
  readonly createMs: number;
  readonly runMs: number;
  readonly y: number[];
  readonly y16: number[] | null;
}

/**
 * Checks that onnxruntime-node's WebGPU EP can create a session and run it correctly here, before
 * any model is loaded. It runs in a short-lived child process, never in this one: ORT's and Dawn's
 * diagnostics go to native stderr (only a child's can be read), a broken driver may abort or hang
 * the process that touches it, and a successful probe would otherwise hold a GPU device open in
 * the caller. Costs one Node start plus ORT's load and adapter setup: about 0.3 s on lavapipe.
 *
 * @throws DeviceUnavailableError naming what is missing (Vulkan loader, driver, a usable adapter)
 *   and how to install or point to it.
 */
export async function probeWebGpu(options: ProbeOptions = {}): Promise<WebGpuProbe> {
  const env = options.env ?? process.env;
  const t0 = performance.now();
  const r = await runOrtChild(CHILD, [tinyModel(false), tinyModel(true)], { env, timeoutMs: options.timeoutMs ?? 30_000 });
  const totalMs = performance.now() - t0;
  const line = r.stdout.split('\n').findLast((l) => l.startsWith(`${MARK} `));
  const tail = r.stderr.slice(-4000);
  if (!line) {
    const how = r.timedOut ? `did not answer within ${options.timeoutMs ?? 30_000} ms` : `died (${r.signal ?? `exit code ${r.code}`})`;
    throw new DeviceUnavailableError('webgpu', 'probe-failed', `WebGPU probe: the process that set up the GPU ${how}; the GPU driver may be broken. Its stderr ends with:\n${tail}`, tail);
  }
  const a = JSON.parse(line.slice(MARK.length + 1)) as ChildAnswer;
  if (a.stage === 'create') throw unavailable(a.error!, r.stderr, env);
  if (a.stage === 'run') {
    throw new DeviceUnavailableError('webgpu', 'session-failed', `WebGPU probe: a WebGPU session was created but failed to run: ${firstLine(a.error!)}`, `${a.error}\n${tail}`);
  }
  const want = INPUT.map((v) => v + v);
  if (!sameValues(a.y, want)) {
    throw new DeviceUnavailableError('webgpu', 'session-failed', `WebGPU probe: x + x gave [${a.y}] instead of [${want}]: the GPU driver computes wrong results`, tail);
  }
  const fp16Log = r.stderr.slice(r.stderr.indexOf(`${MARK} fp16`));
  return { totalMs, createMs: a.createMs, runMs: a.runMs, fp16: a.y16 !== null && sameValues(a.y16, want) && allOnWebGpu(fp16Log) };
}

/** Turns a failed session creation into the error that says what to install or set. */
function unavailable(error: string, stderr: string, env: NodeJS.ProcessEnv): DeviceUnavailableError {
  const detail = `${error}\n${stderr.slice(-4000)}`;
  const icd = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  const where = icd ? `VK_DRIVER_FILES is ${icd}` : 'VK_DRIVER_FILES is not set';
  const install =
    'On Debian 12 without a GPU, install Mesa 25\'s software driver: add bookworm-backports to apt\'s sources, ' +
    '`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`, and set ' +
    'VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json. With a GPU, install its Vulkan driver and point ' +
    'VK_DRIVER_FILES at its ICD file (NVIDIA: nvidia_icd.json)';
  const make = (reason: DeviceUnavailableReason, what: string) => new DeviceUnavailableError('webgpu', reason, `WebGPU unavailable: ${what}`, detail);
  const loader = stderr.match(/Couldn't load Vulkan: (.*)/);
  if (loader) {
    return make('no-vulkan-loader', `the Vulkan loader libvulkan.so.1 could not be loaded (${loader[1]!.trim()}). Install it (Debian/Ubuntu: apt-get install libvulkan1) and a Vulkan driver. ${install}.`);
  }
  if (/Found no drivers|VK_ERROR_INCOMPATIBLE_DRIVER/.test(stderr)) {
    return make('no-vulkan-driver', `the Vulkan loader found no driver (${where}). ${install}.`);
  }
  const rejected = stderr.match(/Warning: (.*)\n\s*- While initializing adapter/);
  if (rejected) {
    return make(
      'unsupported-driver',
      `Dawn rejected the Vulkan driver (${rejected[1]!.trim()}; ${where}). Mesa's lavapipe must be version 25 or newer: Debian 12's own Mesa 22 is rejected. ${install}.`,
    );
  }
  if (/No supported adapters|WebGPU adapter/.test(error)) {
    const hint = process.platform === 'linux' ? `${install}` : 'Install or update the GPU driver (D3D12 on Windows, Metal on macOS)';
    return make('no-adapter', `ORT found no WebGPU adapter (${firstLine(error)}; ${where}). ${hint}.`);
  }
  return new DeviceUnavailableError('webgpu', 'session-failed', `WebGPU probe: ORT could not create a WebGPU session: ${firstLine(error)}`, detail);
}

/** y = x + x over float[4], in fp32 or (cast inside the graph) fp16, as base64 ONNX. */
function tinyModel(fp16: boolean): string {
  // Nothing is large enough to go to external data, so the weight file is never written.
  const weights = new WeightFile(devNull);
  const b = new OnnxGraphBuilder('probe', weights);
  const x = b.input('x', DType.float, [INPUT.length]);
  const h = fp16 ? b.op('Cast', [x], { to: DType.float16 }) : x;
  const sum = b.op('Add', [h, h]);
  b.output(fp16 ? b.op('Cast', [sum], { to: DType.float }) : sum, 'y', DType.float, [INPUT.length]);
  weights.close();
  return Buffer.from(b.encode()).toString('base64');
}

function allOnWebGpu(log: string): boolean {
  try {
    const eps = Object.keys(parsePlacement(log).counts);
    return eps.length === 1 && eps[0] === WEBGPU_EP;
  } catch {
    return false;
  }
}

function sameValues(got: readonly number[], want: readonly number[]): boolean {
  return got.length === want.length && got.every((v, i) => v === want[i]);
}

/** The readable part of an ORT error: without its source path and, for failed checks, the C++ condition. */
function firstLine(s: string): string {
  const line = s.replace(/^\/onnxruntime_src\/\S+ /, '').split('\n')[0]!.trim();
  return line.match(/ was false\. (.*)$/)?.[1] ?? line;
}
