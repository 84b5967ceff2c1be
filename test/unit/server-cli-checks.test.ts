import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { checkServeEngineOptions, listenError } from '../../src/cli/serve-checks.js';
import { parseServeArgs, type ServeConfig } from '../../src/cli/serve-args.js';
import { FIXTURES } from '../helpers/fixtures.js';

const qwen2 = join(FIXTURES, 'qwen2');
const engineOf = (argv: string[]) => (parseServeArgs(argv) as ServeConfig).engine;

t.test('engine-option errors name the flag, not the library field', async (t) => {
  const broken = mkdtempSync(join(tmpdir(), 'arbor-bad-config-'));
  writeFileSync(join(broken, 'config.json'), '{"architectures": ["LlamaForCausalLM"]}');
  const cases: [string[], RegExp][] = [
    [['--max-total-tokens', '10'], /^--max-total-tokens: must be larger than --max-running-requests \(64\)$/],
    [['--max-running-requests', '300', '--max-total-tokens', '200'], /^--max-total-tokens: must be larger than --max-running-requests \(300\)$/],
    [['--model-path', '/no/such/folder'], /^--model-path: "\/no\/such\/folder" has no config\.json \(not a Hugging Face model folder\)$/],
    [['--model-path', broken], /^--model-path: .*config\.json/],
    [['--model-path', qwen2, '--tp', '4'], /^--tp: tp=4 does not divide num_key_value_heads=2/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => checkServeEngineOptions(engineOf(argv)), { name: 'ServeArgsError', message }, argv.join(' '));
  }
  for (const argv of [[], ['--model-path', qwen2, '--tp', '2', '--max-total-tokens', '4096', '--context-length', '128']]) {
    t.doesNotThrow(() => checkServeEngineOptions(engineOf(argv)), `valid: ${argv.join(' ') || '(defaults)'}`);
  }
});

t.test('a listen failure names --port when the port is at fault, --host otherwise', async (t) => {
  const err = (code: string) => Object.assign(new Error(`listen ${code}`), { code });
  t.match(listenError(err('EADDRINUSE'), '127.0.0.1', 80), { flag: '--port', message: /^--port: cannot listen on 127\.0\.0\.1:80: listen EADDRINUSE/ });
  t.match(listenError(err('EACCES'), '127.0.0.1', 80), { flag: '--port' });
  for (const code of ['ENOTFOUND', 'EADDRNOTAVAIL', 'EAI_AGAIN', 'EAFNOSUPPORT']) {
    t.match(listenError(err(code), 'nowhere', 1), { flag: '--host', message: /^--host: cannot listen on nowhere:1/ }, code);
  }
});
