export { KvCacheError } from './errors.js';
export { SlotAllocator } from './slot-allocator.js';
export { RadixTree } from './radix-tree.js';
export type { PrefixMatch, RadixNodeInfo, RadixTreeOptions, RadixTreeShared } from './radix-tree.js';
export { RadixTreeStats } from './radix-tree-stats.js';
export { checkKvInvariants } from './invariants.js';
export { SlotTable } from './slot-table.js';
