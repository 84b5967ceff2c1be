/**
 * Issue 19's whole GPU benchmark set in one command (bench/gpu/run-all.sh starts it; README.md).
 * Writes the benchmark models as HF folders (tools/make-bench-model.ts, compiled by
 * bench/gpu/build.sh into .carry/bench-tools/), then runs, per model, rounds of every system in
 * turn (arbor webgpu fp16, HF eager fp32, arbor webgpu fp32, HF eager bf16, arbor cpu), each a fresh
 * process of bench/gpu/arbor-gpu.mjs or bench/gpu/hf_peer.py, so that every system of a round sees
 * the same inputs and the same machine state (A B C … A B C …); after the first round, the
 * 10,000-step memory run. Everything lands in OUT/gpu-bench.jsonl, the log in OUT/gpu-bench.log, and
 * report.mjs's tables in OUT/gpu-bench.md.
 *
 * A time budget bounds the whole run: a phase starts only when the time it took in the previous
 * round (30 s before its first) still fits, every child gets the deadline (it starts no workload
 * after it) and is killed 30 s past it. Rounds beyond the budget are skipped and said so.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'bench-135m,bench-500m' },
    'model-dir': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '1' },
    preset: { type: 'string', default: 'full' },
    'budget-s': { type: 'string', default: '510' },
    systems: { type: 'string', default: 'arbor:webgpu:fp16,hf:fp32,arbor:webgpu:fp32,hf:bf16,arbor:cpu:fp32' },
    mem: { type: 'string', default: 'webgpu:fp16' },
    out: { type: 'string', default: process.env['OUT'] || join(REPO, 'bench', 'results', 'gpu') },
    work: { type: 'string', default: '/tmp/arbor-gpu-bench' },
    python: { type: 'string', default: 'python3' },
    tools: { type: 'string', default: join(REPO, '.carry', 'bench-tools') },
  },
});

const t0 = Date.now() / 1000;
const deadline = t0 + Number(args['budget-s']);
const rounds = Number(args.rounds);
mkdirSync(args.out, { recursive: true });
const jsonl = join(args.out, 'gpu-bench.jsonl');
const logFile = createWriteStream(join(args.out, 'gpu-bench.log'), { flags: 'a' });
const log = (line) => {
  const l = `[run-all +${(Date.now() / 1000 - t0).toFixed(0)}s] ${line}\n`;
  process.stderr.write(l);
  logFile.write(l);
};

/**
 * @typedef {{ label: string, key: string, argv: (model: string, name: string, round: number) => [string, string[]], repeatable: boolean }} Phase
 */

/** One system of a round: which program, with which flags. @returns {Phase} */
function systemPhase(spec) {
  const [engine, a, b] = spec.split(':');
  const common = (model, name, round) => ['--model', model, '--name', name, '--preset', args.preset, '--round', String(round), '--out', jsonl, '--deadline', String(deadline)];
  if (engine === 'arbor') {
    const device = a;
    const dtype = b;
    return {
      label: `arbor ${device} ${dtype}`,
      key: spec,
      argv: (model, name, round) => [process.execPath, [join(HERE, 'arbor-gpu.mjs'), ...common(model, name, round), '--device', device, '--dtype', dtype, '--threads', String(cpus().length), '--cache-dir', join(args.work, 'arbor-cache')]],
      repeatable: true,
    };
  }
  if (engine === 'hf') {
    return { label: `hf eager ${a}`, key: spec, argv: (model, name, round) => [args.python, [join(HERE, 'hf_peer.py'), ...common(model, name, round), '--dtype', a]], repeatable: true };
  }
  throw new Error(`--systems: "${spec}" is not arbor:DEVICE:DTYPE or hf:DTYPE`);
}

const systems = args.systems.split(',').map((s) => systemPhase(s.trim()));
const memPhases = args.mem
  ? args.mem.split(',').map((s) => {
      const [device, dtype] = s.trim().split(':');
      const p = systemPhase(`arbor:${device}:${dtype}`);
      return { label: `${p.label} memory`, key: `mem:${s}`, argv: (m, n, r) => { const [cmd, argv] = p.argv(m, n, r); return [cmd, [...argv, '--workloads', 'mem']]; }, repeatable: false };
    })
  : [];

/**
 * Seconds each phase took last time, by system and model, and by system alone (the estimate for a
 * model's first round: a lower bound when the next model is larger). What decides whether it fits.
 */
const took = new Map();

