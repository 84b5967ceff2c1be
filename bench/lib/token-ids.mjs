/**
 * Deterministic benchmark token ids, in plain JavaScript so that the device scripts (bench/gpu/*.mjs,
 * run by a bare `node` with no tsx) and the TypeScript workloads draw the same prompts.
 * bench/gpu/hf_peer.py ports the same generator, so arbor and its peer score identical token ids.
 */

/** Park–Miller (48271, 2^31 − 1) ids in [3, vocab) that avoid the special ids. */
export class TokenIds {
  /**
   * @param {number} seed
   * @param {number} vocab
   * @param {ReadonlySet<number>} [avoid]
   */
  constructor(seed, vocab, avoid = new Set()) {
    this.vocab = vocab;
    this.avoid = avoid;
    this.state = (((seed % 2147483646) + 2147483646) % 2147483646) + 1;
  }

  /** @returns {number} */
  next() {
    for (;;) {
      this.state = (this.state * 48271) % 2147483647;
      const id = 3 + (this.state % (this.vocab - 3));
      if (!this.avoid.has(id)) return id;
    }
  }

  /** @param {number} n @returns {number[]} */
  take(n) {
    return Array.from({ length: n }, () => this.next());
  }
}
