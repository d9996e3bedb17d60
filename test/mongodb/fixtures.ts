/**
 * Replies shaped as MongoDB 7.0 returns them (field names, nesting and BSON types: NumberLong where mongod
 * sends Int64, Timestamps in optimes and oplog entries), trimmed of sections the exporter does not read.
 * ZoneMTA queue documents follow lib/mail-queue.js of zone-mta 3.10 (push() and deferDelivery()).
 */
import { type Document, Long, ObjectId, Timestamp } from 'mongodb';

export const MIB = 1024 * 1024;

/** serverStatus of a mongod 7.0 (sections metrics, locks and repl left out as the exporter asks). */
export function serverStatus(over: { version?: string; uptimeMillis?: number; current?: number; insert?: number } = {}): Document {
  const uptimeMillis = over.uptimeMillis ?? 86_400_500;
  return {
    host: 'mongo1',
    version: over.version ?? '7.0.14',
    process: 'mongod',
    pid: Long.fromNumber(4242),
    uptime: Math.floor(uptimeMillis / 1000),
    uptimeMillis: Long.fromNumber(uptimeMillis),
    uptimeEstimate: Long.fromNumber(Math.floor(uptimeMillis / 1000)),
    localTime: new Date(),
    asserts: { regular: 0, warning: 0, msg: 0, user: 12, tripwire: 0, rollovers: 0 },
    connections: {
      current: over.current ?? 57,
      available: 838803,
      totalCreated: 1204,
      rejected: 3,
      active: 9,
      threaded: 57,
      exhaustIsMaster: 0,
      exhaustHello: 4,
      awaitingTopologyChanges: 4,
    },
    network: {
      bytesIn: Long.fromNumber(734_000_123),
      bytesOut: Long.fromNumber(9_012_345_678),
      physicalBytesIn: Long.fromNumber(734_000_123),
      physicalBytesOut: Long.fromNumber(9_012_345_678),
      numSlowDNSOperations: Long.fromNumber(0),
      numSlowSSLOperations: Long.fromNumber(0),
      numRequests: Long.fromNumber(2_500_001),
      tcpFastOpen: { kernelSetting: Long.fromNumber(1), serverSupported: true, clientSupported: true, accepted: Long.fromNumber(0) },
      compression: {},
      serviceExecutors: {},
    },
    opLatencies: {
      reads: { latency: Long.fromNumber(81_500_000), ops: Long.fromNumber(1_000_000) },
      writes: { latency: Long.fromNumber(12_000_000), ops: Long.fromNumber(40_000) },
      commands: { latency: Long.fromNumber(3_000_000), ops: Long.fromNumber(900_000) },
      transactions: { latency: Long.fromNumber(0), ops: Long.fromNumber(0) },
    },
    opcounters: {
      insert: Long.fromNumber(over.insert ?? 41_000),
      query: Long.fromNumber(650_000),
      update: Long.fromNumber(120_000),
      delete: Long.fromNumber(39_000),
      getmore: Long.fromNumber(15_000),
      command: Long.fromNumber(1_200_000),
    },
    mem: { bits: 64, resident: 1536, virtual: 3172, supported: true },
    wiredTiger: {
      uri: 'statistics:',
      cache: {
        'bytes currently in the cache': Long.fromNumber(1_073_741_824),
        'maximum bytes configured': Long.fromNumber(2_147_483_648),
        'tracked dirty bytes in the cache': Long.fromNumber(5_242_880),
        'pages read into cache': Long.fromNumber(300_000),
        'pages written from cache': Long.fromNumber(200_000),
        'unmodified pages evicted': Long.fromNumber(1000),
      },
    },
    ok: 1,
  };
}

export interface MemberFixture {
  name: string;
  state: number;
  health?: number;
  /** Seconds behind `now` of the member's last applied operation. */
  behindSeconds?: number;
  self?: boolean;
}

const STATE_STR: Record<number, string> = { 1: 'PRIMARY', 2: 'SECONDARY', 3: 'RECOVERING', 7: 'ARBITER', 8: '(not reachable/healthy)' };

/** replSetGetStatus of a 7.0 replica set member. */
export function replSetStatus(set: string, members: MemberFixture[], now = Date.now()): Document {
  const self = members.find((m) => m.self) ?? members[0];
  const optime = (behind: number) => {
    const secs = Math.floor((now - behind * 1000) / 1000);
    return { ts: new Timestamp({ t: secs, i: 1 }), t: Long.fromNumber(3) };
  };
  return {
    set,
    date: new Date(now),
    myState: self.state,
    term: Long.fromNumber(3),
    syncSourceHost: '',
    syncSourceId: -1,
    heartbeatIntervalMillis: Long.fromNumber(2000),
    majorityVoteCount: 2,
    writeMajorityCount: 2,
    votingMembersCount: members.length,
    writableVotingMembersCount: members.filter((m) => m.state !== 7).length,
    optimes: { lastCommittedOpTime: optime(0), lastCommittedWallTime: new Date(now), appliedOpTime: optime(0), durableOpTime: optime(0) },
    members: members.map((m, i) => {
      const health = m.health ?? 1;
      const base: Document = { _id: i, name: m.name, health, state: m.state, stateStr: STATE_STR[m.state] ?? 'UNKNOWN', uptime: health ? 86400 : 0 };
      if (m.state === 7) return { ...base, lastHeartbeat: new Date(now), pingMs: Long.fromNumber(0), configVersion: 1, configTerm: 3 };
      if (!health) {
        // What mongod reports for a member it cannot reach: zero optimes at the epoch.
        return {
          ...base,
          optime: { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) },
          optimeDate: new Date(0),
          lastHeartbeat: new Date(now),
          lastHeartbeatMessage: `Error connecting to ${m.name} :: caused by :: Connection refused`,
          pingMs: Long.fromNumber(0),
          configVersion: -1,
          configTerm: -1,
        };
      }
      const behind = m.behindSeconds ?? 0;
      const secs = Math.floor((now - behind * 1000) / 1000);
      return {
        ...base,
        optime: optime(behind),
        optimeDate: new Date(secs * 1000),
        lastAppliedWallTime: new Date(secs * 1000),
        lastDurableWallTime: new Date(secs * 1000),
        syncSourceHost: m.state === 2 ? members[0].name : '',
        infoMessage: '',
        configVersion: 1,
        configTerm: 3,
        ...(m.self ? { self: true } : { lastHeartbeat: new Date(now), pingMs: Long.fromNumber(1) }),
        ...(m.state === 1 ? { electionTime: new Timestamp({ t: secs - 3600, i: 1 }), electionDate: new Date((secs - 3600) * 1000) } : {}),
      };
    }),
    ok: 1,
  };
}

