/**
 * Runs a state's operations one after another in the order they were issued, whether or not the
 * program awaits each one (as SGLang's stream executor does), so `s.append('Q'); s.gen('a');
 * s.append('!')` writes in program order. After a failure the remaining operations are skipped and
 * reject with the same error.
 */
export class OpQueue {
  private tail: Promise<void> = Promise.resolve();
  private failed = false;
  private failure: unknown;

  /** The first error, if an operation failed. */
  get error(): unknown {
    return this.failure;
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /**
   * Queues `op`. The returned promise is already marked handled: a program need not await it (an
   * unawaited failure is kept in `error`, not raised as an unhandled rejection).
   */
  enqueue<T>(op: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(() => {
      if (this.failed) throw this.failure;
      return op();
    });
    this.tail = result.then(
      () => undefined,
      (err: unknown) => this.fail(err),
    );
    result.catch(() => {});
    return result;
  }

  /** Records a failure (the first one wins) so later operations are skipped. */
  fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  }

  /** Resolves when every operation queued so far has ended; never rejects. */
  drained(): Promise<void> {
    return this.tail;
  }
}
