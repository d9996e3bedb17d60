/**
 * First, every dashboard query evaluated by this Prometheus on the suite's live data. Then failures of the real
 * suite reach on-call through the shipped rules and routing: real Prometheus scrapes the
 * daemons and exporters, evaluates prometheus/rules/*.yml (a temp copy with every `for:` cut to 3s, so the test
 * does not wait minutes; nothing else changed) and sends to the real Alertmanager with alertmanager/alertmanager.yml,
 * whose receivers post to a local recorder (critical -> /pager).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sample, scrape } from '../helpers/exposition';
import { selectors } from '../../grafana/src/promql';
import { REPO, type RealSuite, REPORTS_MAILBOX, startRealSuite, until } from './harness';
import { mailboxSubjects, mailReports, submit } from './mail';

jest.setTimeout(180_000);

let suite: RealSuite;
let rulesDir: string;
beforeAll(async () => {
  rulesDir = mkdtempSync(join(tmpdir(), 'tinomail-realsuite-rules-'));
  const ruleFiles = readdirSync(join(REPO, 'prometheus', 'rules')).filter((f) => f.endsWith('.yml'));
  for (const f of ruleFiles) {
    const shipped = readFileSync(join(REPO, 'prometheus', 'rules', f), 'utf8');
    writeFileSync(join(rulesDir, f), shipped.replace(/^(\s+for: )\S+$/gm, '$13s'));
  }
  suite = await startRealSuite({
    services: ['prometheus'],
    exporters: ['wildduck', 'mongodb', 'redis', 'reports'],
    // WildDuck's /health gives up on Redis after a fixed 10 s (lib/api/health.js): the exporter's default
    // --wildduck.timeout (20 s) and this scrape timeout are above it, so WildDuck's own reason comes through.
    jobIntervals: { 'wildduck-exporter': { interval: '15s', timeout: '14s' } },
    ruleFiles: ruleFiles.map((f) => join(rulesDir, f)),
  });
}, 150_000);
afterAll(async () => {
  await suite?.close();
  rmSync(rulesDir, { recursive: true, force: true });
});

type Post = { path: string; body: { status: string; alerts: { status: string; labels: Record<string, string> }[] } };
/** The first post of Alertmanager's pager receiver that has `alertname` (with `labels`) in state `status`. */
const page = (status: 'firing' | 'resolved', alertname: string, labels: Record<string, string> = {}) =>
  suite.alertmanager!.receiver.waitFor(
    (p) =>
      (p as Post).path === '/pager' &&
      (p as Post).body.alerts.some((a) => a.status === status && a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v)),
    120_000,
  );
/** Alertmanager's own list of active alerts has this one. */
const inAlertmanager = async (alertname: string, labels: Record<string, string>) => {
  const alerts = (await (await fetch(`${suite.alertmanager!.url}/api/v2/alerts?active=true`)).json()) as { labels: Record<string, string> }[];
  return alerts.some((a) => a.labels.alertname === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v));
};

