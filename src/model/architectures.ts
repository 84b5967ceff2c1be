/**
 * Architectures described as data: the graph builder reads these flags instead of holding one
 * copy of the transformer per model family.
 */
export interface ArchitectureSpec {
  /** Hugging Face `architectures[0]` value. */
  readonly name: string;
  /** q/k/v projections carry a bias (Qwen2). */
  readonly qkvBias: boolean;
  /** RMSNorm over head_dim on q and k before rotary (Qwen3). */
  readonly qkNorm: boolean;
  /** o_proj carries a bias. */
  readonly oBias: boolean;
  /** MLP projections carry biases. */
  readonly mlpBias: boolean;
}

const ARCHITECTURES: readonly ArchitectureSpec[] = [
  { name: 'LlamaForCausalLM', qkvBias: false, qkNorm: false, oBias: false, mlpBias: false },
  { name: 'MistralForCausalLM', qkvBias: false, qkNorm: false, oBias: false, mlpBias: false },
  { name: 'Qwen2ForCausalLM', qkvBias: true, qkNorm: false, oBias: false, mlpBias: false },
  { name: 'Qwen3ForCausalLM', qkvBias: false, qkNorm: true, oBias: false, mlpBias: false },
];

/** The spec for an architecture name, or undefined when arbor does not support it. */
export function findArchitecture(name: string): ArchitectureSpec | undefined {
  return ARCHITECTURES.find((a) => a.name === name);
}

/** Names of every supported architecture, for error messages and docs. */
export const SUPPORTED_ARCHITECTURES: readonly string[] = ARCHITECTURES.map((a) => a.name);
