import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.js';
import type { EngineOptions } from '../engine/types.js';

const HELP = `Usage: arbor generate [--model-path DIR] --prompt TEXT [options]

Prints the model's continuation of TEXT as it is generated.

  --model-path DIR      Hugging Face model folder (default: the bundled arbor-tiny)
  --prompt TEXT         the prompt (required)
  --max-tokens N        new tokens at most (default 64)
  --temperature T       0 = greedy (default 0)
  --top-p P             nucleus sampling (default 1)
  --top-k K             keep the K most likely tokens (default -1: all)
  --seed N              seed for sampling
  --tp N                tensor-parallel shards: 1, 2 or 4 (default 1)
  --device D            cpu | webgpu (default cpu)
  --dtype D             cpu: fp32 | q8 | q4 (default fp32); webgpu: fp16 | fp32 | q4 (default fp16)
  --chat                wrap the prompt in the model's chat template as a user message
  -h, --help            this text
`;

/** `arbor generate`: the first thing a new user runs. */
export async function generateCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'model-path': { type: 'string' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string', default: '64' },
      temperature: { type: 'string', default: '0' },
      'top-p': { type: 'string', default: '1' },
      'top-k': { type: 'string', default: '-1' },
      seed: { type: 'string' },
      tp: { type: 'string', default: '1' },
      device: { type: 'string', default: 'cpu' },
      dtype: { type: 'string' },
      chat: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.prompt === undefined) throw new Error('--prompt is required (see arbor generate --help)');
  const number = (flag: string, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} must be a number (got "${v}")`);
    return n;
  };
  const options: EngineOptions = {
    tp: number('tp', values.tp),
    device: values.device as EngineOptions['device'],
    ...(values.dtype !== undefined && { dtype: values.dtype as EngineOptions['dtype'] }),
    onProgress: (p) => process.stderr.write(`\r${p.phase} ${p.done}/${p.total}   `),
  };
  if (values['model-path'] !== undefined) options.model = values['model-path'];
  const engine = await Engine.create(options);
  process.stderr.write('\n');
  try {
    const prompt = values.chat ? engine.tokenizer.applyChatTemplate([{ role: 'user', content: values.prompt }]) : values.prompt;
    const stream = engine.stream({
      ...(values.chat ? { inputIds: engine.tokenizer.encode(prompt, { addSpecialTokens: false }) } : { prompt }),
      maxTokens: number('max-tokens', values['max-tokens']),
      temperature: number('temperature', values.temperature),
      topP: number('top-p', values['top-p']),
      topK: number('top-k', values['top-k']),
      ...(values.seed !== undefined ? { seed: number('seed', values.seed) } : {}),
    });
    for await (const chunk of stream) process.stdout.write(chunk.text);
    process.stdout.write('\n');
  } finally {
    await engine.close();
  }
}
