/**
 * Redis INFO: a pure parser (tested on literal INFO text) and the metrics it fills.
 * INFO is server-wide; every value is read once per scrape and nothing is kept when Redis is down,
 * so a down Redis shows `redis_up 0` and no stale memory or client figures.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { allowlisted } from '../kit/labels';

/** `INFO` text -> field -> value. Section headers (`# Memory`), blank lines and lines without `:` are skipped. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** `keys=12,expires=3,avg_ttl=0` (keyspace and replica lines) -> { keys: '12', expires: '3', avg_ttl: '0' }. */
export function parseSubfields(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function num(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Redis reports -1 for "not applicable" (e.g. master_last_io_seconds_ago while the link is down). */
const nonNegative = (value: string | undefined): number | undefined => {
  const n = num(value);
  return n === undefined || n < 0 ? undefined : n;
};

const okAsOne = (value: string | undefined): number | undefined =>
  value === undefined ? undefined : value === 'ok' || value === 'up' ? 1 : 0;

interface InfoSpec {
  field: string;
  name: string;
  help: string;
  counter?: boolean;
  convert?: (value: string | undefined) => number | undefined;
}

/** One INFO field -> one unlabelled metric. A field the server does not report leaves its metric empty. */
const SPECS: InfoSpec[] = [
  { field: 'uptime_in_seconds', name: 'redis_uptime_seconds', help: 'Seconds since the Redis server started.' },
  { field: 'connected_clients', name: 'redis_connected_clients', help: 'Client connections open now, replicas excluded.' },
  { field: 'blocked_clients', name: 'redis_blocked_clients', help: 'Clients waiting in a blocking call (BLPOP, XREAD, BullMQ workers).' },
  { field: 'maxclients', name: 'redis_max_clients', help: 'Maximum number of client connections (maxclients).' },
  { field: 'used_memory', name: 'redis_memory_used_bytes', help: 'Memory allocated by Redis for data and buffers, in bytes.' },
  { field: 'used_memory_rss', name: 'redis_memory_rss_bytes', help: 'Resident memory of the Redis process as the OS sees it, in bytes.' },
  { field: 'maxmemory', name: 'redis_memory_max_bytes', help: 'Configured maxmemory in bytes; 0 means no limit.' },
  { field: 'mem_fragmentation_ratio', name: 'redis_memory_fragmentation_ratio', help: 'Resident memory divided by used memory (above 1.5: fragmented; below 1: swapping).' },
  { field: 'evicted_keys', name: 'redis_evicted_keys_total', help: 'Keys evicted because of maxmemory since the server started.', counter: true },
  { field: 'expired_keys', name: 'redis_expired_keys_total', help: 'Keys removed because their TTL passed since the server started.', counter: true },
  { field: 'total_commands_processed', name: 'redis_commands_processed_total', help: 'Commands processed since the server started.', counter: true },
  { field: 'total_connections_received', name: 'redis_connections_received_total', help: 'Client connections accepted since the server started.', counter: true },
  { field: 'rejected_connections', name: 'redis_rejected_connections_total', help: 'Connections refused because maxclients was reached, since the server started.', counter: true },
  { field: 'used_cpu_sys', name: 'redis_cpu_system_seconds_total', help: 'System CPU time consumed by the Redis server, in seconds.', counter: true },
  { field: 'used_cpu_user', name: 'redis_cpu_user_seconds_total', help: 'User CPU time consumed by the Redis server, in seconds.', counter: true },
  { field: 'connected_slaves', name: 'redis_connected_replicas', help: 'Replicas connected to this server.' },
  { field: 'master_link_status', name: 'redis_replication_master_link_up', help: 'On a replica: whether the link to the primary is up (1) or down (0).', convert: okAsOne },
  { field: 'master_last_io_seconds_ago', name: 'redis_replication_master_last_io_seconds', help: 'On a replica: seconds since the last interaction with the primary (absent while the link is down).', convert: nonNegative },
  { field: 'loading', name: 'redis_loading', help: 'Whether Redis is loading its dataset from disk (1) and cannot serve yet.' },
  { field: 'rdb_changes_since_last_save', name: 'redis_rdb_changes_since_last_save', help: 'Writes since the last RDB snapshot (lost if Redis dies now and only RDB is used).' },
  { field: 'rdb_last_save_time', name: 'redis_rdb_last_save_timestamp_seconds', help: 'Unix time of the last successful RDB snapshot.' },
  { field: 'rdb_last_bgsave_status', name: 'redis_rdb_last_bgsave_success', help: 'Whether the last RDB background save succeeded (1) or failed (0).', convert: okAsOne },
  { field: 'aof_enabled', name: 'redis_aof_enabled', help: 'Whether the append-only file is on (1) or off (0).' },
  { field: 'aof_last_write_status', name: 'redis_aof_last_write_success', help: 'Whether the last AOF write succeeded (1) or failed (0).', convert: okAsOne },
];

const ROLES = new Set(['master', 'slave']);
const POLICIES = new Set([
  'noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl',
]);

/** Fills the INFO metrics from one parsed INFO, or empties them all (Redis down). */
export class InfoMetrics {
  private readonly plain: Array<{ spec: InfoSpec; metric: Gauge | Counter }>;
  private readonly server: Gauge<'version' | 'mode'>;
  private readonly role: Gauge<'role'>;
  private readonly policy: Gauge<'policy'>;
  private readonly dbKeys: Gauge<'db'>;
  private readonly dbExpiring: Gauge<'db'>;
  private readonly replicaLag: Gauge<'replica'>;
  private readonly replicaOffsetLag: Gauge<'replica'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.plain = SPECS.map((spec) => ({
      spec,
      metric: spec.counter
        ? new Counter({ name: spec.name, help: spec.help, registers })
        : new Gauge({ name: spec.name, help: spec.help, registers }),
    }));
    this.server = new Gauge({ name: 'redis_server_info', help: 'Redis server version and mode (standalone, sentinel, cluster); always 1.', labelNames: ['version', 'mode'], registers });
    this.role = new Gauge({ name: 'redis_replication_role', help: 'Replication role of the server (master or slave); 1 for the current role.', labelNames: ['role'], registers });
    this.policy = new Gauge({ name: 'redis_memory_max_policy', help: 'Eviction policy at maxmemory; 1 for the configured one (BullMQ needs noeviction).', labelNames: ['policy'], registers });
    this.dbKeys = new Gauge({ name: 'redis_db_keys', help: 'Keys in each database (INFO keyspace).', labelNames: ['db'], registers });
    this.dbExpiring = new Gauge({ name: 'redis_db_keys_expiring', help: 'Keys with a TTL in each database (INFO keyspace).', labelNames: ['db'], registers });
    this.replicaLag = new Gauge({ name: 'redis_replication_replica_lag_seconds', help: 'On a primary: seconds since each replica (by index) last acknowledged.', labelNames: ['replica'], registers });
    this.replicaOffsetLag = new Gauge({ name: 'redis_replication_replica_offset_lag_bytes', help: 'On a primary: replication bytes each replica (by index) is behind.', labelNames: ['replica'], registers });
  }

  /** Empties every INFO metric: nothing stale is shown while Redis is down. */
  clear(): void {
    for (const { metric } of this.plain) metric.remove();
    for (const g of [this.server, this.role, this.policy, this.dbKeys, this.dbExpiring, this.replicaLag, this.replicaOffsetLag]) g.reset();
  }

  fill(info: Map<string, string>): void {
    this.clear();
    for (const { spec, metric } of this.plain) {
      const value = (spec.convert ?? num)(info.get(spec.field));
      if (value === undefined) continue;
      if (metric instanceof Counter) metric.inc(value);
      else metric.set(value);
    }
    const version = info.get('redis_version');
    if (version !== undefined) {
      this.server.set({ version: /^[\w.-]{1,32}$/.test(version) ? version : 'other', mode: allowlisted(info.get('redis_mode'), new Set(['standalone', 'sentinel', 'cluster'])) }, 1);
    }
    const role = info.get('role');
    if (role !== undefined) this.role.set({ role: allowlisted(role, ROLES) }, 1);
    const policy = info.get('maxmemory_policy');
    if (policy !== undefined) this.policy.set({ policy: allowlisted(policy, POLICIES) }, 1);

    const primaryOffset = num(info.get('master_repl_offset'));
    for (const [field, value] of info) {
      // db0..db15 (or more with `databases`): bounded by the server's configuration.
      const db = /^db(\d{1,4})$/.exec(field);
      if (db) {
        const sub = parseSubfields(value);
        const keys = num(sub.keys);
        const expires = num(sub.expires);
        if (keys !== undefined) this.dbKeys.set({ db: db[1] }, keys);
        if (expires !== undefined) this.dbExpiring.set({ db: db[1] }, expires);
      }
      // slave0:ip=...,port=...,state=online,offset=...,lag=0: the replica's address is never a label, only its index.
      const replica = /^slave(\d{1,3})$/.exec(field);
      if (replica) {
        const sub = parseSubfields(value);
        const lag = num(sub.lag);
        const offset = num(sub.offset);
        if (lag !== undefined) this.replicaLag.set({ replica: replica[1] }, lag);
        if (offset !== undefined && primaryOffset !== undefined) {
          this.replicaOffsetLag.set({ replica: replica[1] }, Math.max(0, primaryOffset - offset));
        }
      }
    }
  }
}
