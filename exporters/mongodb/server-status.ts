/**
 * Collector `server`: one serverStatus per scrape fills connections, operation counters, network bytes,
 * memory and the WiredTiger cache of the node the exporter points at.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Document, MongoClient } from 'mongodb';
import type { ScrapeContext } from '../kit/exporter';
import type { MongoCollector } from './collector';
import { clearMetrics, remainingMs, setTotal, toNumber } from './values';

const MIB = 1024 * 1024;
export const OPCOUNTER_TYPES = ['insert', 'query', 'update', 'delete', 'getmore', 'command'] as const;
export const LATENCY_TYPES = ['reads', 'writes', 'commands', 'transactions'] as const;

export interface ServerStatusValues {
  version: string;
  uptimeSeconds: number;
  connections: { current: number; available: number; active: number; totalCreated: number; rejected: number };
  opcounters: Record<(typeof OPCOUNTER_TYPES)[number], number>;
  opLatencies: Record<(typeof LATENCY_TYPES)[number], { latencySeconds: number; ops: number }>;
  network: { bytesIn: number; bytesOut: number; requests: number };
  memory: { residentBytes: number; virtualBytes: number };
  /** Absent on other storage engines (inMemory without wiredTiger section). */
  cache?: { bytes: number; maxBytes: number; dirtyBytes: number; readPages: number; writtenPages: number };
}

function section(doc: Document, key: string): Document {
  const v = doc[key];
  return v && typeof v === 'object' ? v : {};
}

/** Picks the figures we export out of a serverStatus reply (pure: tested on literal replies). */
export function parseServerStatus(doc: Document): ServerStatusValues {
  const conn = section(doc, 'connections');
  const op = section(doc, 'opcounters');
  const lat = section(doc, 'opLatencies');
  const net = section(doc, 'network');
  const mem = section(doc, 'mem');
  const cache = section(section(doc, 'wiredTiger'), 'cache');
  const values: ServerStatusValues = {
    version: String(doc.version ?? ''),
    uptimeSeconds: toNumber(doc.uptimeMillis) / 1000 || toNumber(doc.uptime),
    connections: {
      current: toNumber(conn.current),
      available: toNumber(conn.available),
      active: toNumber(conn.active),
      totalCreated: toNumber(conn.totalCreated),
      rejected: toNumber(conn.rejected),
    },
    opcounters: Object.fromEntries(OPCOUNTER_TYPES.map((t) => [t, toNumber(op[t])])) as ServerStatusValues['opcounters'],
    opLatencies: Object.fromEntries(
      LATENCY_TYPES.map((t) => {
        const entry = section(lat, t);
        // serverStatus reports latency in microseconds.
        return [t, { latencySeconds: toNumber(entry.latency) / 1e6, ops: toNumber(entry.ops) }];
      }),
    ) as ServerStatusValues['opLatencies'],
    network: { bytesIn: toNumber(net.bytesIn), bytesOut: toNumber(net.bytesOut), requests: toNumber(net.numRequests) },
    // mem.resident and mem.virtual are in MiB.
    memory: { residentBytes: toNumber(mem.resident) * MIB, virtualBytes: toNumber(mem.virtual) * MIB },
  };
  if ('maximum bytes configured' in cache) {
    values.cache = {
      bytes: toNumber(cache['bytes currently in the cache']),
      maxBytes: toNumber(cache['maximum bytes configured']),
      dirtyBytes: toNumber(cache['tracked dirty bytes in the cache']),
      readPages: toNumber(cache['pages read into cache']),
      writtenPages: toNumber(cache['pages written from cache']),
    };
  }
  return values;
}

export class ServerStatusCollector implements MongoCollector {
  readonly name = 'server';
  private readonly info: Gauge<'version'>;
  private readonly uptime: Gauge;
  private readonly connections: Gauge<'state'>;
  private readonly connectionsCreated: Counter;
  private readonly connectionsRejected: Counter;
  private readonly opcounters: Counter<'type'>;
  private readonly latency: Counter<'type'>;
  private readonly latencyOps: Counter<'type'>;
  private readonly networkBytes: Counter<'direction'>;
  private readonly networkRequests: Counter;
  private readonly memory: Gauge<'type'>;
  private readonly cacheBytes: Gauge;
  private readonly cacheMaxBytes: Gauge;
  private readonly cacheDirtyBytes: Gauge;
  private readonly cachePages: Counter<'direction'>;

