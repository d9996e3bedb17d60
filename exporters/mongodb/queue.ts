/**
 * Collector `queue`: ZoneMTA's delivery queue per sending zone, read from its `zone-queue` collection
 * (one document per recipient: sendingZone, queued = next attempt, locked while a sender delivers it,
 * created, _deferred.count; deleted once delivered or bounced).
 *
 * Every query is pinned (hint) to an index ZoneMTA creates at startup (its indexes.yaml), so none scans the
 * collection even when an outage has queued a million recipients:
 * - counts per zone: one pass over `search_next` {sendingZone, queued, locked, assigned, domain}, reading
 *   only fields of that index;
 * - oldest recipient per zone: `findall` {created} walked from the oldest entry, one query per zone;
 * - highest deferral count: `find_all_queued` {queued} for the deferred entries and `message_locking`
 *   {locked, assigned, lockTime} for those being delivered.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Document, MongoClient } from 'mongodb';
import type { ScrapeContext } from '../kit/exporter';
import { BoundedLabel } from '../kit/labels';
import type { MongoCollector } from './collector';
import { clearMetrics, remainingMs, toNumber } from './values';

/** ZoneMTA's index keys (indexes.yaml: search_next, findall, find_all_queued, message_locking). */
export const QUEUE_INDEXES = {
  searchNext: { sendingZone: 1, queued: 1, locked: 1, assigned: 1, domain: 1 },
  findAll: { created: 1 },
  findAllQueued: { queued: 1 },
  messageLocking: { locked: 1, assigned: 1, lockTime: 1 },
} as const;

export const QUEUE_STATES = ['queued', 'deferred', 'locked'] as const;

export interface ZoneQueue {
  queued: number;
  deferred: number;
  locked: number;
  /** created of the oldest recipient (ms since epoch); undefined when the zone is empty. */
  oldestCreated?: number;
  maxDeferrals: number;
}

/** Counts per zone: due and free (queued), waiting for a retry (deferred), held by a sender (locked). */
export function countsPipeline(now: Date): Document[] {
  const free = { $ne: ['$locked', true] };
  return [
    {
      $group: {
        _id: '$sendingZone',
        queued: { $sum: { $cond: [{ $and: [free, { $lte: ['$queued', now] }] }, 1, 0] } },
        deferred: { $sum: { $cond: [{ $and: [free, { $gt: ['$queued', now] }] }, 1, 0] } },
        locked: { $sum: { $cond: [{ $eq: ['$locked', true] }, 1, 0] } },
      },
    },
  ];
}

/** Highest `_deferred.count` per zone among the entries `match` selects. */
export function deferralsPipeline(match: Document): Document[] {
  return [{ $match: match }, { $group: { _id: '$sendingZone', maxDeferrals: { $max: '$_deferred.count' } } }];
}

export interface QueueOptions {
  database: string;
  collection: string;
  /** Zones always reported, with 0 when their queue is empty (ZoneMTA's defaultZone is 'default'). */
  zones: string[];
  /** Distinct zone labels at most; further zones are summed into `other`. */
  maxZones: number;
}

export class QueueCollector implements MongoCollector {
  readonly name = 'queue';
  private readonly zoneLabel: BoundedLabel;
  /** Zones seen since start keep reporting 0 when they empty, instead of vanishing. */
  private readonly knownZones = new Set<string>();
  private readonly recipients: Gauge<'zone' | 'state'>;
  private readonly oldestAge: Gauge<'zone'>;
  private readonly maxDeferrals: Gauge<'zone'>;
  private readonly suppressed: Gauge;

