import * as Comlink from 'comlink';
import { ActorHandle } from './actor-handle.js';
import type { Progress, ShardActorApi, ShardFaults } from './protocol.js';
import type { ShardLoadOptions } from '../shards/shard-loader.js';
import { Ctrl, StepChannel } from '../shards/step-channel.js';
import type { StepChannelLimits } from '../shards/step-channel.js';
import type { StepDescriptor } from '../shards/step.js';
import { stepSize } from '../shards/step.js';
import type { SlotTable } from '../kvcache/index.js';

/** A shard worker died or a step failed in a way that leaves the shards unusable. */
export class ShardFailure extends Error {
  override name = 'ShardFailure';
}

/**
 * The tp shard actors seen from the scheduler: spawns one worker per shard, hands each the step
 * channel, and runs steps by writing the descriptor and waiting (asynchronously) for every shard.
 */
export class ShardPool {
  private readonly actors: ActorHandle<ShardActorApi>[] = [];
  private readonly channel: StepChannel;
  private dead: string | null = null;
  private onDeath: ((message: string) => void) | null = null;

  constructor(
    private readonly tp: number,
    limits: StepChannelLimits,
    slotTable: SlotTable,
  ) {
    this.channel = StepChannel.allocate(limits, slotTable);
  }

  /** Loads every shard (in parallel, one worker each). `onFatal` is told when a worker dies later. */
  async start(
    base: Omit<ShardLoadOptions, 'rank' | 'onProgress'>,
    faults: ShardFaults,
    onProgress: (p: Progress) => void,
    onFatal: (message: string) => void,
  ): Promise<void> {
    const loads = Array.from({ length: this.tp }, (_, rank) => {
      const actor = new ActorHandle<ShardActorApi>('shard-worker', `shard ${rank}`);
      this.actors.push(actor);
      actor.onDeath((message) => this.die(message));
      return actor.call(actor.api.init({ ...base, rank }, this.channel.buffers, faults, Comlink.proxy(onProgress)));
    });
    try {
      await Promise.all(loads);
    } catch (e) {
      throw new ShardFailure((e as Error).message);
    }
    this.onDeath = onFatal;
  }

  private die(message: string): void {
    if (this.dead) return;
    this.dead = message;
    this.onDeath?.(message);
  }

  /** Runs one step on all shards; returns a view of the shared logits rows (valid until the next step). */
  async forward(step: StepDescriptor): Promise<Float32Array> {
    if (this.dead) throw new ShardFailure(this.dead);
    const ch = this.channel;
    const ctl = ch.control;
    ch.writeStep(step);
    Atomics.store(ctl, Ctrl.done, 0);
    Atomics.store(ctl, Ctrl.error, 0);
    Atomics.store(ctl, Ctrl.barrier, 0);
    Atomics.add(ctl, Ctrl.step, 1);
    Atomics.notify(ctl, Ctrl.step);
    for (;;) {
      const done = Atomics.load(ctl, Ctrl.done);
      if (done >= this.tp) break;
      if (this.dead) throw new ShardFailure(this.dead);
      // Bounded waits so a worker that dies mid-step is noticed instead of hanging the scheduler.
      const w = Atomics.waitAsync(ctl, Ctrl.done, done, 200);
      if (w.async) await w.value;
    }
    if (Atomics.load(ctl, Ctrl.error) !== 0) throw new Error(ch.errorMessage());
    const rows = stepSize(step).logitRows;
    return ch.logits.subarray(0, rows * ch.buffers.limits.vocabSize);
  }

  /** Stops every shard worker (each leaves its loop at the shutdown flag and exits). */
  async close(): Promise<void> {
    await Promise.all(
      this.actors.map((a) =>
        a.stop(async () => {
          Atomics.store(this.channel.control, Ctrl.shutdown, 1);
          Atomics.add(this.channel.control, Ctrl.step, 1);
          Atomics.notify(this.channel.control, Ctrl.step);
        }),
      ),
    );
  }
}
