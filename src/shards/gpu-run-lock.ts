/**
 * Serializes WebGPU session runs across every shard of the process. onnxruntime-node's WebGPU EP
 * gives all sessions of a process one shared device context (it takes no device selection from
 * Node: FACTS.md), and two threads encoding on it at once crash the process ("Command encoding
 * already finished", then SIGSEGV — measured with tp = 2 shard workers). The lock word lives in a
 * SharedArrayBuffer that the front hands to every shard; waiting is `Atomics.waitAsync`, so it also
 * works between shards driven by one thread.
 */
export class GpuRunLock {
  private readonly word: Int32Array;

  constructor(readonly shared: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.word = new Int32Array(shared, 0, 1);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (Atomics.compareExchange(this.word, 0, 0, 1) !== 0) {
      const w = Atomics.waitAsync(this.word, 0, 1);
      if (w.async) await w.value;
    }
    try {
      return await fn();
    } finally {
      Atomics.store(this.word, 0, 0);
      Atomics.notify(this.word, 0);
    }
  }
}
