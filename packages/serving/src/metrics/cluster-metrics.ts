import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, Registry } from 'prom-client';

/** IPC message types between a WORKERS>1 primary and its workers (not prom-client's own). */
const METRICS_REQUEST = 'predict:cluster-metrics-request';
const METRICS_RESPONSE = 'predict:cluster-metrics-response';

interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: string;
}
interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: string;
  text?: string;
  error?: string;
}

const isMessage = <T extends { type: string }>(message: unknown, type: T['type']): message is T =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

/**
 * The Registry of one worker process under WORKERS>1. It records as any Registry does and answers the
 * primary's collection requests (prom-client's AggregatorRegistry protocol) with its own series; its
 * `metrics()`, which /metrics serves, asks the primary for the sum over every worker instead. A scrape
 * therefore sees the whole container whichever worker's connection it lands on.
 */
export class ClusterWorkerRegistry extends Registry {
  private readonly pending = new Map<string, { resolve(text: string): void; reject(error: Error): void }>();

  constructor(private readonly timeoutMs = 5_000) {
    super();
    // Constructing an AggregatorRegistry in a worker installs prom-client's reply to the primary's requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([this]);
    process.on('message', (message: unknown) => {
      if (!isMessage<MetricsResponse>(message, METRICS_RESPONSE)) return;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.text === undefined) waiting.reject(new Error(`cluster metrics: ${message.error ?? 'no answer'}`));
      else waiting.resolve(message.text);
    });
  }

  /** This worker's own series, as a plain Registry would give them. */
  localMetrics(): Promise<string> {
    return super.metrics();
  }

  override metrics(): Promise<string> {
    const send = process.send?.bind(process);
    if (!send) return this.localMetrics();
    const id = randomUUID();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`cluster metrics: the primary did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      send({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
  }
}

/**
 * In the primary: answers each worker's request for the aggregated metrics (counters and histograms
 * summed over workers; a metric's own `aggregator` where it sets one). Returns the function that stops.
 */
export function serveClusterMetrics(): () => void {
  const aggregator = new AggregatorRegistry();
  const onMessage = (worker: { send(message: unknown): boolean; isConnected(): boolean }, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, METRICS_REQUEST)) return;
    const reply = (answer: Omit<MetricsResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: METRICS_RESPONSE, id: message.id, ...answer } satisfies MetricsResponse);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (error: Error) => reply({ error: error.message }),
    );
  };
  cluster.on('message', onMessage);
  return () => void cluster.off('message', onMessage);
}
