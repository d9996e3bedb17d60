/**
 * The shipped routing, inhibitions and templates in a real Alertmanager (Debian's prometheus-alertmanager),
 * fed through its API with alerts labelled as the rules label them. Receivers: the shipped PagerDuty and Slack
 * configs, pointed at this test's HTTP server with their secrets read from files (see testAlertmanagerConfig).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, type Receiver, type RunningAlertmanager, startAlertmanager, startReceiver, testAlertmanagerConfig } from '../prometheus/support';

type Labels = Record<string, string>;
const RUNBOOK = 'https://github.com/tinomail/tinomail-monitor/blob/main/docs/runbooks.md#';

function alert(labels: Labels, description = `${labels.alertname} on ${labels.host ?? labels.instance}`) {
  return {
    labels,
    annotations: { summary: `summary of ${labels.alertname}`, description, runbook_url: RUNBOOK + labels.alertname.toLowerCase() },
    startsAt: new Date().toISOString(),
  };
}

type Case = [string, Labels, boolean]; // what, labels, inhibited?

// The databases are down: their mail symptoms everywhere are silenced, the rest is not.
const databasesDown: Case[] = [
  ['redis down (source)', { alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'mail1', instance: 'mail1:9744' }, false],
  ['WildDuck health while Redis is down', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail1', instance: 'mail1:9741', reason: 'redis_down' }, true],
  ['redis key scan failing on the same exporter', { alertname: 'TinomailCollectorFailing', severity: 'warning', service: 'monitoring', host: 'mail1', instance: 'mail1:9744', collector: 'mail_keys' }, true],
  ['a collector of another exporter', { alertname: 'TinomailCollectorFailing', severity: 'warning', service: 'monitoring', host: 'mail2', instance: 'mail2:9744', collector: 'mail_keys' }, false],
  ['no MongoDB primary (source)', { alertname: 'TinomailMongoDBNoPrimary', severity: 'critical', service: 'mongodb', host: 'db1', instance: 'db1:9743' }, false],
  ['ZoneMTA stuck without a primary', { alertname: 'TinomailOutboundDeliveriesStopped', severity: 'critical', service: 'zonemta', host: 'mta1' }, true],
  ['MX rejections without a primary', { alertname: 'TinomailInboundRejectionSpike', severity: 'warning', service: 'haraka', host: 'mx1' }, true],
  ['a daemon down still pages', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'zonemta', host: 'mta1', instance: 'mta1:12080', job: 'zonemta' }, false],
  ['a missing process still pages', { alertname: 'TinomailMailProcessNotRunning', severity: 'critical', service: 'wildduck', host: 'mail1', instance: 'mail1:9745', job: 'system-exporter' }, false],
  ['a replica set member (only MongoDBDown silences it)', { alertname: 'TinomailMongoDBMemberUnhealthy', severity: 'warning', service: 'mongodb', host: 'db1', instance: 'db1:9743', member: 'db2:27017' }, false],
  ['a disk (not a mail symptom)', { alertname: 'TinomailDiskFillingUp', severity: 'warning', service: 'host', host: 'db1', instance: 'db1:9100', mountpoint: '/var/lib/mongodb' }, false],
  ['an info alert', { alertname: 'TinomailSomethingToKnow', severity: 'info', host: 'mail1' }, false],
];

// Targets down: what they cause on the same host or instance is silenced.
const targetsDown: Case[] = [
  ['no Haraka process on mx1 (source)', { alertname: 'TinomailMailProcessNotRunning', severity: 'critical', service: 'haraka', host: 'mx1', instance: 'mx1:9745', job: 'system-exporter' }, false],
  ['Haraka endpoint down on mx1 too: one page, not two', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'haraka', host: 'mx1', instance: 'mx1:9746', job: 'haraka' }, true],
  ['Haraka endpoint down on mx2, its process runs', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'haraka', host: 'mx2', instance: 'mx2:9746', job: 'haraka' }, false],
  ['rejections on the MX that is down', { alertname: 'TinomailInboundRejectionSpike', severity: 'warning', service: 'haraka', host: 'mx1' }, true],
  ['rejections on a third MX', { alertname: 'TinomailInboundRejectionSpike', severity: 'warning', service: 'haraka', host: 'mx3' }, false],
  ['WildDuck on the host whose Haraka is down', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mx1', instance: 'mx1:9741', reason: 'db_down' }, false],
  ['certificate critical (source)', { alertname: 'TinomailTLSCertificateExpiring', severity: 'critical', host: 'smtp.example.com', instance: 'smtp.example.com:465' }, false],
  ['certificate warning on the same port', { alertname: 'TinomailTLSCertificateExpiring', severity: 'warning', host: 'smtp.example.com', instance: 'smtp.example.com:465' }, true],
  ['certificate warning elsewhere', { alertname: 'TinomailTLSCertificateExpiring', severity: 'warning', host: 'imap.example.com', instance: 'imap.example.com:993' }, false],
  ['gelf exporter down (source)', { alertname: 'TinomailExporterDown', severity: 'warning', service: 'monitoring', host: 'log1', instance: 'log1:9742', job: 'gelf-exporter' }, false],
  ['no log events from that exporter', { alertname: 'TinomailNoLogEvents', severity: 'warning', service: 'monitoring', host: 'log1', instance: 'log1:9742' }, true],
];

const sameLabels = (a: Labels, b: Labels) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

describe.each([
  ['databases down', databasesDown],
  ['targets down', targetsDown],
])('Alertmanager with the shipped configuration: %s', (_scenario, cases) => {
  let dir: string;
  let receiver: Receiver;
  let am: RunningAlertmanager;
  let state: { labels: Labels; status: { inhibitedBy: string[] }; receivers: { name: string }[] }[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinomail-am-'));
    receiver = await startReceiver();
    am = await startAlertmanager(dir, testAlertmanagerConfig(dir, receiver.url));
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(cases.map(([, labels]) => alert(labels))),
    });
    expect(res.status).toBe(200);
    state = await getJson(`${am.url}/api/v2/alerts`);
  });

  afterAll(async () => {
    await am?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const find = (labels: Labels) => {
    const found = state.find((a) => sameLabels(labels, a.labels));
    if (!found) throw new Error(`alert ${JSON.stringify(labels)} not in Alertmanager`);
    return found;
  };

  test.each(cases.map(([what, labels, inhibited]) => [what, inhibited, labels] as const))('%s: inhibited %s', (_what, inhibited, labels) => {
    expect(find(labels).status.inhibitedBy.length > 0).toBe(inhibited);
  });

  test('every alert not inhibited is notified to the receiver of its severity, no inhibited one ever is', async () => {
    const path: Record<string, string | undefined> = { critical: '/pager', warning: '/ticket', info: undefined };
    const notified = (labels: Labels, p: { path: string; body: any }) => (p.body.alerts ?? []).some((a: { labels: Labels }) => sameLabels(labels, a.labels));
    for (const [, labels, inhibited] of cases) {
      const expectedPath = path[labels.severity];
      if (!inhibited && expectedPath) await receiver.waitFor((p) => p.path === expectedPath && notified(labels, p));
    }
    // Every group has been flushed by now: an inhibited alert would have been notified with its group.
    for (const [, labels, inhibited] of cases) {
      if (inhibited || !path[labels.severity]) expect([labels, receiver.posts.some((p) => notified(labels, p))]).toEqual([labels, false]);
    }
  });
});

describe('notification templates', () => {
  let dir: string;
  let receiver: Receiver;
  let am: RunningAlertmanager;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinomail-am-'));
    receiver = await startReceiver();
    am = await startAlertmanager(dir, testAlertmanagerConfig(dir, receiver.url));
    const alerts = [
      alert({ alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'mail1', instance: 'mail1:9744' }, 'The redis exporter on mail1 has not reached Redis for a minute.'),
      alert({ alertname: 'TinomailCollectorFailing', severity: 'warning', service: 'monitoring', host: 'mail2', instance: 'mail2:9744', collector: 'mail_keys' }, 'Collector mail_keys failed.'),
      alert({ alertname: 'TinomailSomethingToKnow', severity: 'info', host: 'mail1' }),
    ];
    const res = await fetch(`${am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
    expect(res.status).toBe(200);
  });

  afterAll(async () => {
    await am?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('critical pages: PagerDuty event with the routing key from its file, summary, description and runbook link', async () => {
    const post = await receiver.waitFor((p) => p.path === '/pagerduty');
    expect(post.body.routing_key).toBe('test-routing-key');
    expect(post.body.event_action).toBe('trigger');
    expect(post.body.payload.summary).toBe('[FIRING:1] TinomailRedisDown on mail1 (critical)');
    expect(post.body.payload.custom_details.summary).toBe('summary of TinomailRedisDown');
    expect(post.body.payload.custom_details.description).toContain('The redis exporter on mail1 has not reached Redis for a minute.');
    expect(post.body.payload.custom_details.description).toContain(`Runbook: ${RUNBOOK}tinomailredisdown`);
    expect(post.body.links).toEqual([{ href: `${RUNBOOK}tinomailredisdown`, text: 'runbook' }]);
  });

  test('warning goes to chat: Slack message with the webhook URL from its file, summary, description and runbook', async () => {
    const post = await receiver.waitFor((p) => p.path === '/chat');
    const [attachment] = post.body.attachments;
    expect(post.body.channel).toBe('#mail-alerts');
    expect(attachment.title).toBe('[FIRING:1] TinomailCollectorFailing on mail2 (warning)');
    expect(attachment.title_link).toBe(`${RUNBOOK}tinomailcollectorfailing`);
    expect(attachment.text).toContain('summary of TinomailCollectorFailing');
    expect(attachment.text).toContain('Collector mail_keys failed.');
    expect(attachment.text).toContain(`Runbook: ${RUNBOOK}tinomailcollectorfailing`);
    expect(attachment.text).toContain('collector=mail_keys');
  });

  test('info notifies nobody (the blackhole receiver)', async () => {
    const state = await getJson<{ labels: Labels; receivers: { name: string }[] }[]>(`${am.url}/api/v2/alerts?filter=severity%3D%22info%22`);
    expect(state.map((a) => a.receivers.map((r) => r.name))).toEqual([['blackhole']]);
    await receiver.waitFor((p) => p.path === '/ticket');
    await receiver.waitFor((p) => p.path === '/pager');
    expect(JSON.stringify(receiver.posts)).not.toContain('TinomailSomethingToKnow');
  });
});
