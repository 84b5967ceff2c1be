import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadShard } from '../../src/shards/shard-loader.js';
import { ModelBuildError, ModelLoadError } from '../../src/model/errors.js';
import { FIXTURES, tempCacheDir } from '../helpers/fixtures.js';

const cacheDir = tempCacheDir();

/** A writable copy of a fixture with its config.json edited. */
function variant(name: string, edit: (cfg: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), `arbor-${name}-`));
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  const file = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg));
  return dir;
}

const load = (modelDir: string, tp = 1, dtype: 'fp32' | 'q8' | 'q4' = 'fp32') =>
  loadShard({ modelDir, tp, rank: 0, dtype, kvSlots: 16, threads: 1, cacheDir });

t.test('missing folder / config.json names the file', async (t) => {
  await t.rejects(load('/nonexistent/model'), { name: 'ModelLoadError', message: /config\.json: missing/ });
});

t.test('unsupported architecture names it and lists the supported ones', async (t) => {
  const dir = variant('qwen2', (c) => (c['architectures'] = ['GPT2LMHeadModel']));
  await t.rejects(load(dir), new ModelLoadError(`${join(dir, 'config.json')}: architecture "GPT2LMHeadModel" is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)`));
});

t.test('a tensor missing from the checkpoint is named', async (t) => {
  const dir = variant('qwen2', (c) => (c['num_hidden_layers'] = 3));
  await t.rejects(load(dir), { name: 'ModelLoadError', message: /tensor "model\.layers\.2\.input_layernorm\.weight" is missing from the checkpoint/ });
});

t.test('a tensor of the wrong shape names file, tensor and both shapes', async (t) => {
  const dir = variant('mistral', (c) => (c['intermediate_size'] = 256));
  await t.rejects(load(dir), { name: 'ModelLoadError', message: /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[128,64\], expected \[256,64\]/ });
});

t.test('a shard listed in the index but absent is named', async (t) => {
  const dir = variant('llama-gqa', () => {});
  rmSync(join(dir, 'model-00002-of-00006.safetensors'));
  await t.rejects(load(dir), { name: 'ModelLoadError', message: /model-00002-of-00006\.safetensors: listed in .*index\.json but missing/ });
});

t.test('bad config fields are named', async (t) => {
  await t.rejects(load(variant('qwen3', (c) => (c['hidden_size'] = 'big'))), { message: /field "hidden_size" must be a positive integer/ });
  await t.rejects(load(variant('qwen3', (c) => (c['num_key_value_heads'] = 3))), { message: /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/ });
  await t.rejects(load(variant('llama-gqa', (c) => (c['rope_scaling'] = { rope_type: 'yarn', factor: 2 }))), { message: /rope_scaling type "yarn" is not supported/ });
});

t.test('tensor-parallel degrees that do not divide the heads are refused', async (t) => {
  await t.rejects(load(join(FIXTURES, 'qwen2'), 3), new ModelBuildError('tp must be one of 1, 2, 4 (got 3)'));
  await t.rejects(load(join(FIXTURES, 'llama-mqa'), 4), new ModelBuildError('tp=4 does not divide num_key_value_heads=1; choose a tp that divides it'));
});

t.test('a second load reuses the optimized session cache and computes the same logits', async (t) => {
  const dir = join(FIXTURES, 'qwen3');
  const privateCache = tempCacheDir();
  const phases: string[] = [];
  const step = { sequences: [{ tokens: [5, 6, 7], cachedSlots: [], newSlots: [0, 1, 2], logitsFrom: 0 }] };
  const run = async () => {
    const shard = await loadShard({ modelDir: dir, tp: 1, rank: 0, dtype: 'fp32', kvSlots: 8, threads: 1, cacheDir: privateCache, onProgress: (p) => phases.push(p.phase) });
    const r = await shard.forward(step).next();
    await shard.release();
    return r.value as Float32Array;
  };
  const first = await run();
  t.ok(phases.some((p) => p.includes('building graphs')), 'first load builds the graphs');
  phases.length = 0;
  const second = await run();
  t.notOk(phases.some((p) => p.includes('building graphs')), 'second load skips building');
  t.same(Array.from(second), Array.from(first), 'bit-identical logits from the cached optimized session');
});
