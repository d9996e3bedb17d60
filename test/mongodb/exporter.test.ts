/**
 * The mongodb exporter end to end over HTTP. No MongoDB server can run on the test machines: the target is
 * MockMongod, a wire-protocol server (OP_QUERY handshake, OP_MSG) that the real `mongodb` driver talks to,
 * answering with documents shaped as MongoDB 7.0 returns them (fixtures.ts).
 */
import { createLogger, silentLogger } from '../../exporters/kit/log';
import { runExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/mongodb';
import { collStats, dbStats, MIB, oplogEntry, replSetStatus, serverStatus } from './fixtures';
import { useMockMongod } from './harness';
import { scrape } from './scrape';

const h = useMockMongod(['--mongodb.connect-timeout=500ms']);
const start = h.start;

test('standalone: server figures, replica set not configured, every collector succeeds', async () => {
  const running = await start();
  const s = await scrape(running.url);
  expect(s.status).toBe(200);
  expect(s.value('mongodb_up')).toBe(1);
  expect(s.value('mongodb_server_info', { version: '7.0.14' })).toBe(1);
  expect(s.value('mongodb_connections', { state: 'current' })).toBe(57);
  expect(s.value('mongodb_connections', { state: 'available' })).toBe(838803);
  expect(s.value('mongodb_operations_total', { type: 'insert' })).toBe(41000);
  expect(s.value('mongodb_network_bytes_total', { direction: 'out' })).toBe(9_012_345_678);
  expect(s.value('mongodb_memory_bytes', { type: 'resident' })).toBe(1536 * MIB);
  expect(s.value('mongodb_wiredtiger_cache_bytes')).toBe(1_073_741_824);
  expect(s.value('mongodb_wiredtiger_cache_max_bytes')).toBe(2_147_483_648);
  expect(s.value('mongodb_replset_configured')).toBe(0);
  expect(s.series('mongodb_replset_member_state').size).toBe(0);
  expect(s.value('mongodb_replset_primary_present')).toBeUndefined();
  for (const collector of ['server', 'replset', 'oplog', 'databases', 'queue']) {
    expect(s.value('mongodb_scrape_collector_success', { collector })).toBe(1);
  }
});

test('counters follow the server between scrapes', async () => {
  const running = await start(['--mongodb.collectors=server']);
  expect((await scrape(running.url)).value('mongodb_operations_total', { type: 'insert' })).toBe(41000);
  h.mongod.serverStatus = () => serverStatus({ insert: 41500, current: 60 });
  const s = await scrape(running.url);
  expect(s.value('mongodb_operations_total', { type: 'insert' })).toBe(41500);
  expect(s.value('mongodb_connections', { state: 'current' })).toBe(60);
  expect(s.series('mongodb_scrape_collector_success')).toEqual(new Map([['{collector="server"}', 1]]));
});

test('a replica set member never initiated answers NotYetInitialized: not configured, not a failure', async () => {
  h.mongod.replication = { mode: 'uninitialized' };
  const running = await start(['--mongodb.collectors=replset']);
  const s = await scrape(running.url);
  expect(s.value('mongodb_up')).toBe(1);
  expect(s.value('mongodb_replset_configured')).toBe(0);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'replset' })).toBe(1);
});

test('replica set: member state, health, lag, primary present and the oplog window', async () => {
  const members = [
    { name: 'mongo1:27017', state: 1, self: true },
    { name: 'mongo2:27017', state: 2, behindSeconds: 42 },
    { name: 'mongo3:27017', state: 8, health: 0 },
  ];
  h.mongod.replication = { mode: 'replset', status: () => replSetStatus('rs0', members) };
  h.mongod.collection('local', 'oplog.rs').push(oplogEntry(48 * 3600), oplogEntry(3600), oplogEntry(0));
  const running = await start(['--mongodb.collectors=replset,oplog']);
  let s = await scrape(running.url);
  expect(s.value('mongodb_replset_configured')).toBe(1);
  expect(s.value('mongodb_replset_my_state')).toBe(1);
  expect(s.value('mongodb_replset_primary_present')).toBe(1);
  expect(s.series('mongodb_replset_member_state')).toEqual(
    new Map([
      ['{member="mongo1:27017"}', 1],
      ['{member="mongo2:27017"}', 2],
      ['{member="mongo3:27017"}', 8],
    ]),
  );
  expect(s.value('mongodb_replset_member_health', { member: 'mongo3:27017' })).toBe(0);
  expect(s.series('mongodb_replset_member_replication_lag_seconds')).toEqual(
    new Map([
      ['{member="mongo1:27017"}', 0],
      ['{member="mongo2:27017"}', 42],
    ]),
  );
  expect(s.value('mongodb_replset_oplog_window_seconds')).toBe(48 * 3600);

  // The primary steps down and nobody takes over.
  members[0].state = 2;
  s = await scrape(running.url);
  expect(s.value('mongodb_replset_primary_present')).toBe(0);
  expect(s.value('mongodb_replset_my_state')).toBe(2);
});