  constructor(
    private readonly client: MongoClient,
    registry: Registry,
    private readonly opts: QueueOptions,
  ) {
    this.zoneLabel = new BoundedLabel(opts.maxZones);
    for (const zone of opts.zones) this.knownZones.add(this.zoneLabel.value(zone));
    const registers = [registry];
    this.recipients = new Gauge({
      name: 'mongodb_zonemta_queue_recipients',
      help: 'Recipients in the ZoneMTA queue per sending zone: queued (due, waiting for a sender), deferred (waiting for a retry), locked (being delivered).',
      labelNames: ['zone', 'state'],
      registers,
    });
    this.oldestAge = new Gauge({
      name: 'mongodb_zonemta_queue_oldest_age_seconds',
      help: 'Time since the oldest recipient in the ZoneMTA queue of each sending zone was queued, in seconds; 0 when the zone is empty.',
      labelNames: ['zone'],
      registers,
    });
    this.maxDeferrals = new Gauge({
      name: 'mongodb_zonemta_queue_deferrals_max',
      help: 'Highest number of times a recipient of each sending zone was deferred, among those waiting for a retry or being delivered.',
      labelNames: ['zone'],
      registers,
    });
    this.suppressed = new Gauge({
      name: 'mongodb_zonemta_suppression_list_entries',
      help: 'Addresses and domains on the ZoneMTA suppression list (mail to them is dropped).',
      registers,
    });
  }

  async collect(ctx: ScrapeContext): Promise<void> {
    const db = this.client.db(this.opts.database);
    const queue = db.collection(this.opts.collection);
    const now = new Date();
    const aggregate = (pipeline: Document[], hint: Document) =>
      queue.aggregate(pipeline, { hint, maxTimeMS: remainingMs(ctx), signal: ctx.signal }).toArray();

    const [counts, deferredMax, lockedMax, suppression] = await Promise.all([
      aggregate(countsPipeline(now), QUEUE_INDEXES.searchNext),
      aggregate(deferralsPipeline({ queued: { $gt: now } }), QUEUE_INDEXES.findAllQueued),
      aggregate(deferralsPipeline({ locked: true }), QUEUE_INDEXES.messageLocking),
      db.command({ count: 'suppressionlist', maxTimeMS: remainingMs(ctx) }, { signal: ctx.signal }),
    ]);

    // Group the raw zone names by label ('other' gathers the zones past the limit).
    const zonesByLabel = new Map<string, unknown[]>();
    const zones = new Map<string, ZoneQueue>();
    const entry = (label: string) => {
      let z = zones.get(label);
      if (!z) zones.set(label, (z = { queued: 0, deferred: 0, locked: 0, maxDeferrals: 0 }));
      return z;
    };
    for (const row of counts) {
      const label = this.zoneLabel.value(row._id);
      zonesByLabel.set(label, [...(zonesByLabel.get(label) ?? []), row._id ?? null]);
      const z = entry(label);
      z.queued += toNumber(row.queued);
      z.deferred += toNumber(row.deferred);
      z.locked += toNumber(row.locked);
    }
    for (const row of [...deferredMax, ...lockedMax]) {
      const z = entry(this.zoneLabel.value(row._id));
      z.maxDeferrals = Math.max(z.maxDeferrals, toNumber(row.maxDeferrals) || 0);
    }
    const oldest = await Promise.all(
      [...zonesByLabel].map(async ([label, raw]) => {
        const first = await queue.findOne(
          { sendingZone: { $in: raw } },
          { sort: { created: 1 }, hint: QUEUE_INDEXES.findAll, projection: { created: 1, _id: 0 }, maxTimeMS: remainingMs(ctx), signal: ctx.signal },
        );
        return [label, first ? toNumber(first.created) : NaN] as const;
      }),
    );
    for (const [label, created] of oldest) if (Number.isFinite(created)) entry(label).oldestCreated = created;
    ctx.signal.throwIfAborted();
    this.fill(zones, toNumber(suppression.n), now.getTime());
  }

  private fill(zones: Map<string, ZoneQueue>, suppressed: number, now: number): void {
    this.clear();
    for (const label of zones.keys()) this.knownZones.add(label);
    for (const zone of this.knownZones) {
      const z = zones.get(zone) ?? { queued: 0, deferred: 0, locked: 0, maxDeferrals: 0 };
      for (const state of QUEUE_STATES) this.recipients.set({ zone, state }, z[state]);
      this.oldestAge.set({ zone }, z.oldestCreated === undefined ? 0 : Math.max(0, (now - z.oldestCreated) / 1000));
      this.maxDeferrals.set({ zone }, z.maxDeferrals);
    }
    this.suppressed.set(suppressed);
  }

  clear(): void {
    clearMetrics([this.recipients, this.oldestAge, this.maxDeferrals, this.suppressed]);
  }
}
