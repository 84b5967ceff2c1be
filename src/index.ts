export { Engine } from './engine/engine.js';
export type { EngineEvents } from './engine/engine.js';
export type {
  EngineOptions,
  EngineProgress,
  EngineStats,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  StreamChunk,
  TokenizeOptions,
  TokenLogprob,
  Usage,
} from './engine/types.js';
export { EngineError, EngineStateError, QueueFullError, RequestError, TokenLimitError } from './engine/errors.js';
export { ModelLoadError, ModelBuildError } from './model/errors.js';
export { ModelTokenizer } from './tokenizer/tokenizer.js';
export * from './lang/index.js';
