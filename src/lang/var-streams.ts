/** The pieces of one variable as it is generated. */
class Channel {
  readonly pieces: string[] = [];
  readers = 0;
  done = false;
  error: unknown;
  private waiters: (() => void)[] = [];

  push(piece: string): void {
    this.pieces.push(piece);
    this.wake();
  }

  close(error?: unknown): void {
    this.done = true;
    this.error = error;
    this.wake();
  }

  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** What a `gen` or `select` writes its variable's text to while it runs. */
export interface VarWriter {
  /** Whether anyone reads the variable live (then a backend should stream). */
  readonly listening: boolean;
  write(piece: string): void;
  /** Ends the variable with its whole value; what was not written piecewise is written now. */
  finish(value: string): void;
  fail(error: unknown): void;
}

/**
 * Streams of variables for `state.stream(name)`: a reader may attach before or while the
 * variable is generated; it gets every piece from the start, then the end.
 */
export class VarStreams {
  private readonly channels = new Map<string, Channel>();
  private closed = false;
  private closeError: unknown;

  /** The writer of the next value of `name`. */
  writer(name: string): VarWriter {
    const ch = this.channel(name);
    let written = '';
    const end = (): void => {
      if (this.channels.get(name) === ch) this.channels.delete(name);
    };
    return {
      get listening() {
        return ch.readers > 0;
      },
      write(piece) {
        written += piece;
        ch.push(piece);
      },
      finish(value) {
        if (value.length > written.length) ch.push(value.slice(written.length));
        ch.close();
        end();
      },
      fail(error) {
        ch.close(error);
        end();
      },
    };
  }

  /** Reads the next value of `name` piece by piece; ends early (or throws) when the state ends first. */
  async *read(name: string): AsyncGenerator<string> {
    if (this.closed) {
      if (this.closeError !== undefined) throw this.closeError;
      return;
    }
    const ch = this.channel(name);
    ch.readers++;
    try {
      let i = 0;
      for (;;) {
        while (i < ch.pieces.length) yield ch.pieces[i++]!;
        if (ch.done) {
          if (ch.error !== undefined) throw ch.error;
          return;
        }
        await ch.next();
      }
    } finally {
      ch.readers--;
    }
  }

  /** The state ended: readers still waiting end too (with `error` when it failed). */
  closeAll(error?: unknown): void {
    this.closed = true;
    this.closeError = error;
    for (const ch of this.channels.values()) ch.close(error);
    this.channels.clear();
  }

  private channel(name: string): Channel {
    let ch = this.channels.get(name);
    if (!ch) this.channels.set(name, (ch = new Channel()));
    return ch;
  }
}
