import type { ChatRenderer, GenCall, GenOutcome, LangBackend, ScoredChoice } from '../../src/lang/index.js';

/** A request a {@link FakeBackend} received. */
export type FakeCall =
  | { kind: 'cachePrefix'; text: string }
  | { kind: 'generate'; text: string; streamed: boolean }
  | { kind: 'score'; text: string; choices: readonly string[]; unconditional: boolean };

/** ChatML, as the fixture models' template writes it. */
export const chatml: ChatRenderer = (turns) => turns.map((t) => `<|im_start|>${t.role}\n${t.content}<|im_end|>\n`).join('');

/**
 * A backend with no model, for the runtime's own semantics. `generate` answers `<last word>` (word: letters, digits, colons)
 * (after `delayMs(text)` ms, in pieces of one character when someone streams) and throws when
 * the text contains "FAIL"; a choice scores −(its length) per character, so the shortest wins.
 */
export class FakeBackend implements LangBackend {
  readonly calls: FakeCall[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly delayMs: (text: string) => number = () => 0) {}

  async cachePrefix(text: string): Promise<number> {
    this.calls.push({ kind: 'cachePrefix', text });
    return text.length;
  }

  async generate(call: GenCall): Promise<GenOutcome> {
    this.calls.push({ kind: 'generate', text: call.text, streamed: call.onText !== undefined });
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await sleep(this.delayMs(call.text));
      if (call.text.includes('FAIL')) throw new Error('fake backend: FAIL in the prompt');
      const word = call.text.match(/[\w:]+/g)?.pop() ?? '';
      const text = `<${word}>`.slice(0, call.options.maxTokens ?? 128);
      if (call.onText) {
        for (const ch of text) {
          call.onText(ch);
          await sleep(1);
        }
      }
      const meta = { kind: 'gen', promptTokens: call.text.length, completionTokens: text.length, cachedTokens: 0, finishReason: 'length' } as const;
      return { text, meta };
    } finally {
      this.inFlight--;
    }
  }

  async scoreChoices(text: string, choices: readonly string[], unconditional: boolean): Promise<ScoredChoice[]> {
    this.calls.push({ kind: 'score', text, choices, unconditional });
    return choices.map((c) => {
      const tokens = [...c].map((ch, i) => ({ token: i, logprob: -c.length, text: ch }));
      return unconditional ? { tokens, unconditional: tokens.map((t, i) => ({ ...t, logprob: i === 0 ? null : -1 })) } : { tokens };
    });
  }

  async chatRenderer(): Promise<ChatRenderer> {
    return chatml;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
