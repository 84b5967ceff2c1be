#!/usr/bin/env node
import { generateCommand } from './generate.js';
import { serveCommand } from './serve.js';

const HELP = `Usage: arbor <command> [options]

Commands:
  serve      SGLang/OpenAI-compatible HTTP server (arbor serve --help)
  generate   print a model's continuation of a prompt (arbor generate --help)
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'serve') return serveCommand(rest);
  if (command === 'generate') return generateCommand(rest);
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return;
  }
  throw new Error(`unknown command "${command}"\n${HELP}`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`arbor: ${(e as Error).message}\n`);
  process.exit(1);
});
