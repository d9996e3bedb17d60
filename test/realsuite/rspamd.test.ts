/**
 * The real Debian rspamd (3.4) in the real suite: mail sent to Haraka is scanned by the real haraka-plugin-rspamd
 * against rspamd's normal worker, and our Haraka plugin's rspamd figures must equal what rspamd itself recorded
 * (the controller's /stat, /history and native /metrics). The native /metrics is scraped by the real Prometheus
 * with the shipped `rspamd` job, its names and labels are the ones our dashboards and rules use, and rspamd
 * stopped shows as connection errors while mail keeps flowing (haraka-plugin-rspamd's default, defer.error false).
 *
 * Scores: rspamd.ts adds one symbol, TINOMAIL_TEST_SCORE, whose score is the message's X-Tinomail-Score header;
 * rspamd adds its own symbols to it and its own thresholds (Debian actions.conf: greylist 4, add header 6,
 * reject 15) choose the action.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { labelValues, parseExposition, sample, scrape, total } from '../helpers/exposition';
import { nativeMetrics } from '../grafana/known-metrics';
import { REPO, type RealSuite, startRealSuite, until } from './harness';
import { mailboxSubjects, submit } from './mail';
import { startSuitePrometheus } from './monitoring';
import { TEST_SCORE_HEADER } from './rspamd';

jest.setTimeout(120_000);

interface RspamdStat {
  scanned: number;
  actions: Record<string, number>;
  spam_count: number;
  ham_count: number;
}
interface HistoryRow {
  score: number;
  action: string;
  symbols: Record<string, unknown>;
  scan_time: number;
}

let suite: RealSuite;
const password = 'carol-secret-1';
let carol: { address: string };
beforeAll(async () => {
  suite = await startRealSuite({ services: ['haraka', 'rspamd'] });
  carol = await suite.wildduck.createUser('carol', password);
}, 90_000);
afterAll(async () => {
  await suite?.close();
});

const rspamd = () => suite.rspamd!;
const json = async <T>(url: string): Promise<T> => (await fetch(url, { signal: AbortSignal.timeout(5000) })).json() as Promise<T>;
const stat = () => json<RspamdStat>(`${rspamd().controller}/stat`);
/** rspamd's in-memory history of scans (the controller's /history; newest first, up to history_rows = 200). */
const history = () => json<HistoryRow[]>(`${rspamd().controller}/history`);
const haraka = async () => (await scrape(suite.haraka.plugin)).text;
const toHaraka = (subject: string, score?: number) =>
  submit(suite, carol.address, subject, { server: suite.haraka.smtp, headers: score === undefined ? {} : { [TEST_SCORE_HEADER]: String(score) } });

// Scores far from the thresholds, so that rspamd's own small symbols (MIME_GOOD -0.1, ...) cannot move them across.
const MESSAGES = [
  { subject: 'plain', score: undefined, action: 'no action' },
  { subject: 'grey', score: 5, action: 'greylist' },
  { subject: 'header one', score: 9, action: 'add header' },
  { subject: 'header two', score: 11, action: 'add header' },
  { subject: 'rejected', score: 25, action: 'reject' },
];

