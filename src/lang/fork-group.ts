/**
 * How `join` brings forked states back: `gather` (default) gives the parent each variable the
 * children made, as a list in child order (read with `getList`); `concatenate` also appends each
 * child's new text, in child order, to the parent's text.
 */
export type JoinMode = 'gather' | 'concatenate';

/**
 * The states made by `state.fork(n)`: they share the parent's text so far (and its cached KV).
 * Generic over the state type so this file needs nothing from state.ts (which builds it).
 */
export class ForkGroup<S> implements Iterable<S> {
  private joined: Promise<void> | undefined;

  constructor(
    readonly states: readonly S[],
    private readonly joinInto: (mode: JoinMode) => Promise<void>,
  ) {}

  get length(): number {
    return this.states.length;
  }

  /** The i-th forked state. */
  at(i: number): S {
    const s = this.states[i];
    if (!s) throw new RangeError(`fork has ${this.states.length} states; there is no state ${i}`);
    return s;
  }

  [Symbol.iterator](): Iterator<S> {
    return this.states[Symbol.iterator]();
  }

  /** Runs `fn` on every forked state at once and waits for all of them. */
  all<T>(fn: (s: S, i: number) => T | Promise<T>): Promise<T[]> {
    return Promise.all(this.states.map(async (s, i) => fn(s, i)));
  }

  /**
   * Waits for every forked state, then merges them into the parent (once; later calls return the
   * same promise). Rejects with a child's error when one failed, which also fails the parent.
   */
  join(mode: JoinMode = 'gather'): Promise<void> {
    this.joined ??= this.joinInto(mode);
    return this.joined;
  }
}
