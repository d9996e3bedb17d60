/**
 * Cluster aggregation. Haraka runs its SMTP workers as node:cluster children (smtp.ini nodes >= 1); each
 * worker counts in its own registry. The master asks every worker for its metrics over the cluster IPC
 * channel on each scrape and serves the sum.
 *
 * A worker that exits takes its counters with it. Summing only live workers would make every total drop
 * when a worker restarts, and Prometheus would read the drop as a reset and count the survivors' totals
 * again. So the master keeps the last answer of every worker it has seen; when a worker is gone, its
 * counters and histograms (not its gauges) stay in a "retired" sum. Totals never go down; what a worker
 * counted after its last answer (last scrape, or its shutdown snapshot) is lost.
 */
import type { Cluster, Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Registry, RegistryContentType } from 'prom-client';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const REQUEST = 'tinomail:metrics-request';
const REPLY = 'tinomail:metrics';

interface Reply {
  type: typeof REPLY;
  requestId?: number;
  metrics: MetricsJson;
}

function isReply(msg: unknown): msg is Reply {
  return !!msg && typeof msg === 'object' && (msg as Reply).type === REPLY && Array.isArray((msg as Reply).metrics);
}

let answering = false;

/** In a worker: answer the master's requests with this registry (installed once per process). */
export function answerMaster(registry: Registry, onError: (err: unknown) => void): void {
  if (answering || !process.send) return;
  answering = true;
  process.on('message', (msg: unknown) => {
    if (!msg || typeof msg !== 'object' || (msg as { type?: unknown }).type !== REQUEST) return;
    const requestId = (msg as { requestId?: number }).requestId;
    sendSnapshot(registry, requestId).catch(onError);
  });
}

/**
 * In a worker at shutdown: send the current values unasked, so the master keeps the latest counts.
 * Haraka sends `plugins.shutdown` and disconnects the worker in the same breath; the channel closes
 * before any promise settles, so this snapshot is read and sent synchronously.
 */
export function sendFinalSnapshot(registry: Registry): void {
  if (!process.send || !process.connected) return;
  const metrics = snapshotNow(registry);
  if (!metrics) {
    void sendSnapshot(registry).catch(() => undefined); // unknown prom-client internals: best effort
    return;
  }
  const reply: Reply = { type: REPLY, metrics };
  process.send(reply, undefined, {}, () => undefined);
}

async function sendSnapshot(registry: Registry, requestId?: number): Promise<void> {
  if (!process.send || !process.connected) return;
  const metrics = (await registry.getMetricsAsJSON()) as MetricsJson;
  const reply: Reply = { type: REPLY, requestId, metrics };
  process.send(reply, undefined, {}, () => {
    // The channel may close while a worker goes away; its last answer is then the one the master keeps.
  });
}

interface HashEntry {
  labels: Record<string, string | number>;
  value?: number;
  bucketValues?: Record<string, number>;
  sum?: number;
  count?: number;
}

/**
 * registry.getMetricsAsJSON(), synchronously, from prom-client 15's metric internals (`hashMap`,
 * `upperBounds`), for metrics without collect(). Undefined when the internals are not what it expects.
 * test/plugins/haraka/labels.test.ts compares it with getMetricsAsJSON().
 */
