import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ChatTemplate, defaultChatTemplate } from './chat-template.js';
import type { ChatMessage, ChatTemplateTokens } from './chat-template.js';
import { ChatTemplateError, TokenizerError } from './errors.js';

type Json = Record<string, unknown>;

/** Options of {@link ModelTokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Add the tokenizer's special tokens (BOS and whatever tokenizer.json's post-processor adds), as
   * Hugging Face's `encode(text)` does. Default true. Pass false for an already rendered chat prompt,
   * which carries its own special tokens.
   */
  readonly addSpecialTokens?: boolean;
}

/** Options of {@link ModelTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, chat markers). Default false, as in Hugging Face. */
  readonly skipSpecialTokens?: boolean;
}

/** Options of {@link ModelTokenizer.applyChatTemplate}. */
export interface ChatTemplateOptions {
  /** End with the opening of an assistant turn. Default true. */
  readonly addGenerationPrompt?: boolean;
  /** A Jinja template to use instead of the model's. */
  readonly template?: string;
}

// Fields of tokenizer_config.json that hold a special token, as a string or an AddedToken object.
const SPECIAL_TOKEN_FIELDS = ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token'];

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json [+ generation_config.json,
 * chat_template.jinja]) with the special-token facts the engine needs: EOS ids, BOS, chat template.
 */
export class ModelTokenizer {
  /** Number of token ids the tokenizer knows (highest id + 1); the model's logits may be wider. */
  readonly vocabSize: number;
  /** Ids that end generation: tokenizer_config's eos_token, then generation_config's eos_token_id. */
  readonly eosTokenIds: readonly number[];
  /** The BOS id, when tokenizer_config names a bos_token that is in the vocabulary. */
  readonly bosTokenId: number | undefined;

  private readonly specialIds: ReadonlySet<number>;
  private readonly templateTokens: ChatTemplateTokens;
  private readonly chatTemplate: ChatTemplate | undefined;
  private readonly cleanUpSpaces: boolean;
  private readonly bosPolicy: 'keep' | 'prepend' | 'strip';

  private constructor(
    private readonly tokenizer: Tokenizer,
    config: Json,
    generationEos: readonly number[],
    chatTemplate: ChatTemplate | undefined,
  ) {
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const idOf = (field: string): number | undefined => {
      const content = config[field];
      return typeof content === 'string' ? tokenizer.token_to_id(content) : undefined;
    };
    this.bosTokenId = idOf('bos_token');
    const eos = idOf('eos_token');
    this.eosTokenIds = [...new Set([...(eos === undefined ? [] : [eos]), ...generationEos])];

    // The same set the library filters on when skipping special tokens: special added tokens and
    // tokenizer_config's additional_special_tokens.
    const special = new Set<number>();
    for (const [id, token] of tokenizer.get_added_tokens_decoder()) if (token.special) special.add(id);
    for (const content of (config['additional_special_tokens'] as string[] | undefined) ?? []) {
      const id = tokenizer.token_to_id(content);
      if (id !== undefined) special.add(id);
    }
    this.specialIds = special;

    const tokens: Record<string, string> = {};
    for (const field of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      if (typeof config[field] === 'string') tokens[field] = config[field];
    }
    this.templateTokens = tokens;
    this.chatTemplate = chatTemplate;
    // transformers ≥ 4.45 no longer cleans up spaces unless the config asks; the library's own
    // default is the old `true`, which would turn "bibliothèque ?" into "bibliothèque?".
    this.cleanUpSpaces = config['clean_up_tokenization_spaces'] === true;

    // add_bos_token, where a config sets it, overrides tokenizer.json's post-processor (what
    // transformers' Llama/Gemma fast tokenizers do); otherwise the post-processor decides.
    const postProcessorAddsBos =
      this.bosTokenId !== undefined && tokenizer.encode('', { add_special_tokens: true }).ids[0] === this.bosTokenId;
    const addBos = config['add_bos_token'];
    this.bosPolicy =
      addBos === true && !postProcessorAddsBos && this.bosTokenId !== undefined
        ? 'prepend'
        : addBos === false && postProcessorAddsBos
          ? 'strip'
          : 'keep';
  }

