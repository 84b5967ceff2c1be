import type { StepSequence } from './step.js';

/** Sequences of one padded attention block: B sequences × S query rows × (P cached + S new) keys. */
export interface AttentionGroup {
  readonly members: readonly number[];
  readonly batch: number;
  readonly queryLen: number;
  readonly cachedLen: number;
}

function groupOf(seqs: readonly StepSequence[], members: number[]): AttentionGroup {
  let s = 1;
  let p = 1;
  for (const i of members) {
    s = Math.max(s, seqs[i]!.tokens.length);
    p = Math.max(p, seqs[i]!.cachedSlots.length);
  }
  return { members, batch: Math.max(1, members.length), queryLen: s, cachedLen: p };
}

const cost = (g: AttentionGroup) => g.batch * g.queryLen * (g.cachedLen + g.queryLen);

/**
 * Splits a step's sequences into two padded attention blocks so that padding work stays small:
 * sorted by new-token count then context, cut where the summed B·S·(P+S) is least. Decode tokens
 * thus never pay for a prefill chunk's query length. (Projections and MLP never see padding.)
 */
export function planAttentionGroups(seqs: readonly StepSequence[]): [AttentionGroup, AttentionGroup] {
  const order = seqs
    .map((_, i) => i)
    .sort((a, b) => seqs[a]!.tokens.length - seqs[b]!.tokens.length || seqs[a]!.cachedSlots.length - seqs[b]!.cachedSlots.length);
  let best: [AttentionGroup, AttentionGroup] | null = null;
  let bestCost = Infinity;
  for (let cut = 0; cut <= order.length; cut++) {
    const a = groupOf(seqs, order.slice(0, cut));
    const b = groupOf(seqs, order.slice(cut));
    const c = (cut > 0 ? cost(a) : 1) + (cut < order.length ? cost(b) : 1);
    if (c < bestCost) {
      bestCost = c;
      best = [a, b];
    }
  }
  return best!;
}
