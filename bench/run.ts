/**
 * arbor's benchmarks (bench/README.md, /work/shared/BENCHMARKS.md):
 *
 *   npm run build && npm run bench -- <w1|w2|w3|w4|limits|verify|profile> [--model bench-135m] [--dtype fp32|q8|q4]
 *       [--pairs 5] [--threads 2] [workload options]
 *   npm run bench -- fuzz-soak [--soak-requests 100000] [--seed N]   (the server fuzz suite, longer)
 *
 * arbor is imported from the built package (dist/, or $ARBOR_DIST): its worker threads cannot load
 * .ts under tsx. node-llama-cpp is loaded from bench/peers/. Whatever of these and of the model
 * files is missing is built or installed first (bench/lib/setup.ts).
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { machineLine } from './lib/common.js';
import type { ArborDType } from './lib/common.js';
import { ensureBenchSetup } from './lib/setup.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'bench-135m' },
    dtype: { type: 'string', default: 'fp32' },
    pairs: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(cpus().length) },
    // W1
    groups: { type: 'string', default: '8' },
    prefix: { type: 'string', default: '512' },
    suffixes: { type: 'string', default: '100' },
    'suffix-len': { type: 'string', default: '16' },
    'noradix-seqs': { type: 'string', default: '40' },
    'nlc-seqs': { type: 'string', default: '8' },
    'nlc-groups': { type: 'string' },
    'nlc-suffixes': { type: 'string' },
    'no-nlc-single': { type: 'boolean', default: false },
    'no-nlc-eval-only': { type: 'boolean', default: false },
    // W2
    requests: { type: 'string', default: '64' },
    'prompt-len': { type: 'string' },
    'output-len': { type: 'string' },
    // W4
    conversations: { type: 'string', default: '16' },
    turns: { type: 'string', default: '4' },
    'system-len': { type: 'string', default: '1024' },
    // limits
    'gemm-size': { type: 'string', default: '2048' },
    // fuzz-soak
    'soak-requests': { type: 'string', default: '100000' },
    seed: { type: 'string' },
    // profile (the parent passes these to its children)
    label: { type: 'string' },
    repeats: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const workload = positionals[0]?.toLowerCase();
if (values.help || !workload) {
  console.log('usage: npm run bench -- <w1|w2|w3|w4|limits|verify|profile|fuzz-soak> [--model bench-135m] [--dtype fp32|q8|q4] [--pairs 5] [--threads N] …  (see bench/README.md)');
  process.exit(workload ? 0 : 2);
}
const dtype = values.dtype as ArborDType;
if (!['fp32', 'q8', 'q4'].includes(dtype)) throw new Error(`--dtype must be fp32, q8 or q4`);
const model = values.model!;
// The profile parent prepared everything before starting its children; the soak needs only dist/.
if (workload !== 'profile-child' && workload !== 'fuzz-soak') ensureBenchSetup(model, dtype);
const pairs = Number(values.pairs);
const threads = Number(values.threads);
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
console.log(`machine: ${machineLine()}`);

switch (workload) {
  case 'w1': {
    const { runW1 } = await import('./workloads/w1.js');
    const groups = Number(values.groups);
    await runW1({
      model,
      dtype,
      pairs,
      threads,
      groups,
      prefix: Number(values.prefix),
      suffixes: Number(values.suffixes),
      suffixLen: Number(values['suffix-len']),
      noRadixSeqs: Number(values['noradix-seqs']),
      nlcSeqs: Number(values['nlc-seqs']),
      nlcSingle: !values['no-nlc-single'],
      nlcGroups: Math.min(groups, num(values['nlc-groups'], groups)),
      nlcEvalOnly: !values['no-nlc-eval-only'],
      nlcSuffixes: Math.min(Number(values.suffixes), num(values['nlc-suffixes'], Number(values.suffixes))),
    });
    break;
  }
  case 'w2': {
    const { runW2 } = await import('./workloads/w2.js');
    await runW2({ model, dtype, pairs, threads, requests: Number(values.requests), promptLen: num(values['prompt-len'], 128), outputLen: num(values['output-len'], 128) });
    break;
  }
  case 'w3': {
    const { runW3 } = await import('./workloads/w3.js');
    await runW3({ model, dtype, pairs, threads, promptLen: num(values['prompt-len'], 512), outputLen: num(values['output-len'], 256) });
    break;
  }
  case 'w4': {
    const { runW4 } = await import('./workloads/w4.js');
    await runW4({
      model,
      dtype,
      pairs,
      threads,
      conversations: Number(values.conversations),
      turns: Number(values.turns),
      systemLen: Number(values['system-len']),
      turnIn: num(values['prompt-len'], 64),
      turnOut: num(values['output-len'], 64),
    });
    break;
  }
  case 'limits': {
    const { runLimits } = await import('./workloads/limits.js');
    await runLimits({ model, dtype, pairs, threads, gemmSize: Number(values['gemm-size']), promptLen: num(values['prompt-len'], 512), outputLen: num(values['output-len'], 64) });
    break;
  }
  case 'profile': {
    const { runProfile } = await import('./workloads/profile.js');
    await runProfile({ model, dtype, threads, repeats: num(values.repeats, pairs) });
    break;
  }
  case 'profile-child': {
    const { runProfileChild } = await import('./workloads/profile.js');
    await runProfileChild({ model, dtype, threads, repeats: num(values.repeats, 1), label: values.label ?? 'child', ...(values.out ? { out: values.out } : {}) });
    break;
  }
  case 'verify': {
    const { runVerify } = await import('./workloads/verify.js');
    await runVerify({ model, dtype, threads });
    break;
  }
  case 'fuzz-soak': {
    const { runFuzzSoak } = await import('./workloads/fuzz-soak.js');
    await runFuzzSoak({ requests: Number(values['soak-requests']), seed: num(values.seed, Math.floor(Math.random() * 2 ** 31)) });
    break;
  }
  default:
    console.error(`unknown workload ${workload}`);
    process.exit(2);
}
// onnxruntime / llama.cpp native handles can keep the loop alive after close.
process.exit(process.exitCode ?? 0);
