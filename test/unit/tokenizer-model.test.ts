import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelTokenizer } from '../../src/tokenizer/tokenizer.js';
import { ChatTemplateError, TokenizerError } from '../../src/tokenizer/errors.js';
import { FIXTURES } from '../helpers/fixtures.js';

const TOKENIZER_DIR = join(FIXTURES, 'tokenizer');
const reference = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer-reference.json'), 'utf8')) as {
  text: string;
  ids: number[];
  chat: { messages: { role: string; content: string }[]; rendered: string; ids: number[] };
};
// The fixture's special tokens: <|endoftext|> = 0 (bos/eos/pad), <|im_start|> = 1, <|im_end|> = 2.
const ENDOFTEXT = 0;
const IM_START = 1;
const IM_END = 2;

type Json = Record<string, unknown>;

/** A copy of the fixture tokenizer folder with edited files (null deletes a file). */
function variant(edit: { config?: (c: Json) => void; tokenizer?: (j: Json) => void; files?: Record<string, string | null> }): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-tokenizer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(TOKENIZER_DIR, dir, { recursive: true });
  const rewrite = (name: string, fn?: (j: Json) => void) => {
    if (!fn) return;
    const json = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Json;
    fn(json);
    writeFileSync(join(dir, name), JSON.stringify(json));
  };
  rewrite('tokenizer_config.json', edit.config);
  rewrite('tokenizer.json', edit.tokenizer);
  for (const [name, content] of Object.entries(edit.files ?? {})) {
    if (content === null) rmSync(join(dir, name), { force: true });
    else writeFileSync(join(dir, name), content);
  }
  return dir;
}

t.test('encodes and decodes the reference text exactly as Hugging Face tokenizers', async (t) => {
  const tok = await ModelTokenizer.load(TOKENIZER_DIR);
  t.same(tok.encode(reference.text), reference.ids);
  t.same(tok.encode(reference.text, { addSpecialTokens: false }), reference.ids);
  // "bibliothèque ?" survives: no clean-up of spaces unless the config asks for it.
  t.equal(tok.decode(reference.ids), reference.text);
  t.equal(tok.vocabSize, 512);
  t.equal(tok.bosTokenId, ENDOFTEXT);
  t.same(tok.eosTokenIds, [ENDOFTEXT]);
});

t.test('renders the chat template as transformers does', async (t) => {
  const tok = await ModelTokenizer.load(TOKENIZER_DIR);
  const rendered = tok.applyChatTemplate(reference.chat.messages);
  t.equal(rendered, reference.chat.rendered);
  t.same(tok.encode(rendered, { addSpecialTokens: false }), reference.chat.ids);
  const noPrompt = tok.applyChatTemplate(reference.chat.messages, { addGenerationPrompt: false });
  t.equal(noPrompt, reference.chat.rendered.slice(0, -'<|im_start|>assistant\n'.length));
  const custom = tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { template: '{{ bos_token }}[{{ messages[0].content }}]{{ eos_token }}' });
  t.equal(custom, '<|endoftext|>[hi]<|endoftext|>');
});

t.test('special tokens: decode can skip them, tokenText shows one token', async (t) => {
  const tok = await ModelTokenizer.load(TOKENIZER_DIR);
  const ids = reference.chat.ids;
  t.match(tok.decode(ids), /^<\|im_start\|>user\n/);
  t.equal(tok.decode(ids, { skipSpecialTokens: true }), reference.chat.rendered.replace(/<\|im_(start|end)\|>/g, ''));
  t.ok(tok.isSpecial(IM_START) && tok.isSpecial(IM_END) && tok.isSpecial(ENDOFTEXT));
  t.notOk(tok.isSpecial(reference.ids[0]!));
  t.equal(tok.tokenText(IM_END), '<|im_end|>');
  const ascii = tok.encode('Hello, world! The quick brown fox');
  t.equal(ascii.map((id) => tok.tokenText(id)).join(''), 'Hello, world! The quick brown fox');
  // A token holding part of a multi-byte character shows U+FFFD on its own.
  const cjk = tok.encode('你');
  t.ok(cjk.length > 1 && tok.tokenText(cjk[0]!).includes('\uFFFD'));
  t.equal(tok.decode([]), '');
  t.equal(tok.decode([600, ...tok.encode('ok'), 100000]), 'ok', 'ids beyond the vocabulary decode to nothing');
});

