/**
 * Makes `npm run bench -- <workload>` work from a fresh clone in one command: what a workload needs
 * and is missing (arbor's dist/, node-llama-cpp in bench/peers, the model folder, its GGUF at the
 * requested precision) is built or installed first, each step printed. Nothing present is redone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GGUF_TYPE, PEERS_DIR, REPO_DIR, modelDir } from './common.js';
import type { ArborDType } from './common.js';

function run(what: string, cmd: string, args: readonly string[], cwd: string): void {
  console.log(`setup: ${what}: ${cmd === process.execPath ? 'node' : cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`setup step failed (${what}): exit ${r.status ?? r.signal}`);
}

const tool = (name: string, ...args: string[]) => ['--import', 'tsx', join(REPO_DIR, 'tools', name), ...args];

export function ensureBenchSetup(model: string, dtype: ArborDType): void {
  if (!existsSync(join(REPO_DIR, 'dist', 'index.js'))) run('arbor is benchmarked from dist/', 'npm', ['run', 'build'], REPO_DIR);
  if (!existsSync(join(PEERS_DIR, 'node_modules', 'node-llama-cpp', 'package.json'))) {
    run('node-llama-cpp@3.21.1 into bench/peers', 'npm', ['ci', '--no-audit', '--no-fund'], PEERS_DIR);
  }
  const dir = modelDir(model);
  if (!existsSync(join(dir, 'model.safetensors'))) run(`${model} weights`, process.execPath, tool('make-bench-model.ts', model), REPO_DIR);
  if (!existsSync(join(dir, `${model}-${GGUF_TYPE[dtype]}.gguf`))) {
    run(`${model} as GGUF ${GGUF_TYPE[dtype]}`, process.execPath, tool('make-bench-gguf.ts', model, '--type', GGUF_TYPE[dtype]), REPO_DIR);
  }
  if (!existsSync(join(dir, 'tokenizer.json'))) run(`${model} tokenizer`, process.execPath, tool('make-bench-gguf.ts', model, '--tokenizer-only'), REPO_DIR);
}