test('every message Haraka takes is scanned by rspamd, and the Haraka plugin counts exactly what rspamd counted', async () => {
  for (const m of MESSAGES) {
    const sent = toHaraka(m.subject, m.score);
    // reject.spam (on by default): Haraka refuses what rspamd says to reject, with haraka-plugin-rspamd's message.
    if (m.action === 'reject') await expect(sent).rejects.toThrow(/550.*Detected as spam/);
    else expect(await sent).toMatch(/^250 /);
  }

  const own = await until('rspamd and the Haraka plugin to count all messages', async () => {
    const [s, t] = [await stat(), await haraka()];
    return s.scanned === MESSAGES.length && sample(t, 'haraka_rspamd_score_count') === MESSAGES.length && { s, t };
  }, 60_000);
  const { s, t } = own;

  // Actions: rspamd's own thresholds chose them, and the plugin's counter has rspamd's figure for every action.
  const expected: Record<string, number> = {};
  for (const m of MESSAGES) expected[m.action] = (expected[m.action] ?? 0) + 1;
  for (const [action, n] of Object.entries(s.actions)) {
    expect([action, sample(t, 'haraka_rspamd_actions_total', { action }) ?? 0]).toEqual([action, n]);
    expect([action, n]).toEqual([action, expected[action] ?? 0]);
  }
  expect(total(t, 'haraka_rspamd_actions_total')).toBe(s.scanned);
  expect(total(t, 'haraka_rspamd_errors_total')).toBe(0);

  // Scores: the histogram holds exactly the scores rspamd logged in its history, bucket by bucket.
  const rows = (await history()).slice(0, MESSAGES.length);
  expect(rows).toHaveLength(MESSAGES.length);
  expect(rows.filter((r) => 'TINOMAIL_TEST_SCORE' in r.symbols)).toHaveLength(MESSAGES.filter((m) => m.score !== undefined).length);
  const scores = rows.map((r) => r.score);
  expect(sample(t, 'haraka_rspamd_score_sum')).toBeCloseTo(scores.reduce((a, b) => a + b, 0), 6);
  const buckets = parseExposition(t).filter((x) => x.name === 'haraka_rspamd_score_bucket');
  expect(buckets.length).toBeGreaterThan(1);
  for (const b of buckets) {
    const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
    expect([b.labels.le, b.value]).toEqual([b.labels.le, scores.filter((x) => x <= le).length]);
  }
  expect(sample(t, 'haraka_rspamd_scan_duration_seconds_count')).toBe(s.scanned);

  // No scan waited for DNS: rspamd's nameserver refuses at once (RBL lookups of the HELO name fail as "query
  // refused", never "query timed out"), so a scan takes milliseconds, far below rspamd's 8 s task_timeout.
  const log = readFileSync(join(suite.dir, 'rspamd.log'), 'utf8');
  expect(log).toMatch(/_FAIL\(0\.00\)\{[^}]*query refused;\}/);
  expect(log).not.toMatch(/query timed out/);
  expect(Math.max(...rows.map((r) => r.scan_time))).toBeLessThan(5);

  // Haraka refused the one rspamd said to reject; the other four reached carol's mailbox.
  expect(sample(t, 'haraka_messages_total', { result: 'reject' })).toBe(1);
  expect(sample(t, 'haraka_messages_total', { result: 'accept' })).toBe(MESSAGES.length - 1);
  expect((await mailboxSubjects(suite, 'carol', password)).sort()).toEqual(MESSAGES.filter((m) => m.action !== 'reject').map((m) => m.subject).sort());

  // rspamd's native /metrics says the same as its /stat.
  const native = (await scrape(rspamd().metrics)).text;
  expect(sample(native, 'rspamd_scanned_total')).toBe(s.scanned);
  for (const [type, n] of Object.entries(s.actions)) expect([type, sample(native, 'rspamd_actions_total', { type })]).toEqual([type, n]);
  expect(sample(native, 'rspamd_spam_total')).toBe(s.spam_count);
  expect(sample(native, 'rspamd_ham_total')).toBe(s.ham_count);
  expect(s.spam_count + s.ham_count).toBe(s.scanned);
});

/** Every `rspamd_*` name (not our plugin's `haraka_rspamd_*`) in the shipped dashboards and rules. */
function rspamdNamesWeUse(): Set<string> {
  const files = [
    ...readdirSync(join(REPO, 'grafana', 'dashboards')).map((f) => join(REPO, 'grafana', 'dashboards', f)),
    ...readdirSync(join(REPO, 'prometheus', 'rules')).map((f) => join(REPO, 'prometheus', 'rules', f)),
  ];
  const names = new Set<string>();
  for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/(?<![\w:])rspamd_[a-z_]+/g)) names.add(m[0]);
  return names;
}