t.test('BOS follows add_bos_token, else the post-processor', async (t) => {
  const prepend = await ModelTokenizer.load(variant({ config: (c) => (c['add_bos_token'] = true) }));
  t.same(prepend.encode('Hello'), [ENDOFTEXT, ...reference.ids.slice(0, 3)]);
  t.same(prepend.encode('Hello', { addSpecialTokens: false }), reference.ids.slice(0, 3));

  const bosTemplate = (j: Json) => {
    j['post_processor'] = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [ENDOFTEXT], tokens: ['<|endoftext|>'] } },
    };
  };
  const byPostProcessor = await ModelTokenizer.load(variant({ tokenizer: bosTemplate }));
  t.same(byPostProcessor.encode('Hello'), [ENDOFTEXT, ...reference.ids.slice(0, 3)]);
  t.same(byPostProcessor.encode('Hello', { addSpecialTokens: false }), reference.ids.slice(0, 3));
  const stripped = await ModelTokenizer.load(variant({ tokenizer: bosTemplate, config: (c) => (c['add_bos_token'] = false) }));
  t.same(stripped.encode('Hello'), reference.ids.slice(0, 3));
});

t.test('EOS ids come from tokenizer_config and generation_config', async (t) => {
  const dir = variant({
    config: (c) => (c['eos_token'] = { __type: 'AddedToken', content: '<|im_end|>', special: true }),
    files: { 'generation_config.json': JSON.stringify({ eos_token_id: [IM_END, ENDOFTEXT] }) },
  });
  const tok = await ModelTokenizer.load(dir);
  t.same(tok.eosTokenIds, [IM_END, ENDOFTEXT]);
  const single = await ModelTokenizer.load(variant({ files: { 'generation_config.json': JSON.stringify({ eos_token_id: IM_START }) } }));
  t.same(single.eosTokenIds, [ENDOFTEXT, IM_START]);
  const bad = variant({ files: { 'generation_config.json': JSON.stringify({ eos_token_id: 'x' }) } });
  await t.rejects(ModelTokenizer.load(bad), { name: 'TokenizerError', message: /generation_config\.json.*eos_token_id/ });
});

t.test('chat template: config field when there is no chat_template.jinja, a typed error when neither', async (t) => {
  const fromConfig = await ModelTokenizer.load(variant({ files: { 'chat_template.jinja': null } }));
  t.equal(fromConfig.applyChatTemplate(reference.chat.messages), reference.chat.rendered);
  const fromFile = await ModelTokenizer.load(variant({ files: { 'chat_template.jinja': '{{ messages | length }}' } }));
  t.equal(fromFile.applyChatTemplate(reference.chat.messages), '3', 'chat_template.jinja wins over the config');

  const none = await ModelTokenizer.load(variant({ config: (c) => delete c['chat_template'], files: { 'chat_template.jinja': null } }));
  t.throws(() => none.applyChatTemplate(reference.chat.messages), ChatTemplateError);
  t.throws(() => none.applyChatTemplate(reference.chat.messages), /has no chat_template/);
  t.equal(none.applyChatTemplate([{ role: 'user', content: 'x' }], { template: '{{ messages[0].role }}' }), 'user');
  t.throws(() => none.applyChatTemplate([], { template: '{% if %}' }), /options\.template/);
  t.throws(() => none.applyChatTemplate([], { template: "{{ raise_exception('no system role') }}" }), /no system role/);
});

t.test('missing or malformed files are typed errors naming the file', async (t) => {
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    const dir = variant({ files: { [name]: null } });
    const err = await ModelTokenizer.load(dir).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof TokenizerError, `${name} missing → TokenizerError`);
    t.match((err as Error).message, join(dir, name));
  }
  await t.rejects(ModelTokenizer.load(variant({ files: { 'tokenizer.json': '{ not json' } })), { name: 'TokenizerError', message: /tokenizer\.json: not valid JSON/ });
  await t.rejects(ModelTokenizer.load(variant({ files: { 'tokenizer_config.json': '[]' } })), { message: /tokenizer_config\.json: expected a JSON object/ });
});
