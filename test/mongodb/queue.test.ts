/**
 * ZoneMTA's queue per sending zone. No MongoDB server can run on the test machines: MockMongod (a
 * wire-protocol server the real driver talks to) holds `zone-mta.zone-queue` documents shaped as ZoneMTA
 * 3.10's lib/mail-queue.js writes them, carries the indexes ZoneMTA's indexes.yaml creates, refuses hints
 * naming any other index as mongod does, and evaluates the exporter's filters and pipelines (mini-query.ts).
 */
import { type Document, ObjectId } from 'mongodb';
import { createLogger } from '../../exporters/kit/log';
import { queueEntry, ZONE_QUEUE_INDEXES } from './fixtures';
import { useMockMongod } from './harness';
import { scrape } from './scrape';

const h = useMockMongod(['--mongodb.collectors=queue']);
const start = h.start;
let queue: Document[];

beforeEach(() => {
  h.mongod.indexes.set('zone-mta.zone-queue', ZONE_QUEUE_INDEXES);
  queue = h.mongod.collection('zone-mta', 'zone-queue');
});

const HOUR = 3600;

function fillQueue(): void {
  queue.push(
    // default: three fresh recipients due now, two deferred, one being delivered after three deferrals
    queueEntry({ zone: 'default', createdSecondsAgo: 10 }),
    queueEntry({ zone: 'default', createdSecondsAgo: 20 }),
    queueEntry({ zone: 'default', createdSecondsAgo: 30 }),
    queueEntry({ zone: 'default', createdSecondsAgo: 2 * HOUR, deferrals: 2, nextAttemptIn: 600 }),
    queueEntry({ zone: 'default', createdSecondsAgo: 5 * HOUR, deferrals: 4, nextAttemptIn: 1200 }),
    queueEntry({ zone: 'default', createdSecondsAgo: 3 * HOUR, deferrals: 3, nextAttemptIn: -5, locked: true }),
    // bulk: one being delivered, one deferred nine times, one due again after twelve deferrals (not yet taken)
    queueEntry({ zone: 'bulk', createdSecondsAgo: 60, locked: true }),
    queueEntry({ zone: 'bulk', createdSecondsAgo: 26 * HOUR, deferrals: 9, nextAttemptIn: HOUR }),
    queueEntry({ zone: 'bulk', createdSecondsAgo: 30 * HOUR, deferrals: 12, nextAttemptIn: -30 }),
  );
  const suppression = h.mongod.collection('zone-mta', 'suppressionlist');
  suppression.push(
    { _id: new ObjectId(), address: 'bounced@example.com', created: new Date() },
    { _id: new ObjectId(), address: 'complained@example.net', created: new Date() },
    { _id: new ObjectId(), domain: 'spamtrap.example', created: new Date() },
  );
}

test('recipients per zone and state, oldest age and highest deferral count are exact', async () => {
  fillQueue();
  const running = await start(['--mongodb.queue-zones=default,transactional']);
  const s = await scrape(running.url);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'queue' })).toBe(1);
  expect(s.series('mongodb_zonemta_queue_recipients')).toEqual(
    new Map([
      ['{zone="default",state="queued"}', 3],
      ['{zone="default",state="deferred"}', 2],
      ['{zone="default",state="locked"}', 1],
      ['{zone="transactional",state="queued"}', 0],
      ['{zone="transactional",state="deferred"}', 0],
      ['{zone="transactional",state="locked"}', 0],
      ['{zone="bulk",state="queued"}', 1],
      ['{zone="bulk",state="deferred"}', 1],
      ['{zone="bulk",state="locked"}', 1],
    ]),
  );
  expect(s.value('mongodb_zonemta_queue_oldest_age_seconds', { zone: 'default' })).toBeCloseTo(5 * HOUR, -1);
  expect(s.value('mongodb_zonemta_queue_oldest_age_seconds', { zone: 'bulk' })).toBeCloseTo(30 * HOUR, -1);
  expect(s.value('mongodb_zonemta_queue_oldest_age_seconds', { zone: 'transactional' })).toBe(0);
  // Deferred and in-delivery entries count; bulk's entry due again after 12 deferrals waits for a sender.
  expect(s.value('mongodb_zonemta_queue_deferrals_max', { zone: 'default' })).toBe(4);
  expect(s.value('mongodb_zonemta_queue_deferrals_max', { zone: 'bulk' })).toBe(9);
  expect(s.value('mongodb_zonemta_queue_deferrals_max', { zone: 'transactional' })).toBe(0);
  expect(s.value('mongodb_zonemta_suppression_list_entries')).toBe(3);
  // No personal data: recipients and domains never appear.
  expect(s.text).not.toMatch(/example\.com|bounced@/);
});

