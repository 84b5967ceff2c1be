import t from 'tap';
import { KvCacheError, SlotTable } from '../../src/kvcache/index.js';
import { StepChannel, type StepChannelLimits } from '../../src/shards/step-channel.js';

const limits: StepChannelLimits = { tp: 1, hiddenSize: 4, vocabSize: 8, maxStepTokens: 16, maxLogitRows: 16, maxSequences: 3, maxSequenceTokens: 32, poolSlots: 100 };

t.test('SlotTable: rows are handed out and returned once; slots and positions are range-checked', async (t) => {
  const table = new SlotTable(2, 8, 100);
  const a = table.acquire();
  const b = table.acquire();
  t.not(a, b);
  t.throws(() => table.acquire(), new KvCacheError('SlotTable has no free row (all 2 in use)'));
  table.write(a, 2, [5, 6, 7]);
  t.same(Array.from(table.view(a, 2, 3)), [5, 6, 7]);
  t.throws(() => table.write(a, 6, [1, 2, 3]), /positions 6\.\.9 exceed its width 8/);
  t.throws(() => table.write(a, 0, [100]), /slot 100 is outside the pool of 100/);
  t.throws(() => table.write(a, 0, [-1]), /slot -1 is outside/);
  t.throws(() => table.view(5, 0, 1), /row 5 is outside 0\.\.1/);
  table.release(a);
  t.throws(() => table.release(a), /row 0 is not in use|row 1 is not in use/);
  t.equal(table.freeRowCount, 1);
  t.throws(() => new SlotTable(0, 8, 100), /rows must be a positive integer, got 0/);
  t.throws(() => SlotTable.fromShared(new SharedArrayBuffer(12), 2, 8, 100), /holds 12 bytes, 2 × 8 rows need 64/);
});

t.test('StepChannel: a step crosses as tokens + (row, cached length); the shard reads slots from the table', async (t) => {
  const table = new SlotTable(limits.maxSequences, limits.maxSequenceTokens, limits.poolSlots);
  const scheduler = StepChannel.allocate(limits, table);
  const shard = new StepChannel(scheduler.buffers);
  const r0 = table.acquire();
  const r1 = table.acquire();
  table.write(r0, 0, [10, 11, 12, 13]); // 3 cached + 1 new
  table.write(r1, 0, [20, 21, 22]); // a prefill of 3
  scheduler.writeStep({
    sequences: [
      { tokens: [7], cachedSlots: table.view(r0, 0, 3), newSlots: table.view(r0, 3, 1), logitsFrom: 0, row: r0 },
      { tokens: [1, 2, 3], cachedSlots: table.view(r1, 0, 0), newSlots: table.view(r1, 0, 3), logitsFrom: 2, row: r1 },
    ],
  });
  t.equal(scheduler.descriptor[1], 2 + 4 * 2 + 4, 'descriptor words: header, per-sequence headers, tokens — no slots');
  const step = shard.readStep();
  t.same(step.sequences.map((s) => [Array.from(s.tokens), Array.from(s.cachedSlots), Array.from(s.newSlots), s.logitsFrom, s.row]), [
    [[7], [10, 11, 12], [13], 0, r0],
    [[1, 2, 3], [], [20, 21, 22], 2, r1],
  ]);
});

t.test('StepChannel refuses steps it cannot carry, naming the limit', async (t) => {
  const table = new SlotTable(limits.maxSequences, limits.maxSequenceTokens, limits.poolSlots);
  const ch = StepChannel.allocate(limits, table);
  const seq = { tokens: [1], cachedSlots: [], newSlots: [0], logitsFrom: 0, row: 0 };
  t.throws(() => ch.writeStep({ sequences: [{ ...seq, row: undefined }] }), /step\.sequences\[0\]\.row is missing/);
  t.throws(() => ch.writeStep({ sequences: [seq, seq, seq, seq] }), /4 sequences, the channel holds 3/);
  t.throws(() => ch.writeStep({ sequences: [{ ...seq, tokens: new Array(17).fill(1), newSlots: new Array(17).fill(0) }] }), /17 tokens, the channel holds 16/);
  t.throws(() => StepChannel.allocate(limits, new SlotTable(2, 32, 100)), /does not match the channel's limits/);
});
