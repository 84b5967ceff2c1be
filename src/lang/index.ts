export { program, Program, ProgramError, setDefaultBackend, DEFAULT_CONCURRENCY } from './program.js';
export type { BatchOptions, ProgramFn, RunOptions } from './program.js';
export { ProgramState } from './state.js';
export type { RoleContent, SelectOptions, StateInit } from './state.js';
export { ForkGroup } from './fork-group.js';
export type { JoinMode } from './fork-group.js';
export { EngineBackend } from './engine-backend.js';
export type { LangEngine } from './engine-backend.js';
export { RuntimeEndpoint } from './runtime-endpoint.js';
export type { ModelInfo, RuntimeEndpointOptions } from './runtime-endpoint.js';
export type { ChatRenderer, GenCall, GenOutcome, LangBackend, ScoredChoice } from './backend.js';
export { LangError, BackendError } from './errors.js';
export type {
  ChatTurn,
  ChoiceMethod,
  GenMetaInfo,
  MetaInfo,
  Role,
  SamplingOptions,
  SelectMetaInfo,
  TokenLogprobEntry,
  TopTokenLogprob,
} from './types.js';
