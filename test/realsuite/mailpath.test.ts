/**
 * Mail through the whole real path: ZoneMTA's feeder -> ZoneMTA (zone "outbound", 2 senders) -> Haraka (2 workers)
 * -> WildDuck's LMTP -> the mailbox, read back over IMAP; then deferrals and rejections Haraka gives. Every figure
 * is compared with what the daemons themselves recorded: ZoneMTA's native zonemta_delivery_status, its log lines
 * (DEFERRED[category]), its /counter/zone/ API and queue collection, WildDuck's native LMTP counter, the mailbox.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { sample, scrape, total } from '../helpers/exposition';
import { type RealSuite, startRealSuite, until } from './harness';
import { mailboxSubjects, submit } from './mail';

jest.setTimeout(120_000);

let suite: RealSuite;
beforeAll(async () => {
  suite = await startRealSuite({
    services: ['zonemta', 'haraka', 'wildduck', 'exporters'],
    exporters: ['mongodb'],
    harakaTls: true,
    harakaRejects: { 'soft@realsuite.test': '451 4.3.0 try later', 'hard@realsuite.test': '550 5.7.1 go away' },
  });
}, 90_000);
afterAll(async () => {
  await suite?.close();
});

const text = async (url: string) => (await scrape(url)).text;

test('messages submitted to ZoneMTA arrive in the WildDuck mailbox, and every counter on the way says how many', async () => {
  const password = 'alice-secret-1';
  const alice = await suite.wildduck.createUser('alice', password);
  const subjects = ['first through the suite', 'second through the suite', 'third through the suite'];
  for (const s of subjects) expect(await submit(suite, alice.address, s)).toMatch(/^250 /);

  // WildDuck's own count of stored LMTP messages reaches 3 (nothing else delivers to it).
  await until('WildDuck to store 3 messages', async () => sample(await text(suite.wildduck.metrics), 'wildduck_lmtp_messages_total', { result: 'success' }) === 3, 60_000);
  expect((await mailboxSubjects(suite, 'alice', password)).sort()).toEqual([...subjects].sort());

  // ZoneMTA's native counter and our plugin agree: 3 delivered in zone outbound, from 127.0.0.1, destination other.
  const native = await until('ZoneMTA to count 3 deliveries', async () => {
    const t = await text(suite.zonemta.metrics);
    return sample(t, 'zonemta_delivery_status', { status: 'delivered', zone: suite.zonemta.zone }) === 3 && t;
  });
  expect(total(native, 'zonemta_delivery_status', { status: 'rejected' })).toBe(0);
  const plugin = await until('the ZoneMTA plugin to count 3 accepted', async () => {
    const t = await text(suite.zonemta.plugin);
    return total(t, 'zonemta_tinomail_deliveries_total', { outcome: 'accepted' }) === 3 && t;
  });
  expect(sample(plugin, 'zonemta_tinomail_deliveries_total', { outcome: 'accepted', zone: suite.zonemta.zone, sending_ip: '127.0.0.1', destination: 'other' })).toBe(3);
  expect(total(plugin, 'zonemta_tinomail_deliveries_total', { outcome: 'deferred' })).toBe(0);
  expect(sample(plugin, 'zonemta_tinomail_messages_queued_total', { interface: 'feeder' })).toBe(3);

  // Haraka: the plugin's sum over both workers, as Haraka counted it.
  const haraka = await text(suite.haraka.plugin);
  expect(sample(haraka, 'haraka_cluster_workers', { state: 'answered' })).toBe(2);
  expect(sample(haraka, 'haraka_messages_total', { result: 'accept' })).toBe(3);
  expect(sample(haraka, 'haraka_recipients_total', { result: 'accept' })).toBe(3);
  expect(total(haraka, 'haraka_recipients_total', { result: 'reject' })).toBe(0);
  // ZoneMTA took Haraka's STARTTLS: the ZoneMTA plugin's TLS counter has each accepted attempt, none in plaintext.
  expect(total(plugin, 'zonemta_tinomail_delivery_tls_total', { outcome: 'accepted' })).toBe(3);
  expect(total(plugin, 'zonemta_tinomail_delivery_tls_total', { outcome: 'accepted', tls_version: 'none' })).toBe(0);
  // The real haraka-plugin-rspamd had each message scanned by the real rspamd, which says "no action" to them all.
  const rspamd = (await (await fetch(`${suite.rspamd!.controller}/stat`)).json()) as { scanned: number; actions: Record<string, number> };
  expect(rspamd.scanned).toBe(3);
  expect(rspamd.actions['no action']).toBe(3);
  expect(sample(haraka, 'haraka_rspamd_actions_total', { action: 'no action' })).toBe(3);
  expect(total(haraka, 'haraka_rspamd_actions_total')).toBe(3);
});

test('deferrals and rejections: the plugins, ZoneMTA itself and the mongodb exporter give the same figures', async () => {
  // 4xx from Haraka for soft@, 5xx for hard@, and 550 5.1.1 for nobody@ (WildDuck has no such user).
  for (const to of ['soft', 'hard', 'nobody']) expect(await submit(suite, `${to}@${suite.domain}`, `to ${to}`)).toMatch(/^250 /);

  const plugin = await until('the ZoneMTA plugin to count 1 deferral and 2 rejections', async () => {
    const t = await text(suite.zonemta.plugin);
    return total(t, 'zonemta_tinomail_deliveries_total', { outcome: 'deferred' }) === 1 && total(t, 'zonemta_tinomail_deliveries_total', { outcome: 'rejected' }) === 2 && t;
  }, 60_000);
  const native = await text(suite.zonemta.metrics);
  expect(sample(native, 'zonemta_delivery_status', { status: 'deferred', zone: suite.zonemta.zone })).toBe(1);
  expect(sample(native, 'zonemta_delivery_status', { status: 'rejected', zone: suite.zonemta.zone })).toBe(2);
  expect(sample(native, 'zonemta_delivery_status', { status: 'delivered', zone: suite.zonemta.zone })).toBe(3);
  expect(total(plugin, 'zonemta_tinomail_deliveries_total', { outcome: 'accepted' })).toBe(3);
  expect(sample(plugin, 'zonemta_tinomail_deferrals_total', { zone: suite.zonemta.zone, attempt: '1' })).toBe(1);
  expect(sample(plugin, 'zonemta_tinomail_smtp_responses_total', { outcome: 'deferred', destination: 'other', response_class: '4xx', enhanced_status: '4.3' })).toBe(1);
  expect(sample(plugin, 'zonemta_tinomail_smtp_responses_total', { outcome: 'rejected', destination: 'other', response_class: '5xx', enhanced_status: '5.7' })).toBe(1);
  expect(sample(plugin, 'zonemta_tinomail_smtp_responses_total', { outcome: 'rejected', destination: 'other', response_class: '5xx', enhanced_status: '5.1' })).toBe(1);

  // Bounce categories: exactly those ZoneMTA logged ("DEFERRED[recipient]", "REJECTED[block]", ...).
  const logged = new Map<string, number>();
  for (const m of readFileSync(join(suite.dir, 'zonemta.log'), 'utf8').matchAll(/ (DEFERRED|REJECTED)\[(\w+)\] /g)) {
    const key = `${m[1] === 'DEFERRED' ? 'deferred' : 'rejected'}/${m[2]}`;
    logged.set(key, (logged.get(key) ?? 0) + 1);
  }
  expect(logged.size).toBeGreaterThan(0);
  const counted = new Map<string, number>();
  for (const line of plugin.split('\n')) {
    const m = /^zonemta_tinomail_delivery_failures_total\{outcome="(\w+)",category="(\w+)",destination="other"\} (\d+)/.exec(line);
    if (m) counted.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  expect(counted).toEqual(logged);

  // Haraka, summed over its workers: 1 tempfail, 2 rejects, one of them WildDuck's NO_SUCH_USER.
  const haraka = await text(suite.haraka.plugin);
  expect(sample(haraka, 'haraka_recipients_total', { result: 'tempfail' })).toBe(1);
  expect(sample(haraka, 'haraka_recipients_total', { result: 'reject' })).toBe(2);
  expect(sample(haraka, 'haraka_plugin_rejections_total', { plugin: 'wildduck', hook: 'rcpt', code: 'DENYSOFT' })).toBe(1);
  expect(sample(haraka, 'haraka_plugin_rejections_total', { plugin: 'wildduck', hook: 'rcpt', code: 'DENY' })).toBe(2);
  expect(sample(haraka, 'haraka_wildduck_rejections_total', { reject_code: 'NO_SUCH_USER' })).toBe(1);

  // The deferred recipient waits in ZoneMTA's queue: the mongodb exporter agrees with ZoneMTA's own /counter/zone/.
  const counter = (await (await fetch(`${suite.zonemta.api}/counter/zone/${suite.zonemta.zone}`)).json()) as { deferred: { rows: number }; active: { rows: number } };
  expect(counter.deferred.rows).toBe(1);
  const client = await MongoClient.connect(`${suite.mongo.url}/?directConnection=true`);
  let created: Date;
  try {
    const entries = await client.db('zone-mta').collection('zone-queue').find({ sendingZone: suite.zonemta.zone }).toArray();
    expect(entries).toHaveLength(1);
    created = entries[0].created as Date;
  } finally {
    await client.close();
  }
  const before = Date.now();
  const exporter = await text(suite.exporters.mongodb!);
  const after = Date.now();
  expect(sample(exporter, 'mongodb_zonemta_queue_recipients', { zone: suite.zonemta.zone, state: 'deferred' })).toBe(counter.deferred.rows);
  expect(sample(exporter, 'mongodb_zonemta_queue_recipients', { zone: suite.zonemta.zone, state: 'queued' })).toBe(counter.active.rows);
  expect(sample(exporter, 'mongodb_zonemta_queue_deferrals_max', { zone: suite.zonemta.zone })).toBe(1);
  // Oldest age: the deferred entry's own `created`, measured while the scrape ran.
  const age = sample(exporter, 'mongodb_zonemta_queue_oldest_age_seconds', { zone: suite.zonemta.zone })!;
  expect(age).toBeGreaterThanOrEqual((before - created.getTime()) / 1000 - 0.001);
  expect(age).toBeLessThanOrEqual((after - created.getTime()) / 1000 + 0.001);
});

test("Haraka offers STARTTLS with the harness's test certificate, which verifies against haraka.tlsCa", async () => {
  const socket = net.connect(suite.haraka.smtp.port, suite.haraka.smtp.host);
  let buffer = '';
  socket.on('data', (d) => (buffer += d.toString()));
  const reply = (re: RegExp) => until(`a reply matching ${re}`, () => re.test(buffer) && buffer, 10_000, 20);
  try {
    await reply(/^220 /m);
    socket.write('EHLO client.realsuite.test\r\n');
    expect(await reply(/^250 /m)).toMatch(/^250[- ]STARTTLS\r?$/m);
    buffer = '';
    socket.write('STARTTLS\r\n');
    await reply(/^220 /m);
    socket.removeAllListeners('data');
    const secure = tls.connect({ socket, ca: readFileSync(suite.haraka.tlsCa!), servername: 'mx.realsuite.test' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    expect(secure.authorized).toBe(true);
    secure.end('QUIT\r\n');
  } finally {
    socket.destroy();
  }
});
