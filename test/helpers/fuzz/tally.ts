import type { Verdict } from './judge.js';
import type { FuzzRequest } from './requests.js';

/** What a fuzz run counted (plain data, so that it can cross threads). */
export interface FuzzFigures {
  readonly sent: number;
  readonly aborted: number;
  readonly serverErrors: number;
  readonly unnamed: number;
  readonly badShape: number;
  readonly network: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /** The first findings, one per distinct message, each with the request that caused it. */
  readonly findings: readonly string[];
}

/** Counts verdicts as they come. */
export class FuzzTally {
  private sent = 0;
  private aborted = 0;
  private serverErrors = 0;
  private unnamed = 0;
  private badShape = 0;
  private network = 0;
  private readonly byStatus = new Map<string, number>();
  private readonly findings: string[] = [];
  private readonly seen = new Set<string>();

  add(r: FuzzRequest, v: Verdict): void {
    this.sent++;
    const key = String(v.status);
    this.byStatus.set(key, (this.byStatus.get(key) ?? 0) + 1);
    if (v.status === 'aborted') this.aborted++;
    if (v.problem === 'server error') this.serverErrors++;
    if (v.problem === 'unnamed') this.unnamed++;
    if (v.problem === 'error shape') this.badShape++;
    if (v.problem === 'network') this.network++;
    // Shrinking repeats a finding with ever smaller values: one per message with digits blanked.
    const shape = `${v.problem} ${v.message?.replace(/\d+/g, '#').slice(0, 60)}`;
    if (v.problem && this.findings.length < 20 && !this.seen.has(shape)) {
      this.seen.add(shape);
      this.findings.push(`${v.problem} ${v.status} ${JSON.stringify(v.message)} <- ${r.method} ${r.path} ${JSON.stringify(r.headers)} ${(r.body ?? '').slice(0, 200)} (expect ${JSON.stringify(r.expect)})`);
    }
  }

  figures(): FuzzFigures {
    const { sent, aborted, serverErrors, unnamed, badShape, network } = this;
    return { sent, aborted, serverErrors, unnamed, badShape, network, byStatus: Object.fromEntries(this.byStatus), findings: [...this.findings] };
  }
}

/** The figures in one line. */
export function summarize(f: FuzzFigures): string {
  const statuses = Object.entries(f.byStatus)
    .sort()
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ');
  return `${f.sent} requests (${statuses}); 5xx ${f.serverErrors}, 4xx without the field ${f.unnamed}, bad error shape ${f.badShape}, network errors ${f.network}`;
}

/** Requests that broke a rule. */
export function problemCount(f: FuzzFigures): number {
  return f.serverErrors + f.unnamed + f.badShape + f.network;
}