test("the names and labels our dashboards and rules use are those of rspamd 3.4's /metrics, and Prometheus scrapes it as the shipped job does", async () => {
  const native = (await scrape(rspamd().metrics)).text;
  const real = new Map<string, Set<string>>();
  for (const s of parseExposition(native)) real.set(s.name, new Set([...(real.get(s.name) ?? []), ...Object.keys(s.labels)]));

  const used = rspamdNamesWeUse();
  expect(used.size).toBeGreaterThan(0);
  const documented = nativeMetrics(); // prometheus/native-metrics.txt, which the rule and dashboard tests check against
  const typeOf = (name: string) => new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(native)?.[1];
  for (const name of used) {
    expect([name, real.has(name)]).toEqual([name, true]);
    expect([name, documented.get(name)?.source]).toEqual([name, 'native rspamd']);
    expect([name, typeOf(name)]).toEqual([name, documented.get(name)!.kind]);
    expect([name, [...real.get(name)!].sort()]).toEqual([name, [...documented.get(name)!.labels].sort()]);
  }
  // The action label takes rspamd's action names, spaces included (after the first scan; absent before it).
  expect([...labelValues(native, 'rspamd_actions_total', 'type')].sort()).toEqual(['add header', 'greylist', 'no action', 'reject', 'rewrite subject', 'soft reject']);
  // Every family native-metrics.txt lists for rspamd is there, but for Bayes statfiles (they need a Redis
  // statistics backend, off here) and fuzzy storage (a fuzzy worker, off by default).
  for (const [name, entry] of documented) {
    if (entry.source !== 'native rspamd' || /^rspamd_(statfiles_|fuzzy_)/.test(name)) continue;
    expect([name, real.has(name), typeOf(name)]).toEqual([name, true, entry.kind]);
    expect([name, [...real.get(name)!].sort()]).toEqual([name, [...entry.labels].sort()]);
  }

  // The controller lets 127.0.0.1, its secure_ip, in without the password (README.md "Rspamd"); another address
  // (127.0.0.2, also loopback) needs it.
  const from = (localAddress: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(`${rspamd().controller}/stat`);
      http.get({ host: url.hostname, port: url.port, path: url.pathname, localAddress, headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
  expect(await from('127.0.0.1')).toBe(200);
  expect(await from('127.0.0.2')).toBe(401);
  expect(await from('127.0.0.2', { Password: rspamd().password })).toBe(200);

  // The real Prometheus with prometheus/prometheus.yml, only the rspamd job given a target (the controller).
  const prometheus = await startSuitePrometheus(suite.dir, { rspamd: [new URL(rspamd().controller).host] }, '1s');
  try {
    const query = async (expr: string) => {
      const r = await json<{ data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      return r.data.result;
    };
    const s = await stat();
    const stored = await until('Prometheus to store rspamd_scanned_total', async () => {
      const r = await query('rspamd_scanned_total{job="rspamd"}');
      return r.length === 1 && Number(r[0].value[1]) === s.scanned && r;
    }, 30_000);
    expect(stored[0].metric.instance).toBe(new URL(rspamd().controller).host);
    expect(Number((await query('up{job="rspamd"}'))[0].value[1])).toBe(1);
    // The dashboards' own query shape: by (type), the action names as rspamd gives them.
    const byType = await query('sum by (type) (rspamd_actions_total{job="rspamd"})');
    expect(Object.fromEntries(byType.map((r) => [r.metric.type, Number(r.value[1])]))).toEqual(s.actions);
  } finally {
    await prometheus.stop();
  }
});

test('rspamd stopped: Haraka still takes the mail unscanned and counts a connection error; scans resume when rspamd is back', async () => {
  const before = await haraka();
  const errors = total(before, 'haraka_rspamd_errors_total', { reason: 'connection' });
  const scored = sample(before, 'haraka_rspamd_score_count')!;

  await suite.stopService('rspamd');
  expect(await toHaraka('while rspamd is down', 20)).toMatch(/^250 /); // defer.error is false by default: no 451
  const during = await until('a connection error in the Haraka plugin', async () => {
    const t = await haraka();
    return sample(t, 'haraka_rspamd_errors_total', { reason: 'connection' }) === errors + 1 && t;
  });
  expect(sample(during, 'haraka_rspamd_score_count')).toBe(scored); // nothing scanned, no action counted
  expect(await mailboxSubjects(suite, 'carol', password)).toContain('while rspamd is down');

  await suite.startService('rspamd');
  const scannedBefore = (await stat()).scanned; // rspamd keeps its counters across a restart (DBDIR/stats.ucl)
  expect(await toHaraka('rspamd is back')).toMatch(/^250 /);
  await until('the next scan in rspamd and in the Haraka plugin', async () => {
    const [s, t] = [await stat(), await haraka()];
    return s.scanned === scannedBefore + 1 && sample(t, 'haraka_rspamd_score_count') === scored + 1;
  }, 30_000);
  expect(sample(await haraka(), 'haraka_rspamd_errors_total', { reason: 'connection' })).toBe(errors + 1);
});
