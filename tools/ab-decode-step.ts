/**
 * A/B of the engine's decode step between two builds (e.g. dist/ before and after a change), in
 * one run, interleaved so the machine's drift hits both alike.
 *
 *   npx tsx tools/ab-decode-step.ts --a .before-dist --b dist [--model bench/models/bench-135m]
 *       [--batch 64] [--prompt 128] [--out 32] [--pairs 3] [--threads 2] [--dtype fp32]
 *
 * Each measurement is a fresh child process running `Engine` from that build: `batch` greedy
 * streams of `prompt` random tokens decoding `out` tokens (EOS ignored). The step time is the
 * decode window (from the last request's first token to the first request's last token, where
 * every request decodes) divided by the steps inside it. Before timing, each child waits (up to
 * 60 s) for a quiet second; it reports the share of the machine other processes used meanwhile.
 * Prints each pair and the median ratio.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { OtherCpuMeter, waitForQuiet } from './lib/cpu-load.js';

const { values: o } = parseArgs({
  options: {
    a: { type: 'string', default: '.before-dist' },
    b: { type: 'string', default: 'dist' },
    model: { type: 'string', default: 'bench/models/bench-135m' },
    batch: { type: 'string', default: '64' },
    prompt: { type: 'string', default: '128' },
    out: { type: 'string', default: '32' },
    pairs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    dtype: { type: 'string', default: 'fp32' },
    child: { type: 'string' },
  },
});

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function child(dist: string): Promise<void> {
  const { Engine } = (await import(pathToFileURL(resolve(dist, 'index.js')).href)) as typeof import('../src/index.js');
  const engine = await Engine.create({ model: resolve(o.model!), dtype: o.dtype as 'fp32', threadsPerShard: Number(o.threads), kvCacheTokens: 32768, maxRunningRequests: Math.max(64, Number(o.batch)) });
  let x = 12345;
  const prompt = () => Array.from({ length: Number(o.prompt) }, () => 3 + ((x = (x * 1103515245 + 12345) % 2147483648) % 40000));
  const run = async (batch: number, out: number) => {
    const stamps = await Promise.all(
      Array.from({ length: batch }, async () => {
        const t: number[] = [];
        for await (const c of engine.stream({ inputIds: prompt(), maxTokens: out, temperature: 0, ignoreEos: true })) {
          for (let i = 0; i < c.tokenIds.length; i++) t.push(performance.now());
        }
        return t;
      }),
    );
    const from = Math.max(...stamps.map((s) => s[0]!));
    const to = Math.min(...stamps.map((s) => s.at(-1)!));
    const steps = stamps[0]!.filter((t) => t > from && t <= to).length;
    return (to - from) / Math.max(1, steps);
  };
  await run(4, 4); // warm-up
  await waitForQuiet(0.1, 60_000);
  const meter = OtherCpuMeter.start();
  const ms = await run(Number(o.batch), Number(o.out));
  const others = meter.otherShare();
  await engine.close();
  console.log(JSON.stringify({ stepMs: ms, others }));
}

function measure(dist: string): { stepMs: number; others: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, ...process.argv.slice(2), '--child', dist], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child for ${dist} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as { stepMs: number; others: number };
}

if (o.child) await child(o.child);
else {
  const ratios: number[] = [];
  for (let p = 0; p < Number(o.pairs); p++) {
    const first = p % 2 === 0 ? 'a' : 'b';
    const t: Record<string, { stepMs: number; others: number }> = {};
    for (const k of first === 'a' ? ['a', 'b'] : ['b', 'a']) t[k] = measure(k === 'a' ? o.a! : o.b!);
    const [a, b] = [t['a']!, t['b']!];
    ratios.push(a.stepMs / b.stepMs);
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    console.log(`pair ${p + 1}: a ${a.stepMs.toFixed(2)} ms/step (others' CPU ${pct(a.others)}), b ${b.stepMs.toFixed(2)} ms/step (${pct(b.others)}), a ÷ b ${(a.stepMs / b.stepMs).toFixed(3)}`);
  }
  console.log(`batch ${o.batch}, prompt ${o.prompt}, ${o.out} out, ${o.model} ${o.dtype}: median a ÷ b = ${median(ratios).toFixed(3)} over ${ratios.length} pairs`);
}