test('every queue query is pinned to an index ZoneMTA creates', async () => {
  fillQueue();
  const running = await start();
  await scrape(running.url);
  const queries = h.mongod.received.filter((r) => r.db === 'zone-mta' && (r.command.aggregate === 'zone-queue' || r.command.find === 'zone-queue'));
  expect(queries.length).toBeGreaterThanOrEqual(5); // counts, two deferral passes, oldest of each zone
  const zoneMtaIndexKeys = ZONE_QUEUE_INDEXES.filter((i) => i.name !== '_id_').map((i) => JSON.stringify(i.key));
  for (const q of queries) expect(zoneMtaIndexKeys).toContain(JSON.stringify(q.command.hint));
  const used = new Set(queries.map((q) => ZONE_QUEUE_INDEXES.find((i) => JSON.stringify(i.key) === JSON.stringify(q.command.hint))!.name));
  expect([...used].sort()).toEqual(['find_all_queued', 'findall', 'message_locking', 'search_next']);
  // The counting pass reads only fields of search_next, so MongoDB can answer it from the index.
  const counts = queries.find((q) => q.command.hint.sendingZone)!;
  const fields = JSON.stringify(counts.command.pipeline).match(/"\$[a-zA-Z_.]+"(?!:)/g)!.map((f) => f.slice(2, -1));
  expect(fields.sort()).toEqual(['locked', 'locked', 'locked', 'queued', 'queued', 'sendingZone']);
  for (const f of fields) expect(Object.keys(ZONE_QUEUE_INDEXES[2].key)).toContain(f);
});

test('zones past the limit are summed as other; a zone that empties reports 0', async () => {
  queue.push(
    queueEntry({ zone: 'default', createdSecondsAgo: 5 }),
    queueEntry({ zone: 'z1', createdSecondsAgo: 50, deferrals: 1, nextAttemptIn: 300 }),
    queueEntry({ zone: 'z2', createdSecondsAgo: 7 }),
    queueEntry({ zone: 'z2', createdSecondsAgo: 8, locked: true }),
    queueEntry({ zone: 'z3', createdSecondsAgo: 5 * 24 * HOUR, deferrals: 20, nextAttemptIn: 4 * HOUR }),
  );
  const running = await start(['--mongodb.queue-max-zones=2']);
  let s = await scrape(running.url);
  const zones = new Set([...s.series('mongodb_zonemta_queue_recipients').keys()].map((k) => /zone="([^"]+)"/.exec(k)![1]));
  expect([...zones].sort()).toEqual(['default', 'other', 'z1']);
  expect(s.value('mongodb_zonemta_queue_recipients', { zone: 'other', state: 'queued' })).toBe(1);
  expect(s.value('mongodb_zonemta_queue_recipients', { zone: 'other', state: 'locked' })).toBe(1);
  expect(s.value('mongodb_zonemta_queue_recipients', { zone: 'other', state: 'deferred' })).toBe(1);
  expect(s.value('mongodb_zonemta_queue_oldest_age_seconds', { zone: 'other' })).toBeCloseTo(5 * 24 * HOUR, -1);
  expect(s.value('mongodb_zonemta_queue_deferrals_max', { zone: 'other' })).toBe(20);
  const total = [...s.series('mongodb_zonemta_queue_recipients').values()].reduce((a, b) => a + b, 0);
  expect(total).toBe(queue.length);

  // z1's mail is delivered: the zone stays, at 0.
  queue.splice(queue.findIndex((d) => d.sendingZone === 'z1'), 1);
  s = await scrape(running.url);
  expect(s.value('mongodb_zonemta_queue_recipients', { zone: 'z1', state: 'deferred' })).toBe(0);
  expect(s.value('mongodb_zonemta_queue_oldest_age_seconds', { zone: 'z1' })).toBe(0);
});

test('an empty or missing queue reports the configured zones at 0', async () => {
  const running = await start();
  const s = await scrape(running.url);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'queue' })).toBe(1);
  expect(s.value('mongodb_zonemta_queue_recipients', { zone: 'default', state: 'queued' })).toBe(0);
  expect(s.value('mongodb_zonemta_suppression_list_entries')).toBe(0);
});

test('without ZoneMTA indexes the queue collector fails alone and says why', async () => {
  fillQueue();
  h.mongod.indexes.set('zone-mta.zone-queue', [{ v: 2, key: { _id: 1 }, name: '_id_' }]);
  const lines: string[] = [];
  const running = await start(['--mongodb.collectors=server,queue'], createLogger({ write: (l) => lines.push(l) }));
  const s = await scrape(running.url);
  expect(s.value('mongodb_up')).toBe(1);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'queue' })).toBe(0);
  expect(s.value('mongodb_scrape_collector_success', { collector: 'server' })).toBe(1);
  expect(s.series('mongodb_zonemta_queue_recipients').size).toBe(0);
  expect(lines.join('\n')).toMatch(/collector=queue .*hint provided does not correspond to an existing index/);
});
