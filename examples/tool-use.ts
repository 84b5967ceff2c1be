/**
 * Tool choice by `select`: for each question, which tool does the model pick to answer it?
 * Runs as one batch; prints each choice and every option's normalized prompt logprob.
 *
 *   npm run build && npx tsx examples/tool-use.ts [--url http://127.0.0.1:30000]
 */
import { program, type SelectMetaInfo } from 'arbor';
import { backendFromArgs } from './backend-from-args.js';

const QUESTIONS = [
  'What is 1234 times 5678',
  'Who was the first king of England',
  'What is the square root of 144',
  'Where is the river Jordan',
  'How many days are there in 17 weeks',
  'What does the word ocean mean',
];
const TOOLS = ['calculator', 'search engine'];

const toolUse = program(async (s, args: { question: string }) => {
  s.append(`To answer this question: ${args.question}, I need to use a `);
  await s.select('tool', { choices: TOOLS });
});

const { backend, where, close } = await backendFromArgs();
try {
  const states = await toolUse.runBatch(
    QUESTIONS.map((question) => ({ question })),
    { backend },
  );
  console.log(`tool use on ${where}\n`);
  for (const [i, state] of states.entries()) {
    console.log(`${QUESTIONS[i]}?`);
    if (state.error) {
      console.log(`  failed: ${String(state.error)}\n`);
      continue;
    }
    const meta = state.metaInfo('tool') as SelectMetaInfo;
    const scores = TOOLS.map((tool, k) => `${tool} ${meta.normalizedPromptLogprobs[k]!.toFixed(4)}`).join(', ');
    console.log(`  → ${state.get('tool')}   (normalized prompt logprobs: ${scores})\n`);
  }
} finally {
  await close();
}