  /**
   * Loads the tokenizer files of a Hugging Face model folder.
   * @throws TokenizerError naming the file that is missing or malformed.
   */
  static async load(dir: string): Promise<ModelTokenizer> {
    const tokenizerPath = join(dir, 'tokenizer.json');
    const configPath = join(dir, 'tokenizer_config.json');
    const generationPath = join(dir, 'generation_config.json');
    const templatePath = join(dir, 'chat_template.jinja');
    const tokenizerJson = await readJson(tokenizerPath, true);
    const config = normaliseSpecialTokens((await readJson(configPath, true))!);
    const generation = await readJson(generationPath, false);
    const templateFile = await readText(templatePath, false);

    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson!, config);
    } catch (err) {
      throw new TokenizerError(`${tokenizerPath}: cannot build the tokenizer: ${(err as Error).message}`);
    }
    // transformers 5 writes the template to chat_template.jinja and prefers it over the config's.
    const source = templateFile ?? defaultChatTemplate(config['chat_template']);
    const origin = templateFile !== undefined ? templatePath : `${configPath} chat_template`;
    const chatTemplate = source === undefined ? undefined : new ChatTemplate(source, origin);
    const generationEos = generation === undefined ? [] : eosIdsOf(generation, generationPath);
    return new ModelTokenizer(tokenizer, config, generationEos, chatTemplate);
  }

  /** Token ids of `text`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const ids = this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    if (!addSpecialTokens) return ids;
    if (this.bosPolicy === 'prepend') ids.unshift(this.bosTokenId!);
    else if (this.bosPolicy === 'strip') ids.shift();
    return ids;
  }

  /** Text of `ids`; ids outside the vocabulary (padding rows of a wider LM head) decode to nothing. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const known = ids.every((id) => this.isKnown(id)) ? ids : ids.filter((id) => this.isKnown(id));
    if (known.length === 0) return '';
    return this.tokenizer.decode(known as number[], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /** The text of one token on its own (U+FFFD where it holds part of a multi-byte character). */
  tokenText(id: number): string {
    return this.decode([id]);
  }

  /** Whether `id` is a special token (skipped by `decode(…, { skipSpecialTokens: true })`). */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * Renders a conversation with the model's chat template (or `options.template`), passing
   * `messages`, `add_generation_prompt` and the special-token strings. Encode the result with
   * `addSpecialTokens: false`: the template already wrote the special tokens it wants.
   * @throws ChatTemplateError when the model has no chat_template and none is given, or rendering fails.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const template =
      options.template !== undefined ? new ChatTemplate(options.template, 'options.template') : this.chatTemplate;
    if (template === undefined) {
      throw new ChatTemplateError(
        'the model has no chat_template (neither tokenizer_config.json nor chat_template.jinja has one); pass options.template',
      );
    }
    return template.render(messages, options.addGenerationPrompt ?? true, this.templateTokens);
  }

  private isKnown(id: number): boolean {
    return this.tokenizer.id_to_token(id) !== undefined;
  }
}

async function readText(path: string, required: boolean): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new TokenizerError(`${path}: cannot read the file: ${(err as Error).message}`);
  }
}

async function readJson(path: string, required: boolean): Promise<Json | undefined> {
  const text = await readText(path, required);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerError(`${path}: expected a JSON object`);
  }
  return value as Json;
}

/** Checkpoints store special tokens either as strings or as `{ content: "…" }` AddedToken objects. */
function normaliseSpecialTokens(config: Json): Json {
  const contentOf = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && typeof (v as Json)['content'] === 'string' ? (v as Json)['content'] : v;
  const out: Json = { ...config };
  for (const field of SPECIAL_TOKEN_FIELDS) out[field] = contentOf(config[field]);
  if (Array.isArray(config['additional_special_tokens'])) {
    out['additional_special_tokens'] = config['additional_special_tokens'].map(contentOf).filter((v) => typeof v === 'string');
  }
  return out;
}

/** generation_config.json's eos_token_id: absent, one id, or a list of ids. */
function eosIdsOf(generation: Json, path: string): number[] {
  const raw = generation['eos_token_id'];
  if (raw === undefined || raw === null) return [];
  const ids = Array.isArray(raw) ? raw : [raw];
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(`${path}: field "eos_token_id" must be a token id or a list of them (got ${JSON.stringify(raw)})`);
    }
  }
  return ids as number[];
}
