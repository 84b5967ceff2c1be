import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseServeArgs, SERVE_HELP, ServeArgsError } from '../../src/cli/serve-args.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/server/server.js';
import { DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST, DEFAULT_MAX_PROMPTS_PER_REQUEST } from '../../src/server/request-limits.js';

t.test('defaults: bundled model, 127.0.0.1:30000', async (t) => {
  t.same(parseServeArgs([]), {
    host: '127.0.0.1',
    port: 30000,
    engine: {},
    servedModelName: undefined,
    apiKey: undefined,
    chatTemplate: undefined,
    enableMetrics: false,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    maxPromptsPerRequest: DEFAULT_MAX_PROMPTS_PER_REQUEST,
    maxPromptTokensPerRequest: DEFAULT_MAX_PROMPT_TOKENS_PER_REQUEST,
    serverArgs: { host: '127.0.0.1', port: 30000 },
  });
  t.equal(parseServeArgs(['--help']), 'help');
  t.equal(parseServeArgs(['-h']), 'help');
});

t.test('every flag maps to its option', async (t) => {
  const config = parseServeArgs([
    '--model-path', '/models/x', '--host', '0.0.0.0', '--port', '8080', '--tp-size', '2', '--dtype', 'q8',
    '--max-running-requests', '16', '--max-total-tokens', '4096', '--chunked-prefill-size', '256',
    '--schedule-policy', 'fcfs', '--disable-radix-cache', '--context-length', '1024', '--api-key', 'k',
    '--served-model-name', 'mine', '--chat-template', '{{ messages[0].content }}', '--enable-metrics', '--max-body-bytes', '1000',
    '--max-queued-requests', '50', '--max-prompts-per-request', '10', '--max-prompt-tokens-per-request', '300',
  ]);
  t.same(config, {
    host: '0.0.0.0',
    port: 8080,
    engine: { model: '/models/x', tp: 2, dtype: 'q8', maxRunningRequests: 16, kvCacheTokens: 4096, chunkedPrefillSize: 256, schedulePolicy: 'fcfs', radixCache: false, contextLength: 1024, maxQueuedRequests: 50 },
    servedModelName: 'mine',
    apiKey: 'k',
    chatTemplate: '{{ messages[0].content }}',
    enableMetrics: true,
    maxBodyBytes: 1000,
    maxPromptsPerRequest: 10,
    maxPromptTokensPerRequest: 300,
    serverArgs: { host: '0.0.0.0', port: 8080 },
  });
  t.match(parseServeArgs(['--tp', '4']), { engine: { tp: 4 } }, '--tp is --tp-size');
});

t.test('--chat-template reads a file', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'arbor-tpl-')), 'chat.jinja');
  writeFileSync(file, '{% for m in messages %}{{ m.content }}{% endfor %}');
  t.match(parseServeArgs(['--chat-template', file]), { chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' });
});

t.test('--device webgpu selects the WebGPU shards and its precisions', async (t) => {
  const args = parseServeArgs(['--device', 'webgpu', '--dtype', 'fp16']);
  t.not(args, 'help');
  if (args !== 'help') t.match(args.engine, { device: 'webgpu', dtype: 'fp16' });
});

t.test('bad flags are named', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /^--bogus: Unknown option/],
    [['--port', 'abc'], /^--port: must be an integer in \[0, 65535\]/],
    [['--port', '70000'], /^--port: must be an integer/],
    [['--tp', '2', '--tp-size', '4'], /^--tp: --tp 2 and --tp-size 4 disagree/],
    [['--dtype', 'fp16'], /^--dtype: must be one of fp32, q8, q4/],
    [['--device', 'webgpu', '--dtype', 'q8'], /^--dtype: must be one of fp16, fp32, q4/],
    [['--device', 'cuda'], /^--device: must be one of cpu, webgpu/],
    [['--schedule-policy', 'random'], /^--schedule-policy: must be one of lpm, fcfs/],
    [['--max-total-tokens', '0'], /^--max-total-tokens: must be an integer in \[1,/],
    [['--context-length', '1.5'], /^--context-length: must be an integer/],
    [['--max-body-bytes=-1'], /^--max-body-bytes: must be an integer/],
    [['--api-key', ''], /^--api-key: must not be empty/],
    [['--chat-template', 'no-such-file'], /^--chat-template: "no-such-file" is neither a file nor a Jinja template/],
    [['--chat-template', '{% for %}'], /^--chat-template: --chat-template: chat template does not parse/],
    [['--port'], /^--port: Option '--port <value>' argument missing/],
  ];
  for (const [argv, message] of cases) t.throws(() => parseServeArgs(argv), { name: 'ServeArgsError', message }, argv.join(' '));
  t.type(new ServeArgsError('--x', 'y'), Error);
});

t.test('--help documents every flag', async (t) => {
  for (const flag of ['--model-path', '--host', '--port', '--tp', '--tp-size', '--device', '--dtype', '--max-running-requests', '--max-total-tokens', '--chunked-prefill-size', '--schedule-policy', '--disable-radix-cache', '--context-length', '--api-key', '--served-model-name', '--chat-template', '--enable-metrics', '--max-body-bytes', '--help']) {
    t.match(SERVE_HELP, new RegExp(`${flag}\\b`), flag);
  }
});
