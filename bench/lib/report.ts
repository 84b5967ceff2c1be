/**
 * Writes a workload's results: one JSON line per run under bench/results/ (git-ignored) and the
 * latest table for (workload, model, dtype) in bench/RESULTS.md, replacing that section in place.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, fmt, machineLine, max, median, min, ratios } from './common.js';
import type { PairedResult, Sample } from './common.js';

export interface RatioRow {
  /** e.g. "arbor ÷ node-llama-cpp". */
  readonly label: string;
  readonly a: string;
  readonly b: string;
  /** When lower is better (latencies), the ratio is b / a so that > 1 still means "a is better". */
  readonly lowerIsBetter?: boolean;
  /** The target from BENCHMARKS.md / the issue, printed next to the ratio. */
  readonly target?: string;
  /** Ratio of this extra field instead of the headline value. */
  readonly key?: string;
}

export interface WorkloadReport {
  readonly key: string;
  readonly title: string;
  readonly metric: string;
  readonly settings: string;
  /** Reductions against BENCHMARKS.md's definition, said plainly. */
  readonly notes: readonly string[];
  readonly result: PairedResult;
  readonly rows: readonly RatioRow[];
  /** Extra per-system medians to print (name → label → value). */
  readonly extraColumns?: readonly { label: string; key: string; digits?: number }[];
  /** Free-form lines under the table (e.g. agreement checks). */
  readonly footer?: readonly string[];
}

export function summarize(r: WorkloadReport): { markdown: string; json: Record<string, unknown> } {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const machine = machineLine();
  const lines: string[] = [];
  lines.push(`### ${r.title}`);
  lines.push('');
  lines.push(`${date} · ${machine}`);
  lines.push('');
  lines.push(`Settings: ${r.settings}. Metric: ${r.metric}.`);
  const nPairs = Math.min(...[...r.result.samples.values()].map((x) => x.length));
  if (nPairs < 5) lines.push(`- REDUCED: ${nPairs} pairs (BENCHMARKS.md asks for ≥ 5) to keep the run near 10 minutes on this machine.`);
  for (const n of r.notes) lines.push(`- ${n}`);
  lines.push('');
  const sysNames = [...r.result.samples.keys()];
  const extra = r.extraColumns ?? [];
  lines.push(`| system | median ${r.metric} | min–max | ${extra.map((e) => `median ${e.label}`).join(' | ')}${extra.length ? ' | ' : ''}others' CPU (median) |`);
  lines.push(`|---|---|---|${extra.map(() => '---|').join('')}---|`);
  const perSystem: Record<string, unknown> = {};
  for (const name of sysNames) {
    const s = r.result.samples.get(name)!;
    const vals = s.map((x) => x.value);
    const ex = extra.map((e) => {
      const xs = s.map((x) => Number(x.extra?.[e.key])).filter((x) => Number.isFinite(x));
      return xs.length ? fmt(median(xs), e.digits ?? 3) : '–';
    });
    const oth = r.result.others.get(name)!;
    lines.push(`| ${name} | ${fmt(median(vals))} | ${fmt(min(vals))}–${fmt(max(vals))} | ${ex.join(' | ')}${ex.length ? ' | ' : ''}${(median(oth) * 100).toFixed(0)}% |`);
    perSystem[name] = { values: vals, extra: s.map((x) => x.extra ?? {}), others: oth };
  }
  lines.push('');
  lines.push('| ratio (per pair) | median | min–max | pairs | target |');
  lines.push('|---|---|---|---|---|');
  const ratioJson: Record<string, number[]> = {};
  for (const row of r.rows) {
    const a = r.result.samples.get(row.a);
    const b = r.result.samples.get(row.b);
    if (!a || !b) continue;
    const pick = (xs: readonly Sample[]) => (row.key ? xs.map((x) => ({ value: Number(x.extra?.[row.key!]) })) : xs);
    const rs = row.lowerIsBetter ? ratios(pick(b), pick(a)) : ratios(pick(a), pick(b));
    ratioJson[row.label] = rs;
    lines.push(`| ${row.label} | **${fmt(median(rs))}** | ${fmt(min(rs))}–${fmt(max(rs))} | ${rs.length} | ${row.target ?? ''} |`);
  }
  if (r.footer?.length) {
    lines.push('');
    for (const f of r.footer) lines.push(f);
  }
  return {
    markdown: lines.join('\n'),
    json: { key: r.key, date, machine, settings: r.settings, notes: r.notes, metric: r.metric, systems: perSystem, ratios: ratioJson, footer: r.footer ?? [] },
  };
}

const HEADER = `# arbor — benchmark results

Latest table per workload, written by \`npm run bench -- <workload>\` (bench/README.md). Every claim is a
ratio of two systems measured in the same run, interleaved (A B A B …); the ratio column is the
median of the per-pair ratios with their min–max. "others' CPU" is the share of the machine that
other processes used during a system's runs (this box is shared; see bench/README.md).
`;

export function publish(r: WorkloadReport): void {
  const { markdown, json } = summarize(r);
  console.log(`\n${markdown}\n`);
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  appendFileSync(join(resultsDir, `${r.key.split(' ')[0]!.toLowerCase()}.jsonl`), `${JSON.stringify(json)}\n`);
  publishSection(r.key, markdown);
}

/** Replaces (or appends) the section `key` of bench/RESULTS.md with `markdown`. */
export function publishSection(key: string, markdown: string): void {
  const path = join(BENCH_DIR, 'RESULTS.md');
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : HEADER;
  const begin = `<!-- BEGIN ${key} -->`;
  const end = `<!-- END ${key} -->`;
  const block = `${begin}\n${markdown}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, doc);
}
