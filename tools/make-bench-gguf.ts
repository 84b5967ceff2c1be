/**
 * Converts a benchmark model's Hugging Face folder (config.json + F32 model.safetensors, as written
 * by tools/make-bench-model.ts) to GGUF for llama.cpp / node-llama-cpp, with the same weights:
 *
 *   npx tsx tools/make-bench-gguf.ts bench-135m [--type f32|q8_0|q4_0] [--dir DIR] [--out FILE]
 *
 * Default output: bench/models/<name>/<name>-<type>.gguf. Architectures: LlamaForCausalLM → `llama`
 * (q_proj / k_proj rows permuted to llama.cpp's interleaved-pair rotary layout, as
 * convert_hf_to_gguf.py does), Qwen2ForCausalLM → `qwen2` (not permuted; NEOX rotary; q/k/v biases).
 * 1-D tensors (norms, biases) stay F32; every matrix takes the requested type ("pure" quantization,
 * token_embd included, which is also the tied output matrix).
 *
 * The tokenizer is a synthetic byte-level BPE vocabulary of exactly vocab_size tokens
 * (tools/lib/gguf-vocab.ts). The same vocabulary is written to the folder as tokenizer.json +
 * tokenizer_config.json when the folder has none (arbor needs a tokenizer to load a model), so both
 * engines know every token id.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readHfConfig, SafetensorsSource } from './lib/gguf-source.js';
import type { HfConfig } from './lib/gguf-source.js';
import { syntheticVocab, hfTokenizerFiles } from './lib/gguf-vocab.js';
import { encodeTensor, GGUF_FILE_TYPE, writeGguf } from './lib/gguf-writer.js';
import type { GgmlTypeName, GgufTensorSpec, GgufValue } from './lib/gguf-writer.js';

type OutType = 'f32' | 'q8_0' | 'q4_0';
const TYPE_OF: Record<OutType, GgmlTypeName> = { f32: 'F32', q8_0: 'Q8_0', q4_0: 'Q4_0' };
const SPECIAL_TEXT = '<|endoftext|>';

const ARCH: Record<string, { arch: 'llama' | 'qwen2'; permuteQK: boolean }> = {
  LlamaForCausalLM: { arch: 'llama', permuteQK: true },
  Qwen2ForCausalLM: { arch: 'qwen2', permuteQK: false },
};

/**
 * llama.cpp's LLaMA rotary pairs adjacent dimensions (2i, 2i+1); Hugging Face's rotates halves
 * (i, i + d/2). convert_hf_to_gguf.py reorders the rows of q_proj / k_proj within each head so the
 * two agree: new row h·d + 2j + i takes old row h·d + i·(d/2) + j (i ∈ {0, 1}, j < d/2).
 */
export function permuteRows(w: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const d = rows / heads;
  const half = d / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < half; j++) {
        const src = (h * d + i * half + j) * cols;
        const dst = (h * d + 2 * j + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
  return out;
}

interface Planned extends GgufTensorSpec {
  readonly source: string;
  readonly permuteHeads?: number;
}

function plan(cfg: HfConfig, src: SafetensorsSource, type: GgmlTypeName, permuteQK: boolean): Planned[] {
  const out: Planned[] = [];
  const add = (gg: string, hf: string, permuteHeads?: number) => {
    const e = src.entries.get(hf);
    if (!e) throw new Error(`missing tensor ${hf}`);
    const ne = [...e.shape].reverse();
    out.push({ name: gg, ne, type: ne.length === 1 ? 'F32' : type, source: hf, ...(permuteHeads ? { permuteHeads } : {}) });
  };
  add('token_embd.weight', 'model.embed_tokens.weight');
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const b = `blk.${l}`;
    add(`${b}.attn_norm.weight`, `${p}.input_layernorm.weight`);
    add(`${b}.attn_q.weight`, `${p}.self_attn.q_proj.weight`, permuteQK ? cfg.num_attention_heads : undefined);
    add(`${b}.attn_k.weight`, `${p}.self_attn.k_proj.weight`, permuteQK ? cfg.num_key_value_heads : undefined);
    add(`${b}.attn_v.weight`, `${p}.self_attn.v_proj.weight`);
    for (const [gg, hf, heads] of [
      ['attn_q', 'q_proj', cfg.num_attention_heads],
      ['attn_k', 'k_proj', cfg.num_key_value_heads],
      ['attn_v', 'v_proj', 0],
    ] as const) {
      if (src.has(`${p}.self_attn.${hf}.bias`)) add(`${b}.${gg}.bias`, `${p}.self_attn.${hf}.bias`, permuteQK && heads ? heads : undefined);
    }
    add(`${b}.attn_output.weight`, `${p}.self_attn.o_proj.weight`);
    add(`${b}.ffn_norm.weight`, `${p}.post_attention_layernorm.weight`);
    add(`${b}.ffn_gate.weight`, `${p}.mlp.gate_proj.weight`);
    add(`${b}.ffn_up.weight`, `${p}.mlp.up_proj.weight`);
    add(`${b}.ffn_down.weight`, `${p}.mlp.down_proj.weight`);
  }
  add('output_norm.weight', 'model.norm.weight');
  if (!cfg.tie_word_embeddings && src.has('lm_head.weight')) add('output.weight', 'lm_head.weight');
  return out;
}

