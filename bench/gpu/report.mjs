/**
 * Turns the JSON lines of bench/gpu/arbor-gpu.mjs and bench/gpu/hf_peer.py into issue 19's table
 * (target | ratio | min–max) for bench/RESULTS.md, then per-system medians, the agreement of the
 * two engines' outputs, and the raw rows.
 *
 *   node bench/gpu/report.mjs FILE.jsonl [MORE.jsonl …] [--out FILE.md]
 *
 * Ratios are per round (the systems of one round ran back to back on the same inputs): each side's
 * median over its repeats in that round, then the median and min–max of those per-round ratios. HF
 * is compared at its better precision per workload (the higher median), as issue 19 asks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt, loadPreset, median } from './lib.mjs';

const { values: opts, positionals: files } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } });
if (files.length === 0) {
  console.error('usage: node bench/gpu/report.mjs FILE.jsonl [MORE.jsonl …] [--out FILE.md]');
  process.exit(2);
}

/** @type {Record<string, any>[]} */
const rows = files.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`${f}:${i + 1}: not a JSON line`);
      }
    }),
);
const results = rows.filter((r) => r.kind === 'result');
const skipped = rows.filter((r) => r.kind === 'skipped');

const uniq = (xs) => [...new Set(xs)];
const pick = (filter) => results.filter((r) => Object.entries(filter).every(([k, v]) => r[k] === v));
const argmax = (xs) => xs.reduce((bi, x, i) => (x > xs[bi] ? i : bi), 0);
const range = (xs) => (xs.length ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}` : '–');

/** Per round: the median of one system's values for one workload. */
function perRound(model, system, workload) {
  const byRound = new Map();
  for (const r of pick({ model, system, workload })) byRound.set(r.round, [...(byRound.get(r.round) ?? []), r.value]);
  return new Map([...byRound].map(([round, vs]) => [round, median(vs)]));
}

/** The HF system (fp32 or bf16) with the higher median for a workload, or null without HF rows. */
function bestHf(model, workload) {
  const hf = uniq(pick({ model, engine: 'hf', workload }).map((r) => r.system));
  const scored = hf.map((s) => [s, median(pick({ model, system: s, workload }).map((r) => r.value))]);
  scored.sort((a, b) => b[1] - a[1]);
  return scored[0]?.[0] ?? null;
}

/** Ratios a ÷ b over the rounds both ran. */
function roundRatios(model, a, aWorkload, b, bWorkload) {
  const x = perRound(model, a, aWorkload);
  const y = perRound(model, b, bWorkload);
  return [...x].filter(([round]) => y.has(round)).map(([round, v]) => v / y.get(round));
}

/** prefill ÷ the MatMul measured right after it in the same process (the one marked as its divisor). */
function prefillRatios(model, system) {
  return pick({ model, system, workload: 'prefill' }).flatMap((p) => {
    const mm = results.find((r) => r.model === model && r.system === system && r.round === p.round && r.repeat === p.repeat && r.workload.startsWith('matmul-') && r.extra?.divisorOf === 'prefill');
    return mm ? [p.value / mm.value] : [];
  });
}

const lines = [];
const models = uniq(results.map((r) => r.model));
const times = results.map((r) => r.time).sort();
lines.push(`### GPU benchmarks (issue 19): arbor on the WebGPU EP vs Hugging Face transformers eager`);
lines.push('');
lines.push(`${times[0] ?? '?'} – ${times.at(-1) ?? '?'} · preset ${uniq(results.map((r) => r.preset)).join(', ')}`);
for (const m of uniq(results.map((r) => `${r.engine}: ${r.machine}`))) lines.push(`- ${m}`);
lines.push('');