export function snapshotNow(registry: Registry): MetricsJson | undefined {
  const out: MetricsJson = [];
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as { name: string; help: string; type: string; aggregator: string; hashMap?: Record<string, HashEntry>; upperBounds?: number[]; collect?: unknown };
    if (!m.hashMap || typeof m.collect === 'function') return undefined;
    const values: MetricValue<string>[] = [];
    for (const entry of Object.values(m.hashMap)) {
      if (m.type !== 'histogram') {
        values.push({ value: entry.value ?? 0, labels: entry.labels });
        continue;
      }
      if (!m.upperBounds || !entry.bucketValues) return undefined;
      let cumulative = 0;
      for (const bound of m.upperBounds) {
        cumulative += entry.bucketValues[bound] ?? 0;
        values.push({ value: cumulative, labels: { le: bound, ...entry.labels }, metricName: `${m.name}_bucket` } as MetricValue<string>);
      }
      values.push({ value: entry.count ?? 0, labels: { le: '+Inf', ...entry.labels }, metricName: `${m.name}_bucket` } as MetricValue<string>);
      values.push({ value: entry.sum ?? 0, labels: { ...entry.labels }, metricName: `${m.name}_sum` } as MetricValue<string>);
      values.push({ value: entry.count ?? 0, labels: { ...entry.labels }, metricName: `${m.name}_count` } as MetricValue<string>);
    }
    out.push({ name: m.name, help: m.help, type: m.type, aggregator: m.aggregator, values } as unknown as MetricsJson[number]);
  }
  return out;
}

function withoutGauges(metrics: MetricsJson): MetricsJson {
  return metrics.filter((m) => String(m.type) !== 'gauge');
}

async function sum(parts: MetricsJson[]): Promise<MetricsJson> {
  return (await AggregatorRegistry.aggregate(parts).getMetricsAsJSON()) as MetricsJson;
}

export interface ClusterScrape {
  registry: Registry<RegistryContentType>;
  answered: number;
  stale: number;
}

/** In the master: collects, remembers and sums the workers' metrics. */
export class ClusterCollector {
  private readonly last = new Map<number, MetricsJson>();
  private retired: MetricsJson = [];
  private nextRequestId = 1;
  private readonly waiting = new Map<number, (worker: Worker, metrics: MetricsJson) => void>();
  private readonly onMessage = (worker: Worker, msg: unknown): void => {
    if (!isReply(msg)) return;
    this.last.set(worker.id, msg.metrics);
    if (msg.requestId !== undefined) this.waiting.get(msg.requestId)?.(worker, msg.metrics);
  };

  constructor(
    private readonly cluster: Cluster,
    private readonly timeoutMs: number,
  ) {
    cluster.on('message', this.onMessage);
  }

  stop(): void {
    this.cluster.off('message', this.onMessage);
  }

  /** Sum of every live worker (fresh answer, else its last one) plus the retired workers' counters. */
  async collect(extra: MetricsJson = []): Promise<ClusterScrape> {
    // A worker leaves cluster.workers only once it has exited and its IPC channel is closed, so nothing
    // more can arrive from a worker retired here.
    const workers = Object.values(this.cluster.workers ?? {}).filter((w): w is Worker => !!w);
    await this.retireGone(new Set(workers.map((w) => w.id)));

    const answers = await this.ask(workers.filter((w) => w.isConnected()));
    const snapshots: MetricsJson[] = [];
    let stale = 0;
    for (const w of workers) {
      const fresh = answers.get(w.id);
      const known = fresh ?? this.last.get(w.id);
      if (!fresh) stale++;
      if (known) snapshots.push(known);
    }
    const registry = AggregatorRegistry.aggregate([this.retired, ...snapshots, extra]);
    return { registry, answered: answers.size, stale };
  }

  private async retireGone(live: Set<number>): Promise<void> {
    for (const [id, metrics] of this.last) {
      if (live.has(id)) continue;
      this.retired = await sum([this.retired, withoutGauges(metrics)]);
      this.last.delete(id);
    }
  }

  private ask(workers: Worker[]): Promise<Map<number, MetricsJson>> {
    const answers = new Map<number, MetricsJson>();
    if (workers.length === 0) return Promise.resolve(answers);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.waiting.delete(requestId);
        resolve(answers);
      };
      const timer = setTimeout(finish, this.timeoutMs);
      this.waiting.set(requestId, (worker, metrics) => {
        answers.set(worker.id, metrics);
        if (answers.size >= workers.length) finish();
      });
      for (const w of workers) {
        try {
          w.send({ type: REQUEST, requestId });
        } catch {
          // A worker that is going away simply does not answer; its last values are used.
        }
      }
    });
  }
}