const dashboards = readdirSync(join(REPO, 'grafana', 'dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(REPO, 'grafana', 'dashboards', f), 'utf8')) as { uid: string; panels: { title: string; targets?: { expr: string }[] }[] });
const promQuery = async (expr: string) =>
  (await (await fetch(`${suite.prometheus!.url}/api/v1/query?${new URLSearchParams({ query: expr })}`)).json()) as { status: string; error?: string; data: { result: unknown[] } };

/** Whether every series selector of a query, with its label matchers, selects something now. */
async function everySelectorHasSeries(expr: string): Promise<boolean> {
  for (const sel of selectors(expr)) {
    const r = await promQuery(`count(${sel.metric}{${sel.matchers}})`);
    if (r.status !== 'success' || r.data.result.length === 0) return false;
  }
  return true;
}

test('every dashboard query evaluates on the live suite, and every panel whose series exist shows data', async () => {
  // Traffic: mail through the whole path, a refused recipient, a good and a bad IMAP login.
  const user = await suite.wildduck.createUser('grace', 'grace-password-1');
  for (const to of [user.address, user.address, `nobody@${suite.domain}`]) await submit(suite, to, 'for the dashboards');
  await until('2 messages stored', async () => (await mailboxSubjects(suite, 'grace', 'grace-password-1')).length === 2, 60_000);
  await mailboxSubjects(suite, 'grace', 'wrong-password').catch(() => undefined);
  // A DMARC aggregate report (zip) and a TLS-RPT report, through ZoneMTA, Haraka (rspamd) and WildDuck (GridFS) into
  // the report mailbox, and counted by the reports exporter over IMAP: the Reports dashboard on real mail.
  const reports = (await suite.wildduck.createUser(REPORTS_MAILBOX.user, REPORTS_MAILBOX.password)).address;
  await mailReports(suite, reports, { id: 'oncall-1', records: [{ ip: '127.0.0.1', count: 10 }, { ip: '203.0.113.9', count: 2, dkim: 'fail', spf: 'fail', disposition: 'reject' }], tls: { ok: 20, failed: 1 } });
  await until('both reports counted by the reports exporter', async () => {
    const t = (await scrape(suite.exporters.reports!)).text;
    return sample(t, 'reports_processed_total', { kind: 'dmarc', result: 'counted' }) === 1 && sample(t, 'reports_processed_total', { kind: 'tlsrpt', result: 'counted' }) === 1;
  }, 60_000);
  // Two scrapes of every target after the traffic, so counters have two samples that differ.
  const after = Date.now() / 1000;
  await until('every target scraped twice after the traffic', async () => {
    const r = await promQuery('min(timestamp(up))');
    return Number((r.data.result[0] as { value?: [number, string] } | undefined)?.value?.[1] ?? 0) >= after + 4;
  }, 60_000);

  const failed: string[] = [];
  const empty: string[] = [];
  let withData = 0;
  for (const d of dashboards) {
    for (const p of d.panels) {
      for (const t of p.targets ?? []) {
        const expr = t.expr.replace(/\$__rate_interval/g, '10s').replace(/\$(site|host|instance|zone)\b/g, '.*');
        const r = await promQuery(expr);
        if (r.status !== 'success') failed.push(`${d.uid} / ${p.title}: ${r.error}`);
        else if (r.data.result.length) withData++;
        // A panel should show data when every selector it reads (name and label matchers) has series and it
        // filters nothing out (no comparison).
        else if (!/[<>]|==|!=|\b(unless|and)\b/.test(expr) && (await everySelectorHasSeries(expr))) empty.push(`${d.uid} / ${p.title}: ${t.expr}`);
      }
    }
  }
  expect(failed).toEqual([]);
  expect(empty).toEqual([]);
  expect(withData).toBeGreaterThan(0);
});

test('Haraka stops: ZoneMTA defers, the queue grows, the page arrives; Haraka returns and it resolves', async () => {
  await suite.stopService('haraka');
  // A domain of its own: after a connection failure ZoneMTA holds back that domain for a while.
  for (let i = 0; i < 3; i++) expect(await submit(suite, `user${i}@haraka-down.${suite.domain}`, `while Haraka is down ${i}`)).toMatch(/^250 /);
  await until('3 deferred recipients in the mongodb exporter', async () => {
    const t = (await scrape(suite.exporters.mongodb!)).text;
    return sample(t, 'mongodb_zonemta_queue_recipients', { zone: suite.zonemta.zone, state: 'deferred' }) === 3;
  }, 60_000);
  // ZoneMTA refreshes its queue size gauge on a timer of its own.
  const native = await until('zonemta_queue_size{type="deferred"} 3', async () => {
    const t = (await scrape(suite.zonemta.metrics)).text;
    return sample(t, 'zonemta_queue_size', { type: 'deferred' }) === 3 && t;
  }, 60_000);
  // The first attempt fails to connect; ZoneMTA may then defer the others without an attempt (the domain is
  // held back), so attempts are between 1 and 3, and the plugin counts the same attempts as ZoneMTA.
  const attempts = sample(native, 'zonemta_delivery_status', { status: 'deferred', zone: suite.zonemta.zone })!;
  expect(attempts).toBeGreaterThanOrEqual(1);
  expect(attempts).toBeLessThanOrEqual(3);
  const plugin = (await scrape(suite.zonemta.plugin)).text;
  expect(sample(plugin, 'zonemta_tinomail_deliveries_total', { outcome: 'deferred', zone: suite.zonemta.zone, sending_ip: 'none', destination: 'other' }) ?? 0).toBe(attempts);

  const fired = await page('firing', 'TinomailMailServiceDown', { job: 'haraka' });
  expect(fired.body).toBeDefined();
  expect(await inAlertmanager('TinomailMailServiceDown', { job: 'haraka', severity: 'critical' })).toBe(true);

  await suite.startService('haraka');
  await page('resolved', 'TinomailMailServiceDown', { job: 'haraka' });
});

test('WildDuck stops: its page arrives, and resolves when it is back', async () => {
  await suite.stopService('wildduck');
  await page('firing', 'TinomailMailServiceDown', { job: 'wildduck' });
  await suite.startService('wildduck');
  await page('resolved', 'TinomailMailServiceDown', { job: 'wildduck' });
});

test("Redis stops: WildDuck's /health reason reaches Prometheus and Alertmanager; on-call gets the Redis page", async () => {
  await suite.stopService('redis');
  const health = await until("WildDuck's /health to fail", async () => {
    const res = await fetch(`${suite.wildduck.api}/health`, { headers: { 'X-Access-Token': suite.wildduck.token } });
    const body = (await res.json()) as { success: boolean; message?: string };
    return res.status === 500 && body;
  }, 60_000);
  expect(health.message).toBe('Redis is down');
  // Prometheus' own record of the exporter's answer, then the page with WildDuck's reason.
  await until('Prometheus to store wildduck_health_failure{reason="redis_down"} 1', async () => {
    const q = (await (await fetch(`${suite.prometheus!.url}/api/v1/query?query=${encodeURIComponent('wildduck_health_failure{reason="redis_down"} == 1')}`)).json()) as { data: { result: unknown[] } };
    return q.data.result.length === 1;
  }, 90_000);
  // Redis pages once: alertmanager.yml inhibits what WildDuck suffers from it. WildDuck's alert with its reason
  // still fires in Prometheus and reaches Alertmanager, marked inhibited by TinomailRedisDown.
  await page('firing', 'TinomailRedisDown');
  const held = await until('TinomailWildDuckHealthFailing{reason="redis_down"} in Alertmanager', async () => {
    const alerts = (await (await fetch(`${suite.alertmanager!.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[];
    return alerts.find((a) => a.labels.alertname === 'TinomailWildDuckHealthFailing' && a.labels.reason === 'redis_down');
  }, 90_000);
  expect(held.labels.severity).toBe('critical');
  expect(held.status.state).toBe('suppressed');
  expect(held.status.inhibitedBy.length).toBe(1);
  expect(suite.alertmanager!.receiver.posts.some((p) => (p as Post).body.alerts?.some((a) => a.labels.alertname === 'TinomailWildDuckHealthFailing' && a.labels.reason === 'redis_down'))).toBe(false);
});