for (const model of models) {
  const arborSystems = uniq(pick({ model, engine: 'arbor' }).map((r) => r.system));
  lines.push(`#### ${model}`);
  lines.push('');
  lines.push('| target | ratio (median) | min–max | n | goal |');
  lines.push('|---|---|---|---|---|');
  const row = (label, rs, goal, pass) => {
    const m = median(rs);
    const verdict = rs.length === 0 ? '' : pass(m) ? ' ✓' : ' ✗';
    lines.push(`| ${label} | ${rs.length ? `**${fmt(m)}**` : 'not run'} | ${range(rs)} | ${rs.length} | ${goal}${verdict} |`);
  };
  const ge = (g) => (m) => m >= g;
  for (const sys of arborSystems) {
    const vsHf = (label, workload, hfWorkload, goal, g) => {
      const hf = bestHf(model, hfWorkload);
      row(`${label}, ${sys} ÷ ${hf ?? 'HF eager'}${hfWorkload.startsWith('w1-') ? ` (${hfWorkload.slice(3)})` : ''}`, hf ? roundRatios(model, sys, workload, hf, hfWorkload) : [], goal, ge(g));
    };
    vsHf('W2 output tok/s', 'w2', 'w2', '≥ 3', 3);
    vsHf('W1 sequences/s', 'w1', 'w1-reuse', '≥ 1', 1);
    vsHf('W1 sequences/s', 'w1', 'w1-full', '≥ 5', 5);
    vsHf('W3 decode tok/s', 'w3', 'w3', '≥ 2', 2);
    const mm = results.find((r) => r.model === model && r.system === sys && r.extra?.divisorOf === 'prefill');
    row(`prefill GFLOP/s ÷ ${mm ? `${mm.workload.replace('matmul-', 'MatMul ')} ${mm.extra.n}³` : 'MatMul'} on the same EP, ${sys}`, prefillRatios(model, sys), '≥ 0.5', ge(0.5));
    const mem = pick({ model, system: sys, workload: 'mem' });
    if (mem.length) {
      const steps = uniq(mem.map((r) => `${r.extra.steps} ÷ ${r.extra.stepsFirst} steps, ${r.extra.source}`)).join('; ');
      row(`GPU memory after N ÷ after 100 decode steps (${steps}), ${sys}`, mem.map((r) => r.value), '≤ 1.05', (m) => m <= 1.05);
    }
  }
  lines.push('');
  lines.push('n: rounds for a ratio between systems (each side\'s median over its repeats in the round); runs for prefill ÷ MatMul (same process) and memory.');
  lines.push('');

  lines.push('| system | workload | median | min–max | n | metric | TTFT ms | p50 gap ms | notes |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const sys of uniq(pick({ model }).map((r) => r.system)))
    for (const w of uniq(pick({ model, system: sys }).map((r) => r.workload))) {
      const rs = pick({ model, system: sys, workload: w });
      const vs = rs.map((r) => r.value);
      const ex = (k) => {
        const xs = rs.map((r) => r.extra?.[k]).filter((x) => typeof x === 'number');
        return xs.length ? fmt(median(xs)) : '';
      };
      const notes = uniq(rs.map((r) => [r.extra?.cacheRepeat, r.extra?.batch && `batch ${r.extra.batch}`, r.attention && `${r.attention} attention`].filter(Boolean).join(', '))).join('; ');
      lines.push(`| ${sys} | ${w} | ${fmt(median(vs))} | ${range(vs)} | ${vs.length} | ${rs[0].metric} | ${ex('ttftMs') || ex('medianTtftMs')} | ${ex('p50GapMs')} | ${notes} |`);
    }
  lines.push('');

  // Same token ids in the same round: the engines' scores and greedy tokens should agree (fp32 closely).
  const hf32 = 'hf eager fp32';
  for (const sys of arborSystems) {
    const diffs = [];
    let sameBest = 0;
    let groups = 0;
    for (const a of pick({ model, system: sys, workload: 'w1' })) {
      const h = results.find((r) => r.model === model && r.system === hf32 && r.workload === 'w1-full' && r.round === a.round);
      if (!h) continue;
      a.extra.lps.forEach((x, i) => diffs.push(Math.abs(x - h.extra.lps[i])));
      const k = loadPreset(a.preset).w1.suffixes;
      for (let g = 0; g * k < a.extra.lps.length; g++) {
        groups++;
        if (argmax(a.extra.lps.slice(g * k, (g + 1) * k)) === argmax(h.extra.lps.slice(g * k, (g + 1) * k))) sameBest++;
      }
    }
    const w3a = pick({ model, system: sys, workload: 'w3' });
    let same = 0;
    let total = 0;
    for (const a of w3a) {
      const h = results.find((r) => r.model === model && r.system === hf32 && r.workload === 'w3' && r.round === a.round);
      if (!h) continue;
      a.extra.firstTokens.forEach((t, i) => {
        total++;
        if (t === h.extra.firstTokens[i]) same++;
      });
    }
    if (diffs.length || total)
      lines.push(`- ${sys} vs ${hf32}, same inputs: W1 |Δ log p(suffix)| median ${fmt(median(diffs))}, max ${fmt(Math.max(...diffs))} nats over ${diffs.length} sequences; W3 greedy tokens identical at ${same}/${total} positions (first 16 per run).${groups ? ` Best suffix identical in ${sameBest}/${groups} groups.` : ''}`);
  }
  lines.push('');
}

if (skipped.length) {
  lines.push(`Not run (deadline): ${skipped.map((s) => `${s.system} ${s.model} ${s.workload} round ${s.round}`).join('; ')}.`);
  lines.push('');
}

lines.push('<details><summary>raw rows</summary>');
lines.push('');
lines.push('| time | system | model | workload | round | repeat | value | metric | extra |');
lines.push('|---|---|---|---|---|---|---|---|---|');
const bulky = new Set(['lps', 'trajectory', 'firstTokens']);
for (const r of results) {
  const extra = Object.entries(r.extra ?? {})
    .filter(([k, v]) => !bulky.has(k) && v !== null)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`)
    .join(', ');
  lines.push(`| ${r.time} | ${r.system} | ${r.model} | ${r.workload} | ${r.round} | ${r.repeat} | ${fmt(r.value)} | ${r.metric} | ${extra} |`);
}
lines.push('');
lines.push('</details>');

const md = `${lines.join('\n')}\n`;
if (opts.out) writeFileSync(opts.out, md);
else process.stdout.write(md);
