import type { SchedulerRequest } from '../actors/protocol.js';

/** What became of a submitted request: waiting in the scheduler, refused (queue full), or aborted before it was sent. */
export type SubmitOutcome = 'queued' | 'full' | 'cancelled';

interface Pending {
  readonly req: SchedulerRequest;
  readonly resolve: (outcome: SubmitOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends the requests submitted during one turn of the event loop to the scheduler as one
 * message. One comlink call per request cost a message, a reply (a macrotask of its own) and an
 * id each — a third of the front's time for a batch of 20,000 prompts. A request aborted before
 * its batch went out is taken back instead (an abort message would overtake it).
 */
export class SubmitBatcher {
  private pending = new Map<string, Pending>();

  constructor(private readonly send: (reqs: SchedulerRequest[]) => Promise<number>) {}

  submit(req: SchedulerRequest): Promise<SubmitOutcome> {
    if (this.pending.size === 0) setImmediate(() => this.flush());
    return new Promise((resolve, reject) => this.pending.set(req.id, { req, resolve, reject }));
  }

  /** Takes back the ids not sent yet (they resolve 'cancelled'); returns the ones already sent. */
  cancel(ids: readonly string[]): string[] {
    const sent: string[] = [];
    for (const id of ids) {
      const p = this.pending.get(id);
      if (!p) sent.push(id);
      else {
        this.pending.delete(id);
        p.resolve('cancelled');
      }
    }
    return sent;
  }

  private flush(): void {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length === 0) return;
    this.send(batch.map((p) => p.req)).then(
      (queued) => batch.forEach((p, i) => p.resolve(i < queued ? 'queued' : 'full')),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
  }
}
