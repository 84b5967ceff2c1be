import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Kernel clock ticks per second for /proc/stat (USER_HZ, 100 on every mainstream Linux build). */
const USER_HZ = 100;

interface Snapshot {
  readonly wallMs: number;
  /** Busy CPU time of the whole machine, ms. */
  readonly busyMs: number;
  /** CPU time of this process, ms. */
  readonly ownMs: number;
}

function snapshot(): Snapshot {
  // cpu  user nice system idle iowait irq softirq steal ...
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  const own = process.cpuUsage();
  return {
    wallMs: performance.now(),
    busyMs: ((user + nice + system + irq + softirq + steal) * 1000) / USER_HZ,
    ownMs: (own.user + own.system) / 1000,
  };
}

/**
 * Measures how much of the machine other processes use while a piece of work runs: on a shared
 * 2-core box that, not the code under test, is what moves timings 2–10×.
 */
export class OtherCpuMeter {
  private readonly start: Snapshot | null;

  private constructor() {
    this.start = existsSync('/proc/stat') ? snapshot() : null;
  }

  /** Starts measuring now. */
  static start(): OtherCpuMeter {
    return new OtherCpuMeter();
  }

  /** Share of all cores (0–1) used by other processes since start; NaN where /proc/stat is missing. */
  otherShare(): number {
    if (!this.start) return NaN;
    const end = snapshot();
    const capacity = (end.wallMs - this.start.wallMs) * cpus().length;
    const others = end.busyMs - this.start.busyMs - (end.ownMs - this.start.ownMs);
    return Math.max(0, others / capacity);
  }
}

/**
 * Waits (up to `maxWaitMs`) for a one-second window in which other processes use less than
 * `threshold` of the machine; returns the last window's share (NaN where it cannot be measured).
 */
export async function waitForQuiet(threshold: number, maxWaitMs: number): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const meter = OtherCpuMeter.start();
    await sleep(1000);
    const share = meter.otherShare();
    if (!(share >= threshold) || performance.now() >= deadline) return share;
  }
}
