/**
 * A KV-cache bookkeeping violation: a slot freed twice or out of range, a dead tree node, a lock
 * count going negative, a slot accounted for twice. The message names the slot, node or counter.
 */
export class KvCacheError extends Error {
  override name = 'KvCacheError';
}
