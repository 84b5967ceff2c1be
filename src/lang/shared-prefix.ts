/** Shorter common prefixes are not worth a request of their own (SGLang's threshold). */
export const MIN_SHARED_PREFIX_CHARS = 64;

/**
 * Warms the radix cache for a batch, as SGLang's runBatch does by tracing: the programs of the
 * first wave each stop before their first request; once all have arrived (or ended without one),
 * the longest text they share is prefilled once, then they all go. Without this, programs started
 * together would each compute the shared prefix, since none is cached yet.
 */
export class SharedPrefixGate {
  private readonly texts: string[] = [];
  private waiting: number;
  private readonly opened: Promise<void>;
  private open!: () => void;

  /**
   * @param expected how many programs make up the first wave.
   * @param cachePrefix prefills a text (max_new_tokens 0).
   */
  constructor(
    expected: number,
    private readonly cachePrefix: (text: string) => Promise<unknown>,
    signal?: AbortSignal,
  ) {
    this.waiting = expected;
    this.opened = new Promise((resolve) => (this.open = resolve));
    signal?.addEventListener('abort', () => this.open(), { once: true });
    if (expected === 0) this.open();
  }

  /** A first-wave program is about to send `text`: waits until the shared prefix is cached. */
  arrive(text: string): Promise<void> {
    this.texts.push(text);
    this.count();
    return this.opened;
  }

  /** A first-wave program ended without a request. */
  leave(): void {
    this.count();
  }

  private count(): void {
    if (--this.waiting > 0) return;
    const prefix = this.texts.length >= 2 ? sharedPrefix(this.texts) : '';
    if (prefix.length < MIN_SHARED_PREFIX_CHARS) this.open();
    // A failure here only costs the warm-up; each program's own request reports real errors.
    else void this.cachePrefix(prefix).then(this.open, this.open);
  }
}

/**
 * The longest common prefix of `texts`, cut back to before its last whitespace: byte-level BPE
 * tokens start with their leading space, so the cut falls on a token boundary of every text and
 * the cached tokens match theirs.
 */
export function sharedPrefix(texts: readonly string[]): string {
  let end = texts[0]!.length;
  for (const t of texts) {
    let i = 0;
    while (i < end && i < t.length && t.charCodeAt(i) === texts[0]!.charCodeAt(i)) i++;
    end = i;
  }
  if (texts.every((t) => t.length === end)) return texts[0]!;
  const common = texts[0]!.slice(0, end);
  const cut = common.search(/\s\S*$/);
  return cut > 0 ? common.slice(0, cut) : common;
}