/** An oplog entry (local.oplog.rs) written `secondsAgo` before `now`. */
export function oplogEntry(secondsAgo: number, now = Date.now()): Document {
  const secs = Math.floor(now / 1000) - secondsAgo;
  return { op: 'n', ns: '', o: { msg: 'periodic noop' }, ts: new Timestamp({ t: secs, i: 1 }), t: Long.fromNumber(3), v: Long.fromNumber(2), wall: new Date(secs * 1000) };
}

export interface DbSizes {
  collections?: number;
  objects: number;
  dataSize: number;
  storageSize: number;
  indexes?: number;
  indexSize: number;
}

/** dbStats (scale 1) of a 7.0 database; a database that does not exist answers zeros. */
export function dbStats(db: string, s: DbSizes): Document {
  return {
    db,
    collections: Long.fromNumber(s.collections ?? 0),
    views: Long.fromNumber(0),
    objects: Long.fromNumber(s.objects),
    avgObjSize: s.objects ? s.dataSize / s.objects : 0,
    dataSize: s.dataSize,
    storageSize: s.storageSize,
    indexes: Long.fromNumber(s.indexes ?? 0),
    indexSize: s.indexSize,
    totalSize: s.storageSize + s.indexSize,
    scaleFactor: Long.fromNumber(1),
    fsUsedSize: 50 * 1024 * MIB,
    fsTotalSize: 200 * 1024 * MIB,
    ok: 1,
  };
}

/** One `$collStats: {storageStats: {}}` result document of a 7.0 collection. */
export function collStats(ns: string, s: { size: number; count: number; storageSize: number; totalIndexSize?: number }): Document {
  return {
    ns,
    host: 'mongo1:27017',
    localTime: new Date(),
    storageStats: {
      size: s.size,
      count: s.count,
      avgObjSize: s.count ? Math.floor(s.size / s.count) : 0,
      numOrphanDocs: 0,
      storageSize: s.storageSize,
      freeStorageSize: 16384,
      capped: false,
      wiredTiger: { metadata: { formatVersion: 1 }, type: 'file' },
      nindexes: 2,
      indexDetails: {},
      indexBuilds: [],
      totalIndexSize: s.totalIndexSize ?? 36864,
      totalSize: s.storageSize + (s.totalIndexSize ?? 36864),
      indexSizes: { _id_: 20480 },
      scaleFactor: 1,
    },
  };
}

/** The indexes ZoneMTA's indexes.yaml creates on the queue collection (plus _id). */
export const ZONE_QUEUE_INDEXES: Document[] = [
  { v: 2, key: { _id: 1 }, name: '_id_' },
  { v: 2, key: { created: 1 }, name: 'findall' },
  { v: 2, key: { sendingZone: 1, queued: 1, locked: 1, assigned: 1, domain: 1 }, name: 'search_next' },
  { v: 2, key: { queued: 1 }, name: 'find_all_queued' },
  { v: 2, key: { id: 1, seq: 1 }, name: 'delivery' },
  { v: 2, key: { locked: 1, assigned: 1, lockTime: 1 }, name: 'message_locking' },
];

let seq = 0;

/**
 * One recipient of a queued message as ZoneMTA's push() stores it; `deferrals` > 0 adds the `_deferred`
 * block deferDelivery() maintains and moves `queued` to the next attempt; `locked` marks it as taken by a sender.
 */
export function queueEntry(opts: {
  zone: string;
  createdSecondsAgo: number;
  deferrals?: number;
  /** Seconds until the next attempt (deferred entries), negative when already due. */
  nextAttemptIn?: number;
  locked?: boolean;
  now?: number;
}): Document {
  const now = opts.now ?? Date.now();
  const created = new Date(now - opts.createdSecondsAgo * 1000);
  const queued = opts.nextAttemptIn !== undefined ? new Date(now + opts.nextAttemptIn * 1000) : created;
  seq++;
  const doc: Document = {
    _id: new ObjectId(),
    id: `18c2f${(1000000 + seq).toString(16)}000a`,
    seq: '001',
    domain: 'example.com',
    sendingZone: opts.zone,
    recipient: `user${seq}@example.com`,
    locked: opts.locked ?? false,
    lockTime: opts.locked ? now - 1000 : 0,
    assigned: opts.locked ? 'default' : 'no',
    queued,
    created,
    sessionId: `smtp-${seq}`,
  };
  if (opts.deferrals) {
    doc._deferred = {
      first: created.getTime() + 60_000,
      count: opts.deferrals,
      last: now - 60_000,
      next: queued.getTime(),
      response: '451 4.7.1 Greylisted, please try again later',
    };
  }
  return doc;
}