test('a user without read on local loses only the oplog window', async () => {
  h.mongod.replication = { mode: 'replset', status: () => replSetStatus('rs0', [{ name: 'mongo1:27017', state: 1, self: true }]) };
  h.mongod.unreadable.add('local');
  const running = await start(['--mongodb.collectors=replset,oplog']);
  const s = await scrape(running.url);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'oplog' })).toBe(0);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'replset' })).toBe(1);
  expect(s.value('mongodb_replset_primary_present')).toBe(1);
  expect(s.value('mongodb_replset_oplog_window_seconds')).toBeUndefined();
});

test('mail databases: sizes, WildDuck counts and the GridFS buckets; a missing bucket is empty', async () => {
  h.mongod.dbStats.set('wildduck', dbStats('wildduck', { objects: 1_500_000, dataSize: 9_000_000_000, storageSize: 3_000_000_000, indexSize: 700_000_000 }));
  h.mongod.dbStats.set('zone-mta', dbStats('zone-mta', { objects: 1200, dataSize: 800_000, storageSize: 400_000, indexSize: 200_000 }));
  for (let i = 0; i < 3; i++) h.mongod.collection('wildduck', 'users').push({ username: `u${i}` });
  for (let i = 0; i < 5; i++) h.mongod.collection('wildduck', 'addresses').push({ address: `a${i}` });
  for (let i = 0; i < 7; i++) h.mongod.collection('wildduck', 'mailboxes').push({ path: `m${i}` });
  for (let i = 0; i < 11; i++) h.mongod.collection('wildduck', 'messages').push({ uid: i });
  h.mongod.collStats.set('wildduck.attachments.files', [collStats('wildduck.attachments.files', { size: 50_000, count: 300, storageSize: 24_576 })]);
  h.mongod.collStats.set('wildduck.attachments.chunks', [collStats('wildduck.attachments.chunks', { size: 700_000_000, count: 3000, storageSize: 500_000_000 })]);
  const running = await start(['--mongodb.collectors=databases']);
  const s = await scrape(running.url);
  expect(s.value('mongodb_database_data_bytes', { database: 'wildduck' })).toBe(9_000_000_000);
  expect(s.value('mongodb_database_storage_bytes', { database: 'wildduck' })).toBe(3_000_000_000);
  expect(s.value('mongodb_database_index_bytes', { database: 'wildduck' })).toBe(700_000_000);
  expect(s.value('mongodb_database_objects', { database: 'zone-mta' })).toBe(1200);
  expect(s.series('mongodb_database_data_bytes').size).toBe(2); // attachments and users live in wildduck by default
  expect(s.series('mongodb_wildduck_collection_documents')).toEqual(
    new Map([
      ['{collection="users"}', 3],
      ['{collection="addresses"}', 5],
      ['{collection="mailboxes"}', 7],
      ['{collection="messages"}', 11],
    ]),
  );
  expect(s.value('mongodb_gridfs_bucket_data_bytes', { database: 'wildduck', bucket: 'attachments' })).toBe(700_000_000);
  expect(s.value('mongodb_gridfs_bucket_storage_bytes', { database: 'wildduck', bucket: 'attachments' })).toBe(500_024_576);
  expect(s.value('mongodb_gridfs_bucket_files', { database: 'wildduck', bucket: 'attachments' })).toBe(300);
  expect(s.value('mongodb_gridfs_bucket_files', { database: 'zone-mta', bucket: 'mail' })).toBe(0);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'databases' })).toBe(1);
});

