/**
 * Helper of bench/mongodb.ts (skipped by bench/run.ts): runs the mock mongod with mail data in its own
 * process, so the benchmark's process holds only the exporter. Prints the port, stops on stdin end.
 */
import { collStats, dbStats, oplogEntry, queueEntry, replSetStatus, serverStatus, ZONE_QUEUE_INDEXES } from '../test/mongodb/fixtures';
import { MockMongod } from '../test/mongodb/mock-mongod';

const ZONES = ['default', 'bulk', 'transactional', 'newsletters', 'bounces', 'ipv6', 'priority', 'relay'];

async function main(queueSize: number): Promise<void> {
  const m = new MockMongod();
  m.serverStatus = () => serverStatus();
  m.replication = {
    mode: 'replset',
    status: () =>
      replSetStatus('rs0', [
        { name: 'mongo1:27017', state: 1, self: true },
        { name: 'mongo2:27017', state: 2, behindSeconds: 1 },
        { name: 'mongo3:27017', state: 2, behindSeconds: 3 },
      ]),
  };
  m.collection('local', 'oplog.rs').push(oplogEntry(40 * 3600), oplogEntry(0));
  m.dbStats.set('wildduck', dbStats('wildduck', { objects: 1_500_000, dataSize: 9e9, storageSize: 3e9, indexSize: 7e8 }));
  m.dbStats.set('zone-mta', dbStats('zone-mta', { objects: queueSize, dataSize: queueSize * 400, storageSize: queueSize * 150, indexSize: queueSize * 100 }));
  m.collStats.set('wildduck.attachments.files', [collStats('wildduck.attachments.files', { size: 5e6, count: 30_000, storageSize: 2e6 })]);
  m.collStats.set('wildduck.attachments.chunks', [collStats('wildduck.attachments.chunks', { size: 7e9, count: 60_000, storageSize: 5e9 })]);
  m.indexes.set('zone-mta.zone-queue', ZONE_QUEUE_INDEXES);
  const queue = m.collection('zone-mta', 'zone-queue');
  for (let i = 0; i < queueSize; i++) {
    const zone = ZONES[i % ZONES.length];
    const kind = i % 10; // 60 % due now, 30 % deferred, 10 % being delivered
    queue.push(
      kind < 6
        ? queueEntry({ zone, createdSecondsAgo: i % 600 })
        : kind < 9
          ? queueEntry({ zone, createdSecondsAgo: 3600 + (i % 86400), deferrals: 1 + (i % 12), nextAttemptIn: 60 + (i % 3600) })
          : queueEntry({ zone, createdSecondsAgo: 30, locked: true }),
    );
  }
  console.log(await m.start());
  process.stdin.resume();
  process.stdin.on('end', () => void m.stop().then(() => process.exit(0)));
}

void main(Number(process.argv[2] ?? 0));
