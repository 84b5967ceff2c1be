/** What the queue needs of a waiting request: the order it arrived in. */
export interface Queued {
  readonly arrival: number;
}

/**
 * The scheduler's waiting requests, first to be admitted first. A plain array made big batches
 * quadratic: `shift()` copies the whole array once it outgrows V8's small-object space, and
 * removing an aborted request by `indexOf` + `splice` is O(n) per abort — 200,000 queued prompts
 * whose client left took minutes to cancel. Here admission, retraction and removal are O(1):
 * entries live in an array read from a head index (compacted when half of it is consumed), and a
 * removed entry stays in the array as a tombstone, skipped when reached.
 */
export class WaitingQueue<T extends Queued> {
  private items: T[] = [];
  private head = 0;
  private readonly live = new Set<T>();
  /** Whether the live entries are in arrival order (then fcfs needs no sort). */
  private byArrival = true;

  /** Requests waiting (removed ones not counted). */
  get length(): number {
    return this.live.size;
  }

  has(r: T): boolean {
    return this.live.has(r);
  }

  /** Adds a newly submitted request at the back. */
  push(r: T): void {
    this.add(r);
    const last = this.items.at(-1);
    if (last !== undefined && last.arrival > r.arrival) this.byArrival = false;
    this.items.push(r);
  }

  /** Puts a retracted request back at the front (it is admitted again first). */
  unshift(r: T): void {
    this.add(r);
    this.dropRemovedHead();
    const first = this.items[this.head];
    if (first !== undefined && first.arrival < r.arrival) this.byArrival = false;
    if (this.head > 0) this.items[--this.head] = r;
    else this.items.unshift(r);
  }

  /** Removes a request wherever it is; false when it was not waiting. */
  remove(r: T): boolean {
    return this.live.delete(r);
  }

  /** The request admission would take next. */
  peek(): T | undefined {
    this.dropRemovedHead();
    return this.items[this.head];
  }

  /** Takes the request `peek()` returns. */
  shift(): T | undefined {
    const r = this.peek();
    if (r === undefined) return undefined;
    this.live.delete(r);
    this.items[this.head++] = undefined as unknown as T; // let it be collected
    this.compact(false);
    return r;
  }

  /** Live entries, front first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) {
      const r = this.items[i]!;
      if (this.live.has(r)) yield r;
    }
  }

  /** Empties the queue. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.live.clear();
    this.byArrival = true;
  }

  /** Orders by arrival; O(1) when nothing came in out of order (the common fcfs case). */
  sortByArrival(): void {
    if (this.byArrival) return;
    this.sort((a, b) => a.arrival - b.arrival);
    this.byArrival = true;
  }

  /** Orders by `compare` (stable). */
  sort(compare: (a: T, b: T) => number): void {
    this.compact(true);
    this.items.sort(compare);
    this.byArrival = false;
  }

  private add(r: T): void {
    if (this.live.has(r)) throw new Error('request is already waiting');
    this.live.add(r);
  }

  private dropRemovedHead(): void {
    while (this.head < this.items.length && !this.live.has(this.items[this.head]!)) this.head++;
    this.compact(false);
  }

  /** Drops consumed slots and tombstones: always when `force`, else once they are half of the array. */
  private compact(force: boolean): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      return;
    }
    if (!force && this.head * 2 < this.items.length) return;
    this.items = this.items.slice(this.head).filter((r) => this.live.has(r));
    this.head = 0;
  }
}
