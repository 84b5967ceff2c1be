import cliProgress from 'cli-progress';

/** A progress display for a batch: one tick per finished program. */
export interface BatchProgress {
  tick(): void;
  stop(): void;
}

/** Whether to draw a bar: asked for (the default) and writing to a terminal, never into a log or pipe. */
export function showProgress(option: boolean | undefined, stream: { readonly isTTY?: boolean } = process.stderr): boolean {
  return option !== false && stream.isTTY === true;
}

/** A cli-progress bar on stderr when {@link showProgress} says so; otherwise nothing is drawn. */
export function batchProgress(total: number, option: boolean | undefined): BatchProgress {
  if (!showProgress(option)) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: 'programs [{bar}] {value}/{total} | {percentage}% | ETA {eta_formatted}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: () => bar.increment(), stop: () => bar.stop() };
}
