import type { ModelTokenizer } from '../tokenizer/tokenizer.js';
import type { ChatRenderer } from './backend.js';
import { LangError } from './errors.js';
import type { ChatTurn, Role } from './types.js';

// Stands in for a turn's content while rendering; plain ASCII with no spaces, so templates that
// trim or split content leave it whole.
const CONTENT = 'ARBOR_ROLE_CONTENT_7f3a9c';

/**
 * The text a role block writes before and after its content, read off the model's chat template:
 * the history plus one turn whose content is a placeholder is rendered, and split at the
 * placeholder. So a role block produces exactly what the template would for that conversation,
 * including a default system turn the template inserts before the first user turn.
 */
export class RoleFormatter {
  constructor(private readonly render: ChatRenderer) {}

  /** What opens a `role` turn after `history`. */
  prefix(role: Role, history: readonly ChatTurn[]): string {
    const [head] = this.split(role, history);
    const before = history.length > 0 ? this.render(history) : '';
    // A template may render earlier turns differently once more follow (e.g. dropping reasoning);
    // that text is already written, so only what extends it is appended.
    let common = 0;
    while (common < before.length && common < head.length && before[common] === head[common]) common++;
    return head.slice(common);
  }

  /** What closes a `role` turn after `history` (the turn itself not included in `history`). */
  suffix(role: Role, history: readonly ChatTurn[]): string {
    return this.split(role, history)[1];
  }

  private split(role: Role, history: readonly ChatTurn[]): [string, string] {
    const text = this.render([...history, { role, content: CONTENT }]);
    const at = text.indexOf(CONTENT);
    if (at < 0) throw new LangError(role, 'the chat template does not write the content of a turn');
    return [text.slice(0, at), text.slice(at + CONTENT.length)];
  }
}

/**
 * Renders turns with a tokenizer's chat template. A leading BOS the template writes is dropped when
 * tokenizing adds one anyway (the program's text is tokenized with special tokens, as SGLang does),
 * so the prompt never starts with two.
 */
export function templateRenderer(tokenizer: ModelTokenizer): ChatRenderer {
  const bos = tokenizer.bosTokenId;
  const addsBos = bos !== undefined && tokenizer.encode('a')[0] === bos;
  const bosText = addsBos ? tokenizer.decode([bos]) : '';
  return (turns) => {
    const text = tokenizer.applyChatTemplate(turns, { addGenerationPrompt: false });
    return bosText && text.startsWith(bosText) ? text.slice(bosText.length) : text;
  };
}
