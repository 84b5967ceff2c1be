import type { FinishReason, PromptLogprob, TokenLogprob } from '../actors/protocol.js';
export type { FinishReason, PromptLogprob, TokenLogprob } from '../actors/protocol.js';

/** Progress of a long phase (loading weights, building graphs, opening sessions). */
export interface EngineProgress {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
}

/** Options of `Engine.create()`; every field is optional. */
export interface EngineOptions {
  /** Hugging Face model folder. Default: the bundled `models/arbor-tiny`. */
  model?: string;
  /** Tensor-parallel shards (worker threads), 1, 2 or 4. Default 1. */
  tp?: number;
  /**
   * Compute device: 'cpu' (onnxruntime's CPU EP) or 'webgpu' (its WebGPU EP: Vulkan, Metal or
   * D3D12 through Dawn; KV cache resident on the GPU). Default 'cpu'.
   */
  device?: 'cpu' | 'webgpu';
  /**
   * Weight precision. CPU: fp32 (default), q8 (8-bit blocks of 32) or q4 (4-bit blocks of 128),
   * quantized at load. WebGPU: fp16 (default; weights, activations and KV), fp32, or q4 (4-bit
   * weights, fp16 activations).
   */
  dtype?: 'fp32' | 'fp16' | 'q8' | 'q4';
  /** KV cache capacity in tokens (shared by the radix cache and running requests). Default 16384. */
  kvCacheTokens?: number;
  /** Most requests decoding at once. Default 64. */
  maxRunningRequests?: number;
  /**
   * Most requests waiting for admission (SGLang's `--max-queued-requests`); a request beyond it is
   * refused with QueueFullError. Default: no limit.
   */
  maxQueuedRequests?: number;
  /** Most prompt tokens prefilled in one step (longer prompts are chunked). Default 512. */
  chunkedPrefillSize?: number;
  /** Queue order: 'lpm' (longest cached prefix first) or 'fcfs'. Default 'lpm'. */
  schedulePolicy?: 'lpm' | 'fcfs';
  /** Reuse KV of shared prefixes across requests. Default true. */
  radixCache?: boolean;
  /** Longest prompt + output accepted. Default: the model's max_position_embeddings. */
  contextLength?: number;
  /** ORT intra-op threads per shard. Default: available cores / tp (at least 1). */
  threadsPerShard?: number;
  /** Graph/session cache folder. Default $ARBOR_CACHE_DIR or ~/.cache/arbor. */
  cacheDir?: string;
  onProgress?: (p: EngineProgress) => void;
}

/** Sampling and output options of one request. */
export interface GenerateRequest {
  /** Text prompt (tokenized with the model's tokenizer; BOS per tokenizer_config). */
  prompt?: string;
  /** Token ids instead of `prompt`. */
  inputIds?: number[];
  /** New tokens at most; 0 = prefill only (caches the prompt, returns prompt logprobs). Default 128. */
  maxTokens?: number;
  /** Fewest new tokens before EOS / stop tokens may end generation. Default 0. */
  minTokens?: number;
  /** ≤ 1e-6 means greedy. Default 1. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  repetitionPenalty?: number;
  /** Token id → bias added to its logit. */
  logitBias?: Record<number, number>;
  /** Same seed ⇒ same tokens. */
  seed?: number;
  stop?: string | string[];
  stopTokenIds?: number[];
  ignoreEos?: boolean;
  /** Return each output token's logprob. */
  logprobs?: boolean;
  /** Also return this many top alternatives per output position (implies logprobs). */
  topLogprobs?: number;
  /** Return prompt logprobs for positions ≥ this index (0 = all; the first token's is null). */
  promptLogprobsFrom?: number;
  /** Top alternatives per prompt position (with promptLogprobsFrom). */
  promptTopLogprobs?: number;
  /** Keep special tokens in `text`. Default false. */
  includeSpecialTokens?: boolean;
  /** Aborting cancels the request and frees its KV slots. */
  signal?: AbortSignal;
}

/** Options of `engine.tokenize()`. */
export interface TokenizeOptions {
  /** Aborting stops the job (its pool workers too) and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Refuse (TokenLimitError naming the text) any text of more tokens than this. */
  maxTokens?: number;
}


export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens whose KV came from the radix cache. */
  readonly cachedTokens: number;
}

/** The outcome of `engine.generate()`. */
export interface GenerateResult {
  readonly text: string;
  readonly tokenIds: number[];
  readonly finishReason: FinishReason;
  /** The stop string or token id that ended generation, when finishReason is 'stop'. */
  readonly matchedStop?: string | number;
  readonly usage: Usage;
  readonly logprobs?: TokenLogprob[];
  /** Prompt positions from promptLogprobsFrom; the entry for position 0 has logprob null. */
  readonly promptLogprobs?: PromptLogprob[];
}

/** One chunk of `engine.stream()`: new text and tokens since the previous chunk. */
export interface StreamChunk {
  readonly text: string;
  readonly tokenIds: number[];
  readonly logprobs?: TokenLogprob[];
  /** Set on the last chunk. */
  readonly finishReason?: FinishReason;
  readonly matchedStop?: string | number;
  readonly usage?: Usage;
  readonly promptLogprobs?: GenerateResult['promptLogprobs'];
}

/** Engine counters, readable at any time. */
export interface EngineStats {
  readonly running: number;
  readonly queued: number;
  readonly slotsUsed: number;
  readonly slotsFree: number;
  readonly slotsEvictable: number;
  readonly cachedTokensTotal: number;
  readonly promptTokensTotal: number;
  readonly generatedTokensTotal: number;
  /** Requests sent back to the queue because KV slots ran out (their output so far is kept). */
  readonly retractionsTotal: number;
  readonly healthy: boolean;
  readonly error?: string;
}
