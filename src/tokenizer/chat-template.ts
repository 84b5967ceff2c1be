import { Template } from '@huggingface/jinja';
import { ChatTemplateError } from './errors.js';

/** One chat turn as chat templates see it. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** The special-token strings a chat template may refer to (`{{ bos_token }}` …); unset ones are left out. */
export interface ChatTemplateTokens {
  readonly bos_token?: string;
  readonly eos_token?: string;
  readonly pad_token?: string;
  readonly unk_token?: string;
}

/**
 * A compiled Jinja chat template, rendered the way transformers' `apply_chat_template` does
 * (`@huggingface/jinja` applies trim_blocks / lstrip_blocks and provides `raise_exception`).
 */
export class ChatTemplate {
  private readonly template: Template;

  /** @throws ChatTemplateError when `source` does not parse; `origin` names where it came from. */
  constructor(source: string, origin: string) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`${origin}: chat template does not parse: ${(err as Error).message}`);
    }
  }

  /** @throws ChatTemplateError when rendering fails (e.g. the template calls `raise_exception`). */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean, tokens: ChatTemplateTokens): string {
    try {
      return this.template.render({ ...tokens, messages, add_generation_prompt: addGenerationPrompt });
    } catch (err) {
      throw new ChatTemplateError(`chat template failed to render: ${(err as Error).message}`);
    }
  }
}

/**
 * The default template from a `chat_template` field, which is either one string or (in some
 * checkpoints) a list of `{ name, template }` of which `default` is the one `apply_chat_template` uses.
 */
export function defaultChatTemplate(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    const named = raw.find((t: unknown) => (t as { name?: unknown })?.name === 'default') as { template?: unknown } | undefined;
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}
