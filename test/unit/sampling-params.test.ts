import t from 'tap';
import { DEFAULT_SAMPLING_PARAMS, SamplingParamError, validateSamplingParams } from '../../src/scheduler/sampling.js';
import type { SamplingParams } from '../../src/scheduler/sampling.js';

const VOCAB = 100;
const withField = (patch: Record<string, unknown>) => ({ ...DEFAULT_SAMPLING_PARAMS, ...patch }) as SamplingParams;

t.test('defaults and in-range values pass', async (t) => {
  t.doesNotThrow(() => validateSamplingParams(DEFAULT_SAMPLING_PARAMS, VOCAB));
  t.doesNotThrow(() =>
    validateSamplingParams(
      withField({ temperature: 0, topK: 1, topP: 0.01, minP: 1, frequencyPenalty: -2, presencePenalty: 2, repetitionPenalty: 1.3, logitBias: { 0: -100, 99: 5.5 } }),
      VOCAB,
    ),
  );
});

t.test('each bad value throws SamplingParamError naming its field', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ temperature: -0.1 }, 'temperature'],
    [{ temperature: NaN }, 'temperature'],
    [{ temperature: '1' }, 'temperature'],
    [{ topK: 0 }, 'topK'],
    [{ topK: -2 }, 'topK'],
    [{ topK: 2.5 }, 'topK'],
    [{ topP: 0 }, 'topP'],
    [{ topP: 1.01 }, 'topP'],
    [{ minP: -0.01 }, 'minP'],
    [{ minP: 1.5 }, 'minP'],
    [{ frequencyPenalty: 2.01 }, 'frequencyPenalty'],
    [{ presencePenalty: -3 }, 'presencePenalty'],
    [{ presencePenalty: Infinity }, 'presencePenalty'],
    [{ repetitionPenalty: 0 }, 'repetitionPenalty'],
    [{ repetitionPenalty: -1 }, 'repetitionPenalty'],
    [{ logitBias: null }, 'logitBias'],
    [{ logitBias: { 100: 1 } }, 'logitBias[100]'],
    [{ logitBias: { '-1': 1 } }, 'logitBias[-1]'],
    [{ logitBias: { '1.5': 1 } }, 'logitBias[1.5]'],
    [{ logitBias: { abc: 1 } }, 'logitBias[abc]'],
    [{ logitBias: { 3: NaN } }, 'logitBias[3]'],
  ];
  for (const [patch, field] of cases) {
    const label = JSON.stringify(patch, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
    try {
      validateSamplingParams(withField(patch), VOCAB);
      t.fail(`${label} should throw`);
    } catch (err) {
      t.ok(err instanceof SamplingParamError, `${label} → SamplingParamError`);
      t.equal((err as SamplingParamError).field, field, `${label} names ${field}`);
      t.ok((err as Error).message.startsWith(`${field} `), `${label}: message starts with the field`);
    }
  }
});
