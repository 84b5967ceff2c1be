import { OtherCpuMeter } from '../../tools/lib/cpu-load.js';
import { EventLoopWatch, type LoopFigures } from './event-loop-watch.js';
import { startHealthProbe, type ProbeFigures } from './fuzz/health-probe.js';

/** How responsive the server stayed while a piece of work ran. */
export interface Responsiveness {
  /** /health, probed from a worker thread. */
  readonly health: ProbeFigures;
  /** This thread's event loop: the server's and its engine front's. */
  readonly loop: LoopFigures;
  /** Share of the machine other processes used meanwhile (NaN where it cannot be measured). */
  readonly others: number;
}

/** Runs `work` while probing `${url}/health` and watching this thread's event loop. */
export async function whileProbing<T>(url: string, work: () => Promise<T>): Promise<{ result: T } & Responsiveness> {
  const probe = startHealthProbe(url);
  const watch = new EventLoopWatch();
  const meter = OtherCpuMeter.start();
  try {
    const result = await work();
    return { result, health: await probe.stop(), loop: watch.stop(), others: meter.otherShare() };
  } catch (err) {
    watch.stop();
    await probe.stop();
    throw err;
  }
}
