/**
 * The pure parts of the MongoDB exporter on literal replies. No mongod runs on the test machines: the
 * replies are shaped as MongoDB 7.0 returns them (fixtures.ts), with Long and Timestamp values as the
 * driver hands them over.
 */
import { Decimal128, Int32, Long, MongoServerError } from 'mongodb';
import { bucketStats, countedCollections } from '../../exporters/mongodb/databases';
import { watchesSingleHost } from '../../exporters/mongodb/index';
import { oplogWindowSeconds } from '../../exporters/mongodb/oplog';
import { isNotReplicaSet, parseReplSetStatus } from '../../exporters/mongodb/replset';
import { parseServerStatus } from '../../exporters/mongodb/server-status';
import { toNumber } from '../../exporters/mongodb/values';
import { collStats, MIB, oplogEntry, replSetStatus, serverStatus } from './fixtures';

test('toNumber reads every BSON number type and dates, NaN for the rest', () => {
  expect(toNumber(Long.fromString('9012345678'))).toBe(9012345678);
  expect(toNumber(new Int32(7))).toBe(7);
  expect(toNumber(Decimal128.fromString('2.5'))).toBe(2.5);
  expect(toNumber(new Date(1000))).toBe(1000);
  expect(toNumber(3)).toBe(3);
  expect(toNumber(undefined)).toBeNaN();
  expect(toNumber('abc')).toBeNaN();
});

describe('parseServerStatus', () => {
  test('picks connections, counters, latencies, network, memory in bytes and the WiredTiger cache', () => {
    const v = parseServerStatus(serverStatus());
    expect(v.version).toBe('7.0.14');
    expect(v.uptimeSeconds).toBe(86400.5);
    expect(v.connections).toEqual({ current: 57, available: 838803, active: 9, totalCreated: 1204, rejected: 3 });
    expect(v.opcounters).toEqual({ insert: 41000, query: 650000, update: 120000, delete: 39000, getmore: 15000, command: 1200000 });
    expect(v.opLatencies.reads).toEqual({ latencySeconds: 81.5, ops: 1_000_000 });
    expect(v.network).toEqual({ bytesIn: 734_000_123, bytesOut: 9_012_345_678, requests: 2_500_001 });
    expect(v.memory).toEqual({ residentBytes: 1536 * MIB, virtualBytes: 3172 * MIB });
    expect(v.cache).toEqual({ bytes: 1_073_741_824, maxBytes: 2_147_483_648, dirtyBytes: 5_242_880, readPages: 300_000, writtenPages: 200_000 });
  });

  test('a server without WiredTiger (inMemory engine) has no cache figures', () => {
    const doc = serverStatus();
    delete doc.wiredTiger;
    expect(parseServerStatus(doc).cache).toBeUndefined();
  });
});

describe('parseReplSetStatus', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  test('states, health and lag behind the primary; unreachable members and arbiters have no lag', () => {
    const v = parseReplSetStatus(
      replSetStatus(
        'rs0',
        [
          { name: 'mongo1:27017', state: 1, self: true },
          { name: 'mongo2:27017', state: 2, behindSeconds: 12 },
          { name: 'mongo3:27017', state: 8, health: 0 },
          { name: 'arbiter:27017', state: 7 },
        ],
        now,
      ),
    );
    expect(v.set).toBe('rs0');
    expect(v.myState).toBe(1);
    expect(v.primaryPresent).toBe(true);
    expect(v.members).toEqual([
      { name: 'mongo1:27017', state: 1, health: 1, lagSeconds: 0 },
      { name: 'mongo2:27017', state: 2, health: 1, lagSeconds: 12 },
      { name: 'mongo3:27017', state: 8, health: 0, lagSeconds: undefined },
      { name: 'arbiter:27017', state: 7, health: 1, lagSeconds: undefined },
    ]);
  });

  test('without a primary, lag is measured against the newest member', () => {
    const v = parseReplSetStatus(
      replSetStatus(
        'rs0',
        [
          { name: 'a:27017', state: 2, behindSeconds: 5, self: true },
          { name: 'b:27017', state: 2, behindSeconds: 20 },
          { name: 'c:27017', state: 8, health: 0 },
        ],
        now,
      ),
    );
    expect(v.primaryPresent).toBe(false);
    expect(v.myState).toBe(2);
    expect(v.members.map((m) => m.lagSeconds)).toEqual([0, 15, undefined]);
  });

  test('a primary that is seen as unhealthy does not count as present', () => {
    const doc = replSetStatus('rs0', [{ name: 'a:27017', state: 2, self: true }, { name: 'b:27017', state: 1 }], now);
    doc.members[1].health = 0;
    expect(parseReplSetStatus(doc).primaryPresent).toBe(false);
  });
});

test('oplog window is the distance between the first and last entry timestamps', () => {
  const now = Date.UTC(2026, 0, 1);
  expect(oplogWindowSeconds(oplogEntry(30 * 3600, now), oplogEntry(0, now))).toBe(30 * 3600);
  expect(oplogWindowSeconds(null, null)).toBeUndefined();
});

test('standalone and not-yet-initiated errors are told apart from real failures', () => {
  const err = (code: number, codeName: string) => new MongoServerError({ ok: 0, code, codeName, errmsg: codeName });
  expect(isNotReplicaSet(err(76, 'NoReplicationEnabled'))).toBe(true);
  expect(isNotReplicaSet(err(94, 'NotYetInitialized'))).toBe(true);
  expect(isNotReplicaSet(err(13, 'Unauthorized'))).toBe(false);
  expect(isNotReplicaSet(new Error('connection closed'))).toBe(false);
});

test('bucket stats sum the shards of files and chunks', () => {
  const files = [collStats('wildduck.attachments.files', { size: 1000, count: 10, storageSize: 4096 }), collStats('wildduck.attachments.files', { size: 500, count: 5, storageSize: 4096 })];
  const chunks = [collStats('wildduck.attachments.chunks', { size: 3_000_000, count: 12, storageSize: 2_000_000 })];
  expect(bucketStats(files, chunks)).toEqual({ dataBytes: 3_000_000, storageBytes: 2_000_000 + 8192, files: 15 });
  expect(bucketStats([], [])).toEqual({ dataBytes: 0, storageBytes: 0, files: 0 });
});

test('users and addresses are counted in the users database, mailboxes and messages in the main one', () => {
  const dbs = { wildduck: 'wd', users: 'wdusers', attachments: 'wd', attachmentsBucket: 'attachments', queue: 'zone-mta', queueBucket: 'mail' };
  expect(countedCollections(dbs)).toEqual([
    { database: 'wdusers', collection: 'users' },
    { database: 'wdusers', collection: 'addresses' },
    { database: 'wd', collection: 'mailboxes' },
    { database: 'wd', collection: 'messages' },
  ]);
});

test('a single host is watched directly; seed lists, SRV and explicit choices are left to the driver', () => {
  expect(watchesSingleHost('mongodb://127.0.0.1:27017/')).toBe(true);
  expect(watchesSingleHost('mongodb://monitor:s3cret@db1:27017/admin?authSource=admin')).toBe(true);
  expect(watchesSingleHost('mongodb://db1:27017,db2:27017/?replicaSet=rs0')).toBe(false);
  expect(watchesSingleHost('mongodb+srv://cluster.example.net/')).toBe(false);
  expect(watchesSingleHost('mongodb://db1:27017/?directConnection=false')).toBe(false);
});
