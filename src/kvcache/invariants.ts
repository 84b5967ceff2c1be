import { KvCacheError } from './errors.js';
import type { RadixTree } from './radix-tree.js';
import type { SlotAllocator } from './slot-allocator.js';

const UNACCOUNTED = 0;

/**
 * Checks the KV bookkeeping invariant: every slot of `allocator` is exactly one of free, owned by a
 * running request (`owned`: one slot list per request, excluding the prefix slots it got from the
 * tree), or held by `tree`. Also checks the tree's own structure and that the allocator's free
 * list agrees with its slot states. Throws a {@link KvCacheError} describing the first violation.
 * O(capacity + tree nodes): for tests and debug builds.
 */
export function checkKvInvariants(
  allocator: SlotAllocator, tree: RadixTree, owned: Iterable<ArrayLike<number>>,
): void {
  tree.checkStructure();
  const capacity = allocator.capacity;
  // Per slot: 0 = not yet seen, else 1 + index into `holders` of who claimed it.
  const claimedBy = new Int32Array(capacity);
  const holders: string[] = [];
  const claim = (slot: number, holder: number): void => {
    if (!Number.isInteger(slot) || slot < 0 || slot >= capacity) {
      throw new KvCacheError(`slot ${slot} (${holders[holder]}) is out of range [0, ${capacity})`);
    }
    const previous = claimedBy[slot]!;
    if (previous !== UNACCOUNTED) {
      throw new KvCacheError(`slot ${slot} is both ${holders[previous - 1]} and ${holders[holder]}`);
    }
    claimedBy[slot] = holder + 1;
  };

  const freeHolder = holders.push('free') - 1;
  for (const slot of allocator.freeSlots()) claim(slot, freeHolder);
  let request = 0;
  for (const slots of owned) {
    const holder = holders.push(`owned by running request #${request++}`) - 1;
    for (let i = 0; i < slots.length; i++) claim(slots[i]!, holder);
  }
  for (const node of tree.nodes()) {
    const holder = holders.push(`held by tree node ${node.node}`) - 1;
    for (const slot of node.slots) claim(slot, holder);
  }

  for (let slot = 0; slot < capacity; slot++) {
    const who = claimedBy[slot]!;
    if (who === UNACCOUNTED) {
      throw new KvCacheError(`slot ${slot} is leaked: not free, not owned by a running request, not in the tree`);
    }
    const stateSaysFree = allocator.isFree(slot);
    if (stateSaysFree !== (who - 1 === freeHolder)) {
      const state = stateSaysFree ? 'free' : 'in use';
      throw new KvCacheError(`slot ${slot} is ${holders[who - 1]} but its allocator state says ${state}`);
    }
  }
}
