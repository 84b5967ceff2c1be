/**
 * Scoring many continuations of a shared prefix: each group is one prefix and 100 suffixes; the
 * prefix is prefilled once and every suffix is scored against its cached KV (one `select` per
 * group). Prints the best suffix per group with its logprob, and sequences scored per second.
 *
 *   npm run build && npx tsx examples/score-suffixes.ts [--groups 8] [--url http://127.0.0.1:30000]
 */
import { program, type SelectMetaInfo } from 'arbor';
import { backendFromArgs } from './backend-from-args.js';

const PREFIXES = [
  'OCEAN, n. The vast body of',
  'The shepherd led his flock of',
  'In the beginning God created the heaven and the',
  'A fortune cookie once said: a journey of a thousand miles begins with a single',
  'BREAD, n. A food made of',
  'And the king sat upon his',
  'The best thing to drink on a cold morning is a cup of',
  'LAMP, n. A vessel for giving',
  'He opened the old book and read the first',
  'The children ran out to play in the',
  'WINTER, n. The cold season of the',
  'She planted a row of',
];

// 100 one-word continuations, each with its leading space.
const SUFFIXES = (
  'water salt sheep goats earth flour bread throne tea coffee light fire page chapter snow garden ' +
  'year roses trees stone gold silver wine milk honey bees horses camels sand wind rain river sea ' +
  'mountain city house door window table chair bed road bridge ship boat star moon sun cloud sky ' +
  'field grass flowers apples wheat corn oil iron wood glass paper ink word letter song voice heart ' +
  'hand eye head foot friend king queen servant child mother father brother sister people nation ' +
  'land kingdom temple church prayer peace war sword shield crown step mile day night morning evening lamb lion'
)
  .split(' ')
  .map((w) => ` ${w}`);
if (SUFFIXES.length !== 100) throw new Error(`expected 100 suffixes, have ${SUFFIXES.length}`);

const { backend, where, close, values } = await backendFromArgs({ groups: { type: 'string' } });
const groups = Number(values['groups'] ?? 8);
if (!Number.isInteger(groups) || groups < 1 || groups > PREFIXES.length) {
  throw new RangeError(`--groups must be an integer in [1, ${PREFIXES.length}] (got ${values['groups']})`);
}

const score = program(async (s, args: { prefix: string }) => {
  s.append(args.prefix);
  await s.select('best', { choices: SUFFIXES });
});

try {
  const started = performance.now();
  const states = await score.runBatch(
    PREFIXES.slice(0, groups).map((prefix) => ({ prefix })),
    { backend },
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`score-suffixes on ${where}: ${groups} groups × ${SUFFIXES.length} suffixes\n`);
  for (const [i, state] of states.entries()) {
    if (state.error) {
      console.log(`${PREFIXES[i]} … failed: ${String(state.error)}`);
      continue;
    }
    const meta = state.metaInfo('best') as SelectMetaInfo;
    const tokens = meta.inputTokenLogprobs[meta.index]!;
    const total = tokens.reduce((sum, t) => sum + (t.logprob ?? 0), 0);
    const perToken = meta.normalizedPromptLogprobs[meta.index]!;
    console.log(`${PREFIXES[i]}[${state.get('best')}]   logprob ${total.toFixed(3)} (${tokens.length} token${tokens.length === 1 ? '' : 's'}, ${perToken.toFixed(3)} per token)`);
  }
  const sequences = groups * SUFFIXES.length;
  console.log(`\n${sequences} sequences in ${seconds.toFixed(2)} s: ${(sequences / seconds).toFixed(1)} sequences/s`);
} finally {
  await close();
}
