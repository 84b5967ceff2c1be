// Run as a child process by engine-lifecycle.test.ts: generates once and never calls close().
// The process must exit on its own once the request is done.
import { fixtureEngine } from './engine.js';

const engine = await fixtureEngine('qwen2');
const r = await engine.generate({ inputIds: [1, 2, 3], maxTokens: 4, temperature: 0 });
process.stdout.write(`generated ${r.tokenIds.length}\n`);
