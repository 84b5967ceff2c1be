/**
 * The first thing to run on the GPU machine: proves the carried Node, node_modules and dist work
 * (the bundled model, 8 greedy tokens on the CPU EP) and prints where it ran.
 *   tools/device/run-on-device.sh tools/device/smoke.ts
 */
import { cpus } from 'node:os';
import { Engine } from '../../dist/index.js';

const engine = await Engine.create();
const t0 = performance.now();
const r = await engine.generate({ prompt: 'Once upon a time', maxTokens: 8, temperature: 0 });
console.log(JSON.stringify({ node: process.version, cpus: cpus().length, text: r.text, tokens: r.usage.completionTokens, ms: Math.round(performance.now() - t0) }));
await engine.close();