test('a down server is mongodb_up 0 quickly with HTTP 200, without stale figures, and recovers', async () => {
  const running = await start();
  expect((await scrape(running.url)).value('mongodb_up')).toBe(1);

  await h.mongod.stop();
  for (let i = 0; i < 2; i++) {
    // The first scrape sees the pooled connection close, the second waits out server selection (500ms).
    const s = await scrape(running.url);
    expect(s.status).toBe(200);
    expect(s.value('mongodb_up')).toBe(0);
    expect(s.ms).toBeLessThan(2000);
    expect(s.value('mongodb_server_info', { version: '7.0.14' })).toBeUndefined();
    expect(s.value('mongodb_wiredtiger_cache_bytes')).toBeUndefined();
    expect(s.value('mongodb_replset_configured')).toBeUndefined();
  }

  await h.mongod.start(); // same port: mongod restarted
  const s = await scrape(running.url);
  expect(s.value('mongodb_up')).toBe(1);
  expect(s.value('mongodb_server_info', { version: '7.0.14' })).toBe(1);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'queue' })).toBe(1);
});

test('a server that is not there at startup: the exporter starts and reports up 0', async () => {
  await h.mongod.stop();
  const running = await start();
  const s = await scrape(running.url);
  expect(s.status).toBe(200);
  expect(s.value('mongodb_up')).toBe(0);
  expect(s.ms).toBeLessThan(2000);
  expect((await fetch(`${running.url}/-/ready`)).status).toBe(200);
});

test('a slow collector times out alone; MongoDB is told to stop (maxTimeMS) and the next scrape is whole', async () => {
  h.mongod.delays.set('dbStats', 5000);
  const running = await start(['--mongodb.collector-timeout=300ms']);
  const s = await scrape(running.url);
  expect(s.ms).toBeLessThan(1500);
  expect(s.value('mongodb_up')).toBe(1);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'databases' })).toBe(0);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'server' })).toBe(1);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'replset' })).toBe(1);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'queue' })).toBe(1);
  expect(s.value('mongodb_scrape_collector_duration_seconds', { collector: 'databases' })).toBeLessThan(0.6);
  expect(s.series('mongodb_database_data_bytes').size).toBe(0);
  expect(s.value('mongodb_connections', { state: 'current' })).toBe(57);
  const sent = h.mongod.received.filter((r) => 'dbStats' in r.command).map((r) => r.command.maxTimeMS as number);
  expect(sent.length).toBeGreaterThan(0);
  for (const ms of sent) expect(ms).toBeLessThanOrEqual(300);

  h.mongod.delays.clear();
  const next = await scrape(running.url);
  expect(next.value('mongodb_up')).toBe(1);
  expect(next.value('mongodb_scrape_collector_success', { collector: 'databases' })).toBe(1);
  expect(next.series('mongodb_database_data_bytes').size).toBe(2);
});

test('the scrape timeout from Prometheus bounds every collector', async () => {
  h.mongod.delays.set('serverStatus', 5000);
  const running = await start(['--mongodb.collector-timeout=30s']);
  const s = await scrape(running.url, 1); // 1 s scrape timeout: the kit keeps 0.5 s back
  expect(s.ms).toBeLessThan(1500);
  expect(s.value('mongodb_up')).toBe(1);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'server' })).toBe(0);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'databases' })).toBe(1);
});

test('the password in --mongodb.uri never reaches the logs', async () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  const uri = `mongodb://monitor:Sup3rS3cret@127.0.0.1:${h.mongod.port}/?authSource=admin`;
  await h.mongod.stop(); // the unreachable path logs the URI as well
  const running = (h.running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--mongodb.uri=${uri}`, '--mongodb.connect-timeout=300ms'], { log, env: {} }));
  await scrape(running.url);
  expect(lines.some((l) => l.includes('monitor:xxxxx@127.0.0.1'))).toBe(true);
  expect(lines.join('\n')).not.toContain('Sup3rS3cret');
});

test('configuration that cannot work is refused at startup', async () => {
  await expect(start(['--mongodb.collectors=server,locks'])).rejects.toThrow(/unknown collector locks/);
  await expect(
    runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--mongodb.uri=postgres://x:pw@db/'], { log: silentLogger, env: {} }),
  ).rejects.toThrow(/invalid --mongodb.uri postgres:\/\/x:xxxxx@db\//);
});