function metadata(name: string, cfg: HfConfig, arch: string, outType: OutType): Map<string, GgufValue> {
  const headDim = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads;
  const firstId = (v: number | number[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? 0;
  const bos = firstId(cfg.bos_token_id);
  const eos = firstId(cfg.eos_token_id);
  const vocab = syntheticVocab(cfg.vocab_size, new Map([[eos, SPECIAL_TEXT], ...(bos !== eos ? [[bos, '<|startoftext|>'] as [number, string]] : [])]));
  const m = new Map<string, GgufValue>();
  m.set('general.architecture', { type: 'string', value: arch });
  m.set('general.name', { type: 'string', value: name });
  m.set('general.file_type', { type: 'u32', value: GGUF_FILE_TYPE[outType] });
  if (outType !== 'f32') m.set('general.quantization_version', { type: 'u32', value: 2 });
  m.set(`${arch}.vocab_size`, { type: 'u32', value: cfg.vocab_size });
  m.set(`${arch}.context_length`, { type: 'u32', value: cfg.max_position_embeddings });
  m.set(`${arch}.embedding_length`, { type: 'u32', value: cfg.hidden_size });
  m.set(`${arch}.block_count`, { type: 'u32', value: cfg.num_hidden_layers });
  m.set(`${arch}.feed_forward_length`, { type: 'u32', value: cfg.intermediate_size });
  m.set(`${arch}.rope.dimension_count`, { type: 'u32', value: headDim });
  m.set(`${arch}.attention.head_count`, { type: 'u32', value: cfg.num_attention_heads });
  m.set(`${arch}.attention.head_count_kv`, { type: 'u32', value: cfg.num_key_value_heads });
  m.set(`${arch}.rope.freq_base`, { type: 'f32', value: cfg.rope_theta });
  m.set(`${arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: cfg.rms_norm_eps });
  m.set('tokenizer.ggml.model', { type: 'string', value: 'gpt2' });
  m.set('tokenizer.ggml.pre', { type: 'string', value: 'default' });
  m.set('tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens });
  m.set('tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.tokenTypes });
  m.set('tokenizer.ggml.merges', { type: 'string[]', value: vocab.merges.map(([a, b]) => `${a} ${b}`) });
  m.set('tokenizer.ggml.bos_token_id', { type: 'u32', value: bos });
  m.set('tokenizer.ggml.eos_token_id', { type: 'u32', value: eos });
  m.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: false });
  return m;
}

/** Writes tokenizer.json / tokenizer_config.json (the GGUF's vocabulary) into the HF folder if absent. */
export function ensureHfTokenizer(dir: string, cfg: HfConfig, force = false): boolean {
  if (!force && existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'tokenizer_config.json'))) return false;
  const firstId = (v: number | number[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? 0;
  const bos = firstId(cfg.bos_token_id);
  const eos = firstId(cfg.eos_token_id);
  const vocab = syntheticVocab(cfg.vocab_size, new Map([[eos, SPECIAL_TEXT], ...(bos !== eos ? [[bos, '<|startoftext|>'] as [number, string]] : [])]));
  const files = hfTokenizerFiles(vocab, SPECIAL_TEXT, cfg.max_position_embeddings);
  writeFileSync(join(dir, 'tokenizer.json'), files.tokenizerJson);
  writeFileSync(join(dir, 'tokenizer_config.json'), files.tokenizerConfigJson);
  return true;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      type: { type: 'string', default: 'f32' },
      dir: { type: 'string' },
      out: { type: 'string' },
      'tokenizer-only': { type: 'boolean', default: false },
      'force-tokenizer': { type: 'boolean', default: false },
    },
  });
  const name = positionals[0];
  const outType = values.type as OutType;
  if (positionals.length !== 1 || !(outType in TYPE_OF)) {
    console.error('usage: make-bench-gguf.ts <name> [--type f32|q8_0|q4_0] [--dir DIR] [--out FILE] [--tokenizer-only] [--force-tokenizer]');
    process.exit(2);
  }
  const dir = values.dir ?? join('bench', 'models', name!);
  const cfg = readHfConfig(dir);
  const archName = cfg.architectures[0]!;
  const spec = ARCH[archName];
  if (!spec) throw new Error(`${archName}: unsupported (supported: ${Object.keys(ARCH).join(', ')})`);
  if (ensureHfTokenizer(dir, cfg, values['force-tokenizer'])) console.log(`wrote ${join(dir, 'tokenizer.json')} (synthetic BPE, ${cfg.vocab_size} tokens)`);
  if (values['tokenizer-only']) return;

  const src = new SafetensorsSource(join(dir, 'model.safetensors'));
  const tensors = plan(cfg, src, TYPE_OF[outType], spec.permuteQK);
  const out = values.out ?? join(dir, `${name}-${outType}.gguf`);
  const started = Date.now();
  const written = writeGguf(
    out,
    metadata(name!, cfg, spec.arch, outType),
    tensors,
    (i) => {
      const t = tensors[i]!;
      let { data } = src.read(t.source);
      if (t.permuteHeads) {
        const rows = t.ne.length === 1 ? t.ne[0]! : t.ne[1]!;
        const cols = t.ne.length === 1 ? 1 : t.ne[0]!;
        data = permuteRows(data, rows, cols, t.permuteHeads);
      }
      return encodeTensor(t.type, data);
    },
    (i, total, tensorName) => {
      if (i % 40 === 0 || i === total - 1) console.log(`  [${i + 1}/${total}] ${tensorName}`);
    },
  );
  src.close();
  console.log(`wrote ${out}: ${tensors.length} tensors, ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB (${written} bytes) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, ''))) main();
