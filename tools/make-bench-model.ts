/**
 * Writes a benchmark model as a Hugging Face folder: config.json and generation_config.json with
 * the shapes of a real model, and model.safetensors (F32) with deterministic random weights.
 *
 *   npx tsx tools/make-bench-model.ts bench-135m [--out DIR] [--seed N] [--verify]
 *   npx tsx tools/make-bench-model.ts bench-500m [--out DIR] [--seed N] [--verify]
 *
 * Default output: bench/models/<name>. No tokenizer is written: benchmarks feed token ids.
 * --verify then loads the folder with arbor (tp 1, fp32, graph cache in .cache/arbor) and checks
 * that a one-token forward gives finite logits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadShard } from '../src/shards/shard-loader.js';
import { LocalTensorParallel } from '../src/shards/local-tensor-parallel.js';
import { SeededRandom, fnv1a } from './lib/prng.js';
import { writeSafetensorsF32 } from './lib/safetensors-writer.js';
import type { F32TensorSource } from './lib/safetensors-writer.js';

/** The config.json fields of each benchmark model, copied from the model whose shape it takes. */
const CONFIGS = {
  // SmolLM2-135M (HuggingFaceTB/SmolLM2-135M), weights stored as float32 here.
  'bench-135m': {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 0,
    eos_token_id: 0,
    hidden_act: 'silu',
    hidden_size: 576,
    initializer_range: 0.02,
    intermediate_size: 1536,
    max_position_embeddings: 8192,
    mlp_bias: false,
    num_attention_heads: 9,
    num_hidden_layers: 30,
    num_key_value_heads: 3,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 100000,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: 49152,
  },
  // Qwen2.5-0.5B (Qwen/Qwen2.5-0.5B), weights stored as float32 here.
  'bench-500m': {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    attention_dropout: 0.0,
    bos_token_id: 151643,
    eos_token_id: 151643,
    hidden_act: 'silu',
    hidden_size: 896,
    initializer_range: 0.02,
    intermediate_size: 4864,
    max_position_embeddings: 32768,
    max_window_layers: 24,
    num_attention_heads: 14,
    num_hidden_layers: 24,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    sliding_window: 32768,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: 151936,
  },
} as const;

type BenchModelName = keyof typeof CONFIGS;
type BenchConfig = (typeof CONFIGS)[BenchModelName];

/** Standard deviation of linear and embedding weights (transformers' usual initializer_range). */
const WEIGHT_STD = 0.02;
/** Norm scales are 1 ± this, so they are not exactly the identity yet stay well conditioned. */
const NORM_STD = 0.02;
/** Biases are small so they perturb, not dominate, the projections. */
const BIAS_STD = 0.01;

function tensorList(cfg: BenchConfig, seed: number): F32TensorSource[] {
  const H = cfg.hidden_size;
  const d = H / cfg.num_attention_heads;
  const q = cfg.num_attention_heads * d;
  const kv = cfg.num_key_value_heads * d;
  const I = cfg.intermediate_size;
  const qkvBias = cfg.architectures[0] === 'Qwen2ForCausalLM';
  const tensor = (name: string, shape: number[], mean: number, std: number): F32TensorSource => {
    const stream = new SeededRandom((fnv1a(name) ^ seed) >>> 0);
    return { name, shape, fill: (chunk) => stream.fillNormal(chunk, mean, std) };
  };
  const linear = (name: string, out: number, inp: number) => tensor(name, [out, inp], 0, WEIGHT_STD);
  const norm = (name: string) => tensor(name, [H], 1, NORM_STD);
  const list: F32TensorSource[] = [linear('model.embed_tokens.weight', cfg.vocab_size, H)];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    list.push(norm(`${p}.input_layernorm.weight`));
    list.push(linear(`${p}.self_attn.q_proj.weight`, q, H));
    list.push(linear(`${p}.self_attn.k_proj.weight`, kv, H));
    list.push(linear(`${p}.self_attn.v_proj.weight`, kv, H));
    if (qkvBias) {
      list.push(tensor(`${p}.self_attn.q_proj.bias`, [q], 0, BIAS_STD));
      list.push(tensor(`${p}.self_attn.k_proj.bias`, [kv], 0, BIAS_STD));
      list.push(tensor(`${p}.self_attn.v_proj.bias`, [kv], 0, BIAS_STD));
    }
    list.push(linear(`${p}.self_attn.o_proj.weight`, H, q));
    list.push(norm(`${p}.post_attention_layernorm.weight`));
    list.push(linear(`${p}.mlp.gate_proj.weight`, I, H));
    list.push(linear(`${p}.mlp.up_proj.weight`, I, H));
    list.push(linear(`${p}.mlp.down_proj.weight`, H, I));
  }
  list.push(norm('model.norm.weight'));
  return list;
}

/** Loads the folder the way the engine does and runs one token through it. */
async function verify(dir: string): Promise<void> {
  const started = Date.now();
  const shard = await loadShard({ modelDir: dir, tp: 1, rank: 0, dtype: 'fp32', kvSlots: 16, threads: 2, cacheDir: join('.cache', 'arbor') });
  const model = new LocalTensorParallel([shard]);
  try {
    const logits = await model.forward({ sequences: [{ tokens: [1], cachedSlots: [], newSlots: [0], logitsFrom: 0 }] });
    if (logits.length !== model.vocabSize || !logits.every(Number.isFinite)) {
      throw new Error(`verify: expected ${model.vocabSize} finite logits, got ${logits.length} (some not finite?)`);
    }
    console.log(`verify: loaded and ran one token in ${((Date.now() - started) / 1000).toFixed(1)} s; logits[0..3] = ${[...logits.subarray(0, 3)].map((v) => v.toFixed(4)).join(', ')}`);
  } finally {
    await model.release();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, seed: { type: 'string', default: '1' }, verify: { type: 'boolean', default: false } },
  });
  const name = positionals[0];
  if (positionals.length !== 1 || !(name! in CONFIGS)) {
    console.error(`usage: make-bench-model.ts <${Object.keys(CONFIGS).join('|')}> [--out DIR] [--seed N] [--verify]`);
    process.exit(2);
  }
  const cfg = CONFIGS[name as BenchModelName];
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer (got ${values.seed})`);
  const out = values.out ?? join('bench', 'models', name!);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  writeFileSync(
    join(out, 'generation_config.json'),
    `${JSON.stringify({ bos_token_id: cfg.bos_token_id, eos_token_id: cfg.eos_token_id, do_sample: false }, null, 2)}\n`,
  );
  const tensors = tensorList(cfg, seed);
  const params = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  console.log(`${name}: ${tensors.length} tensors, ${(params / 1e6).toFixed(1)}M parameters, ${((params * 4) / 2 ** 20).toFixed(0)} MiB F32 -> ${out}`);
  const started = Date.now();
  writeSafetensorsF32(join(out, 'model.safetensors'), tensors, (i, total, tensorName) => {
    if (i % 20 === 0 || i === total - 1) console.log(`  [${i + 1}/${total}] ${tensorName}`);
  });
  console.log(`wrote ${join(out, 'model.safetensors')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (values.verify) await verify(out);
}

await main();