  constructor(
    private readonly client: MongoClient,
    registry: Registry,
  ) {
    const registers = [registry];
    this.info = new Gauge({ name: 'mongodb_server_info', help: 'MongoDB server version (serverStatus.version); always 1.', labelNames: ['version'], registers });
    this.uptime = new Gauge({ name: 'mongodb_server_uptime_seconds', help: 'Time since the mongod process started, in seconds.', registers });
    this.connections = new Gauge({
      name: 'mongodb_connections',
      help: 'Client connections to mongod by state: current (open), available (free slots left), active (running an operation).',
      labelNames: ['state'],
      registers,
    });
    this.connectionsCreated = new Counter({ name: 'mongodb_connections_created_total', help: 'Client connections mongod accepted since it started.', registers });
    this.connectionsRejected = new Counter({
      name: 'mongodb_connections_rejected_total',
      help: 'Client connections mongod refused since it started because it had no capacity left (maxIncomingConnections).',
      registers,
    });
    this.opcounters = new Counter({
      name: 'mongodb_operations_total',
      help: 'Operations mongod received since it started, by type (serverStatus.opcounters).',
      labelNames: ['type'],
      registers,
    });
    this.latency = new Counter({
      name: 'mongodb_operation_latency_seconds_total',
      help: 'Total time mongod spent executing operations since it started, by type (reads, writes, commands, transactions).',
      labelNames: ['type'],
      registers,
    });
    this.latencyOps = new Counter({
      name: 'mongodb_operation_latency_operations_total',
      help: 'Operations counted in mongodb_operation_latency_seconds_total, by type; divide the rates for the mean latency.',
      labelNames: ['type'],
      registers,
    });
    this.networkBytes = new Counter({
      name: 'mongodb_network_bytes_total',
      help: 'Network bytes mongod received (in) and sent (out) since it started.',
      labelNames: ['direction'],
      registers,
    });
    this.networkRequests = new Counter({ name: 'mongodb_network_requests_total', help: 'Network requests mongod received since it started.', registers });
    this.memory = new Gauge({
      name: 'mongodb_memory_bytes',
      help: 'Memory of the mongod process by type: resident (in RAM) and virtual.',
      labelNames: ['type'],
      registers,
    });
    this.cacheBytes = new Gauge({ name: 'mongodb_wiredtiger_cache_bytes', help: 'Bytes currently in the WiredTiger cache.', registers });
    this.cacheMaxBytes = new Gauge({ name: 'mongodb_wiredtiger_cache_max_bytes', help: 'Configured size of the WiredTiger cache in bytes.', registers });
    this.cacheDirtyBytes = new Gauge({
      name: 'mongodb_wiredtiger_cache_dirty_bytes',
      help: 'Modified (dirty) bytes in the WiredTiger cache not yet written to disk.',
      registers,
    });
    this.cachePages = new Counter({
      name: 'mongodb_wiredtiger_cache_pages_total',
      help: 'Pages WiredTiger read into its cache (read) and wrote out of it (written) since mongod started.',
      labelNames: ['direction'],
      registers,
    });
  }

  async collect(ctx: ScrapeContext): Promise<void> {
    // Leave out the big sections we do not export (metrics, locks, repl; replset has its own collector).
    const doc = await this.client
      .db('admin')
      .command({ serverStatus: 1, metrics: 0, locks: 0, repl: 0, maxTimeMS: remainingMs(ctx) }, { signal: ctx.signal });
    ctx.signal.throwIfAborted();
    this.fill(parseServerStatus(doc));
  }

  private fill(v: ServerStatusValues): void {
    this.clear();
    if (v.version) this.info.set({ version: v.version }, 1);
    this.uptime.set(v.uptimeSeconds);
    this.connections.set({ state: 'current' }, v.connections.current);
    this.connections.set({ state: 'available' }, v.connections.available);
    if (Number.isFinite(v.connections.active)) this.connections.set({ state: 'active' }, v.connections.active);
    setTotal(this.connectionsCreated, {}, v.connections.totalCreated);
    setTotal(this.connectionsRejected, {}, v.connections.rejected);
    for (const type of OPCOUNTER_TYPES) setTotal(this.opcounters, { type }, v.opcounters[type]);
    for (const type of LATENCY_TYPES) {
      setTotal(this.latency, { type }, v.opLatencies[type].latencySeconds);
      setTotal(this.latencyOps, { type }, v.opLatencies[type].ops);
    }
    setTotal(this.networkBytes, { direction: 'in' }, v.network.bytesIn);
    setTotal(this.networkBytes, { direction: 'out' }, v.network.bytesOut);
    setTotal(this.networkRequests, {}, v.network.requests);
    this.memory.set({ type: 'resident' }, v.memory.residentBytes);
    this.memory.set({ type: 'virtual' }, v.memory.virtualBytes);
    if (v.cache) {
      this.cacheBytes.set(v.cache.bytes);
      this.cacheMaxBytes.set(v.cache.maxBytes);
      this.cacheDirtyBytes.set(v.cache.dirtyBytes);
      setTotal(this.cachePages, { direction: 'read' }, v.cache.readPages);
      setTotal(this.cachePages, { direction: 'written' }, v.cache.writtenPages);
    }
  }

  clear(): void {
    clearMetrics([
      this.info,
      this.uptime,
      this.connections,
      this.connectionsCreated,
      this.connectionsRejected,
      this.opcounters,
      this.latency,
      this.latencyOps,
      this.networkBytes,
      this.networkRequests,
      this.memory,
      this.cacheBytes,
      this.cacheMaxBytes,
      this.cacheDirtyBytes,
      this.cachePages,
    ]);
  }
}
