/**
 * Outbound spam on the real suite: ZoneMTA's bundled core/rspamd (harness option zonemtaRspamd) has every message
 * of its feeder scanned by the real rspamd before queueing, logs a SPAMCHECK entry per scan and refuses `reject`
 * with 550 (NOQUEUE spam). The zonemta-tinomail verdict counter and score histogram must equal what rspamd itself
 * recorded for ZoneMTA's scans (the controller's /history and /stat) and what ZoneMTA logged (`Rspamd <id>
 * RESULTS score=... action=...`, NOQUEUE[spam]).
 *
 * Scores: the X-Tinomail-Score header becomes the score of rspamd's TINOMAIL_TEST_SCORE symbol (rspamd.ts), and
 * rspamd's own thresholds (Debian actions.conf: greylist 4, add header 6, reject 15) choose the action. The
 * messages ZoneMTA queues are delivered to Haraka, whose haraka-plugin-rspamd has them scanned a second time:
 * rspamd's /stat counts both, and /history has a row for each scan, found by the message's Message-ID and told
 * apart by the client IP (ZoneMTA sends rspamd none).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseExposition, sample, scrape, total } from '../helpers/exposition';
import { type RealSuite, startRealSuite, until } from './harness';
import { mailboxSubjects, submit } from './mail';
import { TEST_SCORE_HEADER } from './rspamd';

jest.setTimeout(120_000);

interface RspamdStat {
  scanned: number;
  actions: Record<string, number>;
}
interface HistoryRow {
  id: string;
  ip: string;
  score: number;
  action: string;
}

let suite: RealSuite;
const password = 'erin-secret-1';
let erin: { address: string };
beforeAll(async () => {
  suite = await startRealSuite({ services: ['zonemta'], zonemtaRspamd: true });
  erin = await suite.wildduck.createUser('erin', password);
}, 90_000);
afterAll(async () => {
  await suite?.close();
});

const json = async <T>(url: string): Promise<T> => (await fetch(url, { signal: AbortSignal.timeout(5000) })).json() as Promise<T>;
const text = async (url: string) => (await scrape(url)).text;

// A negative score for the clean one: ZoneMTA sends rspamd no client IP or HELO, so rspamd's own symbols (HFILTER_...)
// add a few points; the scores stay far from the thresholds.
const MESSAGES = [
  { subject: 'clean outbound', score: -5, action: 'no action' },
  { subject: 'spammy outbound', score: 9, action: 'add header' },
  { subject: 'spam outbound', score: 25, action: 'reject' },
];
const messageId = (k: number) => `<outbound-spam-${k}@sender.realsuite.test>`;

test("ZoneMTA's rspamd verdicts: the plugin counts exactly what rspamd recorded for ZoneMTA's scans and what ZoneMTA logged and refused", async () => {
  for (const [k, m] of MESSAGES.entries()) {
    const sent = submit(suite, erin.address, m.subject, { messageId: messageId(k), headers: { [TEST_SCORE_HEADER]: String(m.score) } });
    // core/rspamd refuses what rspamd says to reject, before queueing (app.reject: NOQUEUE, description spam).
    if (m.action === 'reject') await expect(sent).rejects.toThrow(/550.*classified as SPAM/);
    else expect(await sent).toMatch(/^250 /);
  }
  const delivered = MESSAGES.filter((m) => m.action !== 'reject');

  // ZoneMTA scanned 3, queued 2 and refused 1; Haraka scanned the 2 delivered copies; rspamd counted all 5 scans.
  const { zm, hk, stat } = await until('the plugins and rspamd to count every scan', async () => {
    const [zm, hk, stat] = [await text(suite.zonemta.plugin), await text(suite.haraka.plugin), await json<RspamdStat>(`${suite.rspamd!.controller}/stat`)];
    return (
      total(zm, 'zonemta_tinomail_spam_score_count') === MESSAGES.length &&
      total(zm, 'zonemta_tinomail_messages_queued_total') === delivered.length &&
      total(zm, 'zonemta_tinomail_messages_noqueue_total') === 1 &&
      total(hk, 'haraka_rspamd_score_count') === delivered.length &&
      stat.scanned === MESSAGES.length + delivered.length && { zm, hk, stat }
    );
  }, 60_000);

  // Verdicts: the ones rspamd's thresholds chose, one per message, and nothing else.
  const expected: Record<string, number> = {};
  for (const m of MESSAGES) expected[m.action] = (expected[m.action] ?? 0) + 1;
  for (const action of Object.keys(stat.actions)) {
    expect([action, sample(zm, 'zonemta_tinomail_spam_checks_total', { action }) ?? 0]).toEqual([action, expected[action] ?? 0]);
    // rspamd's own /stat: ZoneMTA's scans plus Haraka's (which the Haraka plugin counts, rspamd.test.ts)
    expect([action, stat.actions[action]]).toEqual([action, (expected[action] ?? 0) + (sample(hk, 'haraka_rspamd_actions_total', { action }) ?? 0)]);
  }
  expect(total(zm, 'zonemta_tinomail_spam_checks_total')).toBe(MESSAGES.length);
  expect(sample(zm, 'zonemta_tinomail_log_entries_total', { action: 'SPAMCHECK' })).toBe(MESSAGES.length);

  // rspamd's /history: each delivered message has two rows (ZoneMTA's scan and Haraka's), the rejected one only
  // ZoneMTA's. ZoneMTA's core/rspamd sends rspamd no client IP (its `ip` option is unset): rspamd records "unknown",
  // where haraka-plugin-rspamd sends the client's address.
  const history = await json<HistoryRow[]>(`${suite.rspamd!.controller}/history`);
  const ours = MESSAGES.map((m, k) => {
    const rows = history.filter((r) => `<${r.id}>` === messageId(k));
    expect([m.subject, rows.map((r) => r.ip).sort()]).toEqual([m.subject, m.action === 'reject' ? ['unknown'] : ['127.0.0.1', 'unknown']]);
    return rows.find((r) => r.ip === 'unknown')!;
  });
  expect(ours.map((r) => r.action)).toEqual(MESSAGES.map((m) => m.action));

  // Scores: the histogram holds exactly rspamd's scores of ZoneMTA's scans, bucket by bucket.
  const scores = ours.map((r) => r.score);
  expect(sample(zm, 'zonemta_tinomail_spam_score_sum')).toBeCloseTo(scores.reduce((a, b) => a + b, 0), 2);
  const buckets = parseExposition(zm).filter((x) => x.name === 'zonemta_tinomail_spam_score_bucket');
  expect(buckets).toHaveLength(10);
  for (const b of buckets) {
    const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
    expect([b.labels.le, b.value]).toEqual([b.labels.le, scores.filter((x) => x <= le).length]);
  }

  // ZoneMTA's own log: one RESULTS line per scan with the same score and action, and the refusal of the reject.
  const log = readFileSync(join(suite.dir, 'zonemta.log'), 'utf8');
  const results = [...log.matchAll(/Rspamd \S+ RESULTS score=(-?[\d.]+) action="([^"]+)"/g)].map((m) => ({ score: Number(m[1]), action: m[2] }));
  expect(results.map((r) => r.action)).toEqual(MESSAGES.map((m) => m.action));
  results.forEach((r, k) => expect(r.score).toBeCloseTo(scores[k]!, 2));
  expect(log.match(/NOQUEUE\[spam\]/g) ?? []).toHaveLength(1);
  expect(sample(zm, 'zonemta_tinomail_messages_noqueue_total', { interface: 'feeder', reason: 'spam' })).toBe(1);
  expect(sample(zm, 'zonemta_tinomail_messages_queued_total', { interface: 'feeder' })).toBe(delivered.length);

  // The two that were not rejected reach the mailbox.
  await until('WildDuck to store the delivered messages', async () => (await mailboxSubjects(suite, 'erin', password)).length === delivered.length, 30_000);
  expect((await mailboxSubjects(suite, 'erin', password)).sort()).toEqual(delivered.map((m) => m.subject).sort());
});
