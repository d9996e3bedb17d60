/**
 * Collector `replset`: replSetGetStatus (member state, health, replication lag, a primary present).
 * A standalone mongod answers
 * NoReplicationEnabled (76) and a replica set member that was never initiated NotYetInitialized (94):
 * both are a normal state (`mongodb_replset_configured 0`), not a failure.
 */
import { Gauge, type Registry } from 'prom-client';
import { type Document, type MongoClient, MongoServerError } from 'mongodb';
import type { ScrapeContext } from '../kit/exporter';
import { BoundedLabel } from '../kit/labels';
import type { MongoCollector } from './collector';
import { clearMetrics, remainingMs, toNumber } from './values';

export const NO_REPLICATION_ENABLED = 76;
export const NOT_YET_INITIALIZED = 94;
const STATE_PRIMARY = 1;
const STATE_ARBITER = 7;

export interface MemberValues {
  name: string;
  state: number;
  health: number;
  /** Seconds behind the newest optime in the set; absent for arbiters and unreachable members. */
  lagSeconds?: number;
}

export interface ReplSetValues {
  set: string;
  myState: number;
  primaryPresent: boolean;
  members: MemberValues[];
}

/** True for the errors a standalone or not-yet-initiated mongod gives to replSetGetStatus. */
export function isNotReplicaSet(err: unknown): boolean {
  return err instanceof MongoServerError && (err.code === NO_REPLICATION_ENABLED || err.code === NOT_YET_INITIALIZED);
}

/**
 * Member states and lag out of a replSetGetStatus reply (pure). Lag is measured against the primary's
 * optimeDate, or against the newest healthy member when there is no primary (then the set is read-only and
 * the lag still shows which members fall behind).
 */
export function parseReplSetStatus(doc: Document): ReplSetValues {
  const members: Document[] = Array.isArray(doc.members) ? doc.members : [];
  const optime = (m: Document) => toNumber(m.optimeDate);
  const hasOptime = (m: Document) => toNumber(m.health) === 1 && toNumber(m.state) !== STATE_ARBITER && optime(m) > 0;
  const primary = members.find((m) => toNumber(m.state) === STATE_PRIMARY && toNumber(m.health) === 1);
  const newest = primary && hasOptime(primary) ? optime(primary) : Math.max(...members.filter(hasOptime).map(optime));
  return {
    set: String(doc.set ?? ''),
    myState: toNumber(doc.myState),
    primaryPresent: primary !== undefined,
    members: members.map((m) => ({
      name: String(m.name ?? ''),
      state: toNumber(m.state),
      health: toNumber(m.health),
      lagSeconds: hasOptime(m) && Number.isFinite(newest) ? Math.max(0, (newest - optime(m)) / 1000) : undefined,
    })),
  };
}

export class ReplSetCollector implements MongoCollector {
  readonly name = 'replset';
  // Member names are host:port from the replica set config (at most 50 voting + non-voting members).
  private readonly memberLabel = new BoundedLabel(50, /^[A-Za-z0-9_.:[\]-]{1,255}$/);
  private readonly configured: Gauge;
  private readonly myState: Gauge;
  private readonly primaryPresent: Gauge;
  private readonly memberState: Gauge<'member'>;
  private readonly memberHealth: Gauge<'member'>;
  private readonly memberLag: Gauge<'member'>;

  constructor(
    private readonly client: MongoClient,
    registry: Registry,
  ) {
    const registers = [registry];
    this.configured = new Gauge({
      name: 'mongodb_replset_configured',
      help: 'Whether this mongod is a member of an initiated replica set (1) or standalone / not yet initiated (0).',
      registers,
    });
    this.myState = new Gauge({
      name: 'mongodb_replset_my_state',
      help: 'Replica set state of this mongod (1 PRIMARY, 2 SECONDARY, 3 RECOVERING, 5 STARTUP2, 7 ARBITER, 9 ROLLBACK).',
      registers,
    });
    this.primaryPresent = new Gauge({
      name: 'mongodb_replset_primary_present',
      help: 'Whether the replica set has a healthy primary (1) or not (0, writes fail).',
      registers,
    });
    this.memberState = new Gauge({
      name: 'mongodb_replset_member_state',
      help: 'Replica set state of each member (1 PRIMARY, 2 SECONDARY, 3 RECOVERING, 7 ARBITER, 8 DOWN, 9 ROLLBACK, 10 REMOVED).',
      labelNames: ['member'],
      registers,
    });
    this.memberHealth = new Gauge({
      name: 'mongodb_replset_member_health',
      help: 'Whether each member is reachable and healthy as seen from this mongod (1) or not (0).',
      labelNames: ['member'],
      registers,
    });
    this.memberLag = new Gauge({
      name: 'mongodb_replset_member_replication_lag_seconds',
      help: "Seconds each healthy data-bearing member's last applied operation is behind the primary's (the newest member's when there is no primary).",
      labelNames: ['member'],
      registers,
    });
  }

  async collect(ctx: ScrapeContext): Promise<void> {
    const admin = this.client.db('admin');
    let status: Document;
    try {
      status = await admin.command({ replSetGetStatus: 1, maxTimeMS: remainingMs(ctx) }, { signal: ctx.signal });
    } catch (err) {
      if (!isNotReplicaSet(err)) throw err;
      ctx.signal.throwIfAborted();
      this.clear();
      this.configured.set(0);
      return;
    }
    ctx.signal.throwIfAborted();
    this.fill(parseReplSetStatus(status));
  }

  private fill(v: ReplSetValues): void {
    this.clear();
    this.configured.set(1);
    this.myState.set(v.myState);
    this.primaryPresent.set(v.primaryPresent ? 1 : 0);
    for (const m of v.members) {
      const member = this.memberLabel.value(m.name, 'unknown');
      this.memberState.set({ member }, m.state);
      this.memberHealth.set({ member }, m.health);
      if (m.lagSeconds !== undefined) this.memberLag.set({ member }, m.lagSeconds);
    }
  }

  clear(): void {
    clearMetrics([this.configured, this.myState, this.primaryPresent, this.memberState, this.memberHealth, this.memberLag]);
  }
}
