import { KvCacheError } from './errors.js';

/**
 * Each running request's KV slots in position order, one row per request, in a SharedArrayBuffer
 * the shards read. The scheduler writes a slot once — when a prefix is matched, a chunk is cached
 * or a step's new slots are planned — so a step descriptor carries only (row, cached length), not
 * a request's whole slot list every step. One thread (the scheduler) writes and hands out rows;
 * others only read, and only rows of the step in flight.
 */
export class SlotTable {
  readonly shared: SharedArrayBuffer;
  private readonly data: Int32Array;
  private readonly inUse: Uint8Array;
  private readonly freeRows: number[];

  /**
   * @param rows most requests holding a row at once (the engine's `maxRunningRequests`)
   * @param width most tokens per request (the engine's `contextLength`)
   * @param slotLimit slots are ids in `[0, slotLimit)` (the KV pool's capacity)
   */
  constructor(
    readonly rows: number,
    readonly width: number,
    readonly slotLimit: number,
    adopt?: SharedArrayBuffer,
  ) {
    for (const [name, v] of [['rows', rows], ['width', width], ['slotLimit', slotLimit]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new KvCacheError(`SlotTable ${name} must be a positive integer, got ${v}`);
    }
    const bytes = rows * width * 4;
    if (adopt && adopt.byteLength !== bytes) throw new KvCacheError(`SlotTable buffer holds ${adopt.byteLength} bytes, ${rows} × ${width} rows need ${bytes}`);
    this.shared = adopt ?? new SharedArrayBuffer(bytes);
    this.data = new Int32Array(this.shared);
    this.inUse = new Uint8Array(rows);
    this.freeRows = Array.from({ length: rows }, (_, i) => rows - 1 - i);
  }

  /** A reader of a table made in another thread (rows are not handed out from it). */
  static fromShared(shared: SharedArrayBuffer, rows: number, width: number, slotLimit: number): SlotTable {
    return new SlotTable(rows, width, slotLimit, shared);
  }

  get freeRowCount(): number {
    return this.freeRows.length;
  }

  /** Hands out a row. */
  acquire(): number {
    const row = this.freeRows.pop();
    if (row === undefined) throw new KvCacheError(`SlotTable has no free row (all ${this.rows} in use)`);
    this.inUse[row] = 1;
    return row;
  }

  /** Returns a row; its contents are left as they are (a later owner overwrites what it uses). */
  release(row: number): void {
    this.checkRow(row);
    if (this.inUse[row] !== 1) throw new KvCacheError(`SlotTable row ${row} is not in use`);
    this.inUse[row] = 0;
    this.freeRows.push(row);
  }

  /** Writes `slots` at positions `from…` of `row`. */
  write(row: number, from: number, slots: ArrayLike<number>): void {
    this.checkRange(row, from, slots.length);
    const base = row * this.width + from;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (!(Number.isInteger(s) && s >= 0 && s < this.slotLimit)) throw new KvCacheError(`SlotTable row ${row} position ${from + i}: slot ${s} is outside the pool of ${this.slotLimit}`);
      this.data[base + i] = s;
    }
  }

  /** Positions `from…from+length` of `row`, as a view (valid until the row is written again). */
  view(row: number, from: number, length: number): Int32Array {
    this.checkRange(row, from, length);
    const base = row * this.width + from;
    return this.data.subarray(base, base + length);
  }

  private checkRow(row: number): void {
    if (!(Number.isInteger(row) && row >= 0 && row < this.rows)) throw new KvCacheError(`SlotTable row ${row} is outside 0..${this.rows - 1}`);
  }

  private checkRange(row: number, from: number, length: number): void {
    this.checkRow(row);
    if (!(Number.isInteger(from) && from >= 0 && Number.isInteger(length) && length >= 0 && from + length <= this.width)) {
      throw new KvCacheError(`SlotTable row ${row}: positions ${from}..${from + length} exceed its width ${this.width}`);
    }
  }
}
