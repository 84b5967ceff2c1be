import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats, Usage } from '../engine/types.js';

// SGLang's buckets, so dashboards built for it read the same.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 15, 20, 25, 30];
const TPOT_BUCKETS = [0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
const E2E_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 180, 240, 300];

/** The engine facts the gauges read at scrape time; undefined while the model loads. */
export type StatsSource = () => { stats: EngineStats; kvCacheTokens: number } | undefined;

/** What one finished request reports. */
export interface RequestObservation {
  readonly usage: Usage;
  /** Seconds from arrival to the last token. */
  readonly e2e: number;
  /** Seconds from arrival to the first token, where the server saw it (streaming requests). */
  readonly ttft?: number;
}

/**
 * Prometheus metrics under SGLang's names, in a registry of their own (so embedding arbor next to
 * other prom-client users never collides with the global registry).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly promptTokens: Counter<'model_name'>;
  private readonly generationTokens: Counter<'model_name'>;
  private readonly ttft: Histogram<'model_name'>;
  private readonly tpot: Histogram<'model_name'>;
  private readonly e2e: Histogram<'model_name'>;

  constructor(
    private readonly modelName: string,
    source: StatsSource,
  ) {
    const registers = [this.registry];
    const labelNames = ['model_name'] as const;
    this.promptTokens = new Counter({ name: 'sglang:prompt_tokens_total', help: 'Prompt tokens processed.', labelNames, registers });
    this.generationTokens = new Counter({ name: 'sglang:generation_tokens_total', help: 'Tokens generated.', labelNames, registers });
    this.ttft = new Histogram({ name: 'sglang:time_to_first_token_seconds', help: 'Time to first token (streaming requests).', labelNames, buckets: TTFT_BUCKETS, registers });
    this.tpot = new Histogram({ name: 'sglang:time_per_output_token_seconds', help: 'Time per output token after the first (streaming requests).', labelNames, buckets: TPOT_BUCKETS, registers });
    this.e2e = new Histogram({ name: 'sglang:e2e_request_latency_seconds', help: 'End-to-end request latency.', labelNames, buckets: E2E_BUCKETS, registers });

    const gauge = (name: string, help: string, read: (s: EngineStats, kvCacheTokens: number) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const now = source();
          if (now) this.set({ model_name: modelName }, read(now.stats, now.kvCacheTokens));
        },
      });
    };
    gauge('sglang:num_running_reqs', 'Requests decoding now.', (s) => s.running);
    gauge('sglang:num_queue_reqs', 'Requests waiting to be scheduled.', (s) => s.queued);
    // As SGLang counts it: slots neither free nor merely holding evictable cache.
    gauge('sglang:token_usage', 'Fraction of KV slots in use by requests.', (s, total) => (total - s.slotsFree - s.slotsEvictable) / total);
    gauge('sglang:cache_hit_rate', 'Prompt tokens served from the radix cache / all prompt tokens.', (s) =>
      s.promptTokensTotal === 0 ? 0 : s.cachedTokensTotal / s.promptTokensTotal,
    );
  }

  /** Records one finished request. */
  observe(o: RequestObservation): void {
    const labels = { model_name: this.modelName };
    this.promptTokens.inc(labels, o.usage.promptTokens);
    this.generationTokens.inc(labels, o.usage.completionTokens);
    this.e2e.observe(labels, o.e2e);
    if (o.ttft !== undefined) {
      this.ttft.observe(labels, o.ttft);
      if (o.usage.completionTokens > 1) this.tpot.observe(labels, (o.e2e - o.ttft) / (o.usage.completionTokens - 1));
    }
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
