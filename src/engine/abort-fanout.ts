/**
 * One 'abort' listener per AbortSignal, however many requests share the signal. A server hands
 * one signal (its client's connection) to every request of a list input, and Node's
 * `addEventListener` scans the listeners already there: per-request listeners made a batch of
 * 20,000 prompts quadratic on the event loop. Here watching and unwatching are O(1), and an abort
 * reports all of the signal's requests at once (one message to the scheduler, not one each).
 */
export class AbortFanout {
  private readonly watched = new Map<AbortSignal, { readonly ids: Set<string>; readonly listener: () => void }>();

  constructor(private readonly onAbort: (ids: string[]) => void) {}

  /** Reports `id` to `onAbort` when `signal` aborts (unless unwatched first). */
  watch(signal: AbortSignal, id: string): void {
    let entry = this.watched.get(signal);
    if (!entry) {
      const listener = () => {
        this.watched.delete(signal);
        this.onAbort([...entry!.ids]);
      };
      entry = { ids: new Set(), listener };
      this.watched.set(signal, entry);
      signal.addEventListener('abort', listener, { once: true });
    }
    entry.ids.add(id);
  }

  unwatch(signal: AbortSignal, id: string): void {
    const entry = this.watched.get(signal);
    if (!entry) return;
    entry.ids.delete(id);
    if (entry.ids.size > 0) return;
    this.watched.delete(signal);
    signal.removeEventListener('abort', entry.listener);
  }
}
