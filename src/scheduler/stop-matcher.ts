import { SamplingParamError } from './sampling-errors.js';

/** What {@link StopMatcher.push} found in the text so far. */
export interface StopCheck {
  /** Text that may be emitted now: never part of a stop string, never followed by a held-back part. */
  readonly text: string;
  /** The stop string that ended the output, or null while none has appeared. */
  readonly stop: string | null;
  /** UTF-16 units held back because they could be the start of a stop string. */
  readonly heldBack: number;
}

/**
 * Finds stop strings in streamed output text, however the text is split into deltas.
 *
 * The output ends at the stop string that completes first as the text grows (ties: the one that
 * starts first); the emitted text excludes it and everything after it. Until then, any tail of the
 * text that is a prefix of some stop string is held back, so a stream never shows text that later
 * turns out to belong to a stop string.
 */
export class StopMatcher {
  private readonly stops: readonly string[];
  private readonly longest: number;
  private pending = '';
  private matched: string | null = null;

  /** @throws SamplingParamError naming `stop[i]` for an empty stop string. */
  constructor(stopStrings: readonly string[]) {
    stopStrings.forEach((s, i) => {
      if (typeof s !== 'string' || s.length === 0) {
        throw new SamplingParamError(`stop[${i}]`, `must be a non-empty string (got ${JSON.stringify(s)})`);
      }
    });
    this.stops = [...stopStrings];
    this.longest = Math.max(0, ...stopStrings.map((s) => s.length));
  }

  /** The stop string that ended the output, or null. */
  get stop(): string | null {
    return this.matched;
  }

  /** Feeds the next piece of detokenized text. After a stop has matched, further text is ignored. */
  push(delta: string): StopCheck {
    if (this.matched !== null) return { text: '', stop: this.matched, heldBack: 0 };
    const text = this.pending + delta;
    let bestStart = -1;
    let bestEnd = Infinity;
    for (const stop of this.stops) {
      // The held-back text holds no whole stop string, so a match must end inside `delta`.
      const at = text.indexOf(stop, Math.max(0, this.pending.length - stop.length + 1));
      const end = at + stop.length;
      if (at >= 0 && (end < bestEnd || (end === bestEnd && at < bestStart))) {
        bestStart = at;
        bestEnd = end;
        this.matched = stop;
      }
    }
    if (this.matched !== null) {
      this.pending = '';
      return { text: text.slice(0, bestStart), stop: this.matched, heldBack: 0 };
    }
    const hold = this.heldBackLength(text);
    this.pending = text.slice(text.length - hold);
    return { text: text.slice(0, text.length - hold), stop: null, heldBack: hold };
  }

  /** Releases the held-back text when the output ends for another reason (EOS, length, abort). */
  flush(): string {
    const text = this.pending;
    this.pending = '';
    return text;
  }

  /** Length of the longest tail of `text` that is a proper prefix of some stop string. */
  private heldBackLength(text: string): number {
    for (let k = Math.min(text.length, this.longest - 1); k > 0; k--) {
      const tailStart = text.length - k;
      for (const stop of this.stops) {
        if (stop.length > k && text.startsWith(stop.slice(0, k), tailStart)) return k;
      }
    }
    return 0;
  }
}
