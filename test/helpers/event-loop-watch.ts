import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** The longest time this thread went without turning its event loop, and how much of it was its own work. */
export interface LoopFigures {
  /** Longest gap between two ticks of a 5 ms timer, wall clock. */
  readonly worstGapMs: number;
  /**
   * CPU time this (main) thread spent inside that kind of gap, worst gap: the event loop blocked
   * by the thread's own work (JS, GC), not by the machine's other threads taking its cores.
   */
  readonly worstBlockedMs: number;
}

const TICK_MS = 5;
/** Linux reports thread CPU time in clock ticks of 10 ms (USER_HZ 100). */
const CLOCK_TICK_MS = 10;

/** utime + stime of the main thread in ms (its task id is the process id), from procfs. */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

/**
 * Watches this thread's event loop: a shared test machine can deschedule a responsive server for
 * a while, so each gap's wall time is paired with the thread's own CPU time in it.
 */
export class EventLoopWatch {
  private worstGapMs = 0;
  private worstBlockedMs = 0;
  private last = performance.now();
  private lastCpu = mainThreadCpuMs();
  private readonly timer = setInterval(() => this.tick(), TICK_MS);

  private tick(): void {
    const now = performance.now();
    const cpu = mainThreadCpuMs();
    const gap = now - this.last;
    if (gap > this.worstGapMs) this.worstGapMs = gap;
    // Within one clock tick of the gap, at most: the counter's resolution.
    const blocked = Math.min(cpu - this.lastCpu, gap + CLOCK_TICK_MS);
    if (blocked > this.worstBlockedMs) this.worstBlockedMs = blocked;
    this.last = now;
    this.lastCpu = cpu;
  }

  stop(): LoopFigures {
    clearInterval(this.timer);
    this.tick();
    return { worstGapMs: this.worstGapMs, worstBlockedMs: this.worstBlockedMs };
  }
}
