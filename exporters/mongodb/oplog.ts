/**
 * Collector `oplog`: the oplog window, from the first and last entries of local.oplog.rs (natural order is
 * insertion order in the capped oplog: two one-document reads). Its own collector because it needs `read` on
 * `local`, which a monitoring user may lack: the replica set figures then still come.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Document, MongoClient } from 'mongodb';
import type { ScrapeContext } from '../kit/exporter';
import type { MongoCollector } from './collector';
import { clearMetrics, remainingMs } from './values';

/** Seconds between the oldest and the newest oplog entry (their `ts` Timestamps count seconds in the high bits). */
export function oplogWindowSeconds(first: Document | null, last: Document | null): number | undefined {
  const seconds = (entry: Document | null) => (entry?.ts && typeof entry.ts.getHighBits === 'function' ? Number(entry.ts.getHighBits()) : NaN);
  const window = seconds(last) - seconds(first);
  return Number.isFinite(window) ? window : undefined;
}

export class OplogCollector implements MongoCollector {
  readonly name = 'oplog';
  private readonly window: Gauge;

  constructor(
    private readonly client: MongoClient,
    registry: Registry,
  ) {
    this.window = new Gauge({
      name: 'mongodb_replset_oplog_window_seconds',
      help: "Time between the oldest and newest entries of this mongod's oplog: how long a member may be down and still catch up.",
      registers: [registry],
    });
  }

  async collect(ctx: ScrapeContext): Promise<void> {
    const [first, last] = await Promise.all([this.entry(ctx, 1), this.entry(ctx, -1)]);
    ctx.signal.throwIfAborted();
    this.clear();
    // A standalone has no oplog: no window, and nothing wrong.
    const window = oplogWindowSeconds(first, last);
    if (window !== undefined) this.window.set(window);
  }

  /** The oldest (1) or newest (-1) oplog entry. */
  private entry(ctx: ScrapeContext, direction: 1 | -1): Promise<Document | null> {
    return this.client
      .db('local')
      .collection('oplog.rs')
      .findOne({}, { sort: { $natural: direction }, projection: { ts: 1, _id: 0 }, maxTimeMS: remainingMs(ctx), signal: ctx.signal });
  }

  clear(): void {
    clearMetrics([this.window]);
  }
}
