/**
 * Mail through the whole real path: ZoneMTA's feeder -> ZoneMTA (zone "outbound", 2 senders) -> Haraka (2 workers)
 * -> WildDuck's LMTP -> the mailbox, read back over IMAP. Every figure is compared with what the daemons themselves
 * recorded: ZoneMTA's native zonemta_delivery_status, WildDuck's native LMTP counter, and the mailbox.
 */
import { sample, scrape, total } from '../helpers/exposition';
import { type RealSuite, startRealSuite, until } from './harness';
import { mailboxSubjects, submit } from './mail';

jest.setTimeout(120_000);

let suite: RealSuite;
beforeAll(async () => {
  suite = await startRealSuite({ services: ['zonemta', 'haraka', 'wildduck'] });
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
});
