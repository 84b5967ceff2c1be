/**
 * The OpenAI response shapes arbor produces, field for field as the official `openai` client
 * types them (declared here so the package does not depend on that client at run time).
 */

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** `finish_reason` values: OpenAI's, plus SGLang's "abort" for a request the engine cancelled. */
export type OpenAIFinishReason = 'stop' | 'length' | 'abort';

/** The legacy `logprobs` object of /v1/completions. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finish_reason: OpenAIFinishReason | null;
}

/** A /v1/completions response, and (with `finish_reason` null until the end) each stream chunk. */
export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage?: CompletionUsage | null;
}

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface ChatTokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export interface ChatChoiceLogprobs {
  content: ChatTokenLogprob[];
  refusal: null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string; refusal: null };
    logprobs: ChatChoiceLogprobs | null;
    finish_reason: OpenAIFinishReason;
  }[];
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string };
    logprobs: ChatChoiceLogprobs | null;
    finish_reason: OpenAIFinishReason | null;
  }[];
  usage?: CompletionUsage | null;
}

/** One model entry of GET /v1/models. */
export interface Model {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}
