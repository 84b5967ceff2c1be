import { parentPort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { loadShard } from '../shards/shard-loader.js';
import type { ShardLoadOptions } from '../shards/shard-loader.js';
import type { ShardCompute } from '../shards/shard-compute.js';
import { Ctrl, StepChannel } from '../shards/step-channel.js';
import type { StepChannelBuffers } from '../shards/step-channel.js';
import type { Progress, ShardActorApi, ShardFaults } from './protocol.js';
import { stepSize } from '../shards/step.js';

/**
 * Shard actor (worker thread): loads its slice of the model, then serves steps from the shared
 * step channel until shutdown. Control (init) comes over comlink; steps never use postMessage.
 */
class ShardActor implements ShardActorApi {
  private runtime: ShardCompute | null = null;
  private channel: StepChannel | null = null;

  async init(options: Omit<ShardLoadOptions, 'onProgress'>, buffers: StepChannelBuffers, faults: ShardFaults, onProgress?: (p: Progress) => void): Promise<void> {
    this.runtime = await loadShard({ ...options, ...(onProgress ? { onProgress } : {}) });
    this.channel = new StepChannel(buffers);
    void this.serve(faults);
  }

  private async serve(faults: ShardFaults): Promise<void> {
    const ch = this.channel!;
    const rt = this.runtime!;
    let seen = Atomics.load(ch.control, Ctrl.step);
    // A pending Atomics.waitAsync does not keep a worker alive; this handle does, until shutdown.
    const keepAlive = setInterval(() => {}, 1 << 30);
    for (;;) {
      // waitAsync keeps this worker's event loop free between steps (comlink calls, shutdown).
      const w = Atomics.waitAsync(ch.control, Ctrl.step, seen);
      if (w.async) await w.value;
      if (Atomics.load(ch.control, Ctrl.shutdown) !== 0) break;
      seen = Atomics.load(ch.control, Ctrl.step);
      try {
        const step = ch.readStep();
        const has = (id: number | undefined) => id !== undefined && step.sequences.some((s) => Array.prototype.includes.call(s.tokens, id));
        if (has(faults.exitOnTokenId)) process.exit(3);
        if (has(faults.failOnTokenId)) throw new Error(`injected fault: token ${faults.failOnTokenId} in shard ${rt.layout.rank}`);
        const gen = rt.forward(step);
        let r = await gen.next();
        let index = 0;
        while (!r.done) r = await gen.next(ch.allReduce(rt.layout.rank, index++, r.value));
        ch.writeLogits(r.value, stepSize(step).logitRows, rt.layout.vocabStart, rt.layout.vocabLocal);
      } catch (e) {
        ch.fail(`shard ${rt.layout.rank}: ${(e as Error).message}`);
      }
      Atomics.add(ch.control, Ctrl.done, 1);
      Atomics.notify(ch.control, Ctrl.done);
    }
    clearInterval(keepAlive);
    await rt.release();
    process.exit(0);
  }
}

Comlink.expose(new ShardActor(), nodeEndpoint(parentPort!));