/** Runs a child with the budget's deadline; its stderr (and non-JSON stdout) go to the log. */
function runChild(cmd, argv, env = {}) {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, argv, { cwd: REPO, env: { ...process.env, PYTHONUNBUFFERED: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (chunk) => {
      for (const line of chunk.toString().split('\n')) {
        // Result rows are already in the JSON-lines file; Dawn repeats two limit warnings per session.
        if (!line || line.startsWith('{') || line.startsWith('Warning: max')) continue;
        process.stderr.write(`  ${line}\n`);
        logFile.write(`  ${line}\n`);
      }
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    const killAt = setTimeout(() => {
      log(`killing ${basename(argv[0] ?? cmd)}: 30 s past the deadline`);
      child.kill('SIGKILL');
    }, Math.max(1, (deadline + 30 - Date.now() / 1000) * 1000));
    child.on('close', (code, signal) => {
      clearTimeout(killAt);
      resolveRun(code ?? (signal ? 128 : 1));
    });
    child.on('error', (err) => {
      clearTimeout(killAt);
      log(`cannot start ${cmd}: ${err.message}`);
      resolveRun(127);
    });
  });
}

async function phase(p, model, name, round) {
  const left = deadline - Date.now() / 1000;
  const need = took.get(`${p.key} ${name}`) ?? took.get(p.key) ?? 30;
  if (left < need) {
    log(`skip ${p.label} round ${round} on ${name}: ${left.toFixed(0)} s left, it needs ~${need.toFixed(0)} s`);
    return;
  }
  log(`${p.label} round ${round} on ${name}`);
  const start = Date.now() / 1000;
  const [cmd, argv] = p.argv(model, name, round);
  // The memory run is one trajectory from a fresh engine: a repeat would start from a warm one.
  const code = await runChild(cmd, p.repeatable ? [...argv, '--repeats', args.repeats] : argv);
  const seconds = Date.now() / 1000 - start;
  took.set(p.key, seconds);
  took.set(`${p.key} ${name}`, seconds);
  log(`${p.label} round ${round}: exit ${code} after ${seconds.toFixed(0)} s`);
}

/** The model's HF folder: --model-dir as given, or a bench model written once under --work. */
async function ensureModel(name) {
  if (args['model-dir']) return resolve(args['model-dir']);
  const dir = join(args.work, 'models', name);
  if (['config.json', 'model.safetensors', 'tokenizer.json'].every((f) => existsSync(join(dir, f)))) return dir;
  const tools = join(args.tools, 'tools');
  if (!existsSync(join(tools, 'make-bench-model.js'))) throw new Error(`${tools}/make-bench-model.js is missing: run bench/gpu/build.sh before the call and carry .carry`);
  log(`writing ${name} to ${dir}`);
  if ((await runChild(process.execPath, [join(tools, 'make-bench-model.js'), name, '--out', dir])) !== 0) throw new Error(`make-bench-model ${name} failed (log above)`);
  // arbor loads a tokenizer with every model; this is the synthetic one the GGUF benches use.
  if ((await runChild(process.execPath, [join(tools, 'make-bench-gguf.js'), name, '--dir', dir, '--tokenizer-only'])) !== 0) throw new Error(`tokenizer for ${name} failed (log above)`);
  return dir;
}

function tryOutput(cmd, argv) {
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }).trim();
  } catch (err) {
    return `(${cmd}: ${err.message.split('\n')[0]})`;
  }
}

const commitFile = join(args.tools, 'COMMIT');
if (!process.env['ARBOR_COMMIT'] && existsSync(commitFile)) process.env['ARBOR_COMMIT'] = readFileSync(commitFile, 'utf8').trim();
log(`budget ${args['budget-s']} s, ${rounds} rounds, preset ${args.preset}, models ${args['model-dir'] ?? args.models}; arbor ${process.env['ARBOR_COMMIT'] ?? '(no COMMIT file)'}; node ${process.version}; VK_DRIVER_FILES=${process.env['VK_DRIVER_FILES'] ?? 'unset'}`);
log(`gpu: ${tryOutput('nvidia-smi', ['--query-gpu=name,driver_version,memory.used,memory.total', '--format=csv,noheader'])}`);
log(`python: ${tryOutput(args.python, ['-c', 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__)'])}`);

const names = args['model-dir'] ? [basename(resolve(args['model-dir']))] : args.models.split(',').map((m) => m.trim());
for (const [i, name] of names.entries()) {
  // Writing bench-500m alone takes about a minute; a model no round of which would fit is not written.
  if (deadline - Date.now() / 1000 < 90) {
    log(`skip ${name}: less than 90 s of the budget left`);
    continue;
  }
  let dir;
  try {
    dir = await ensureModel(name);
  } catch (err) {
    log(`${name}: ${err.message}`);
    continue;
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of systems) await phase(s, dir, name, r);
    // The memory run after the first round: a round of every system matters more, should time run short.
    if (r === 0 && i === 0) for (const m of memPhases) await phase(m, dir, name, 0);
  }
}

const md = join(args.out, 'gpu-bench.md');
const code = await runChild(process.execPath, [join(HERE, 'report.mjs'), jsonl, '--out', md]);
log(code === 0 ? `report: ${md}` : `report.mjs failed (exit ${code})`);
log(`done in ${(Date.now() / 1000 - t0).toFixed(0)} s`);
logFile.end();
