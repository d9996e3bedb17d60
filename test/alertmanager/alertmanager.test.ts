/**
 * The shipped routing, inhibitions and templates in a real Alertmanager (Debian's prometheus-alertmanager),
 * fed through its API with alerts labelled as the rules label them. Receivers: the shipped PagerDuty and Slack
 * configs, pointed at this test's HTTP server with their secrets read from files (see testAlertmanagerConfig).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertRules, getJson, type Post, type Receiver, type RunningAlertmanager, startAlertmanager, startReceiver, testAlertmanagerConfig } from '../prometheus/support';

type Labels = Record<string, string>;
const RUNBOOK = 'https://github.com/tinomail/tinomail-monitor/blob/main/docs/runbooks.md#';

function alert(labels: Labels, description = `${labels.alertname} on ${labels.host ?? labels.instance}`) {
  return {
    labels,
    annotations: { summary: `summary of ${labels.alertname}`, description, runbook_url: RUNBOOK + labels.alertname.toLowerCase() },
    startsAt: new Date().toISOString(),
  };
}

type Alert = ReturnType<typeof alert>;

/**
 * For the describe block it is called in: a real Alertmanager with the shipped configuration and a receiver, started
 * before its tests with `alerts` posted to it, and stopped after them.
 */
function shippedAlertmanager(alerts: () => Alert[]): { receiver: Receiver; am: RunningAlertmanager } {
  const ctx = {} as { dir: string; receiver: Receiver; am: RunningAlertmanager };
  beforeAll(async () => {
    ctx.dir = mkdtempSync(join(tmpdir(), 'tinomail-am-'));
    ctx.receiver = await startReceiver();
    ctx.am = await startAlertmanager(ctx.dir, testAlertmanagerConfig(ctx.dir, ctx.receiver.url));
    const res = await fetch(`${ctx.am.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts()) });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await ctx.am?.stop();
    await ctx.receiver?.close();
    if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
  });
  return ctx;
}

type Case = [string, Labels, boolean]; // what, labels, inhibited?

// The databases are down: their mail symptoms everywhere are silenced, the rest is not.
const databasesDown: Case[] = [
  ['redis down (source)', { alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'mail1', instance: 'mail1:9744', serves: 'wildduck,haraka,zonemta' }, false],
  ['WildDuck health while Redis is down', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail1', instance: 'mail1:9741', reason: 'redis_down' }, true],
  ['redis key scan failing on the same exporter', { alertname: 'TinomailCollectorFailing', severity: 'warning', service: 'monitoring', host: 'mail1', instance: 'mail1:9744', collector: 'mail_keys' }, true],
  ['a collector of another exporter', { alertname: 'TinomailCollectorFailing', severity: 'warning', service: 'monitoring', host: 'mail2', instance: 'mail2:9744', collector: 'mail_keys' }, false],
  ['no MongoDB primary (source)', { alertname: 'TinomailMongoDBNoPrimary', severity: 'critical', service: 'mongodb', host: 'db1', instance: 'db1:9743' }, false],
  ['ZoneMTA stuck without a primary', { alertname: 'TinomailOutboundDeliveriesStopped', severity: 'critical', service: 'zonemta', host: 'mta1' }, true],
  ['WildDuck health failing for the database', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail2', instance: 'mail2:9741', reason: 'db_down' }, true],
  ['WildDuck health failing for its access token (not the databases)', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail3', instance: 'mail3:9741', reason: 'token_rejected' }, false],
  ['MX rejections without a primary', { alertname: 'TinomailInboundRejectionSpike', severity: 'warning', service: 'haraka', host: 'mx1' }, true],
  ['a daemon down still pages', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'zonemta', host: 'mta1', instance: 'mta1:12080', job: 'zonemta' }, false],
  ['a missing process still pages', { alertname: 'TinomailMailProcessNotRunning', severity: 'critical', service: 'wildduck', host: 'mail1', instance: 'mail1:9745', job: 'system-exporter' }, false],
  ['a replica set member (only MongoDBDown silences it)', { alertname: 'TinomailMongoDBMemberUnhealthy', severity: 'warning', service: 'mongodb', host: 'db1', instance: 'db1:9743', member: 'db2:27017' }, false],
  ['a disk (not a mail symptom)', { alertname: 'TinomailDiskFillingUp', severity: 'warning', service: 'host', host: 'db1', instance: 'db1:9100', mountpoint: '/var/lib/mongodb' }, false],
  ['an info alert', { alertname: 'TinomailSomethingToKnow', severity: 'info', host: 'mail1' }, false],
];

// B: WildDuck's Redis down (its target says it serves WildDuck, Haraka and ZoneMTA), MongoDB fine: the Redis symptoms
// are silenced, a WildDuck failure whose reason is MongoDB is not.
const wildduckRedisDown: Case[] = [
  ['Redis of the mail suite down (source)', { alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'db1', instance: 'db1:9744', serves: 'wildduck,haraka,zonemta' }, false],
  ['WildDuck health: Redis down', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail1', instance: 'mail1:9741', reason: 'redis_down' }, true],
  ['WildDuck health: MongoDB down, a second failure', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail2', instance: 'mail2:9741', reason: 'db_down' }, false],
  ['MX accepting nothing', { alertname: 'TinomailMXAcceptingNothing', severity: 'critical', service: 'haraka', host: 'mx1' }, true],
  ['ZoneMTA stuck', { alertname: 'TinomailOutboundDeliveriesStopped', severity: 'critical', service: 'zonemta', host: 'mta1' }, true],
  ['a daemon down still pages', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'haraka', host: 'mx1', instance: 'mx1:9746', job: 'haraka' }, false],
  ['Rspamd itself down (not a dependent of this Redis)', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'rspamd', host: 'spam1', instance: 'spam1:11334', job: 'rspamd' }, false],
];

// B: a Redis that only serves Rspamd, and one whose target does not say what it serves: neither silences mail pages.
const otherRedisDown: Case[] = [
  ["Rspamd's Redis down (source)", { alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'spam1', instance: 'spam1:9744', serves: 'rspamd' }, false],
  ['a Redis without serves down (source)', { alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'cache1', instance: 'cache1:9744' }, false],
  ['MX accepting nothing', { alertname: 'TinomailMXAcceptingNothing', severity: 'critical', service: 'haraka', host: 'mx1' }, false],
  ['ZoneMTA stuck', { alertname: 'TinomailOutboundDeliveriesStopped', severity: 'critical', service: 'zonemta', host: 'mta1' }, false],
  ['WildDuck health: Redis down (its own Redis, not these)', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mail1', instance: 'mail1:9741', reason: 'redis_down' }, false],
];

// Targets down: what they cause on the same host or instance is silenced.
const targetsDown: Case[] = [
  ['no Haraka process on mx1 (source)', { alertname: 'TinomailMailProcessNotRunning', severity: 'critical', service: 'haraka', host: 'mx1', instance: 'mx1:9745', job: 'system-exporter' }, false],
  ['Haraka endpoint down on mx1 too: one page, not two', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'haraka', host: 'mx1', instance: 'mx1:9746', job: 'haraka' }, true],
  ['Haraka endpoint down on mx2, its process runs', { alertname: 'TinomailMailServiceDown', severity: 'critical', service: 'haraka', host: 'mx2', instance: 'mx2:9746', job: 'haraka' }, false],
  ['rejections on the MX that is down', { alertname: 'TinomailInboundRejectionSpike', severity: 'warning', service: 'haraka', host: 'mx1' }, true],
  ['rejections on a third MX', { alertname: 'TinomailInboundRejectionSpike', severity: 'warning', service: 'haraka', host: 'mx3' }, false],
  ['WildDuck on the host whose Haraka is down', { alertname: 'TinomailWildDuckHealthFailing', severity: 'critical', service: 'wildduck', host: 'mx1', instance: 'mx1:9741', reason: 'db_down' }, false],
  // C: a mail daemon down pages once, not again as a failed probe of its port
  ['SMTP probe of the MX whose Haraka has no process', { alertname: 'TinomailProbeFailed', severity: 'critical', service: 'haraka', host: 'mx1', instance: 'mx1:25', module: 'smtp_starttls', job: 'blackbox-smtp-starttls' }, true],
  ['SMTP probe of the MX whose endpoint is down', { alertname: 'TinomailProbeFailed', severity: 'critical', service: 'haraka', host: 'mx2', instance: 'mx2:25', module: 'smtp_starttls', job: 'blackbox-smtp-starttls' }, true],
  ['IMAP probe on mx1 (WildDuck runs)', { alertname: 'TinomailProbeFailed', severity: 'critical', service: 'wildduck', host: 'mx1', instance: 'mx1:993', module: 'imap_tls', job: 'blackbox-imaps' }, false],
  ['SMTP probe of a third MX', { alertname: 'TinomailProbeFailed', severity: 'critical', service: 'haraka', host: 'mx3', instance: 'mx3:25', module: 'smtp_starttls', job: 'blackbox-smtp-starttls' }, false],
  // A: a critical disk alert silences the warning of the same mountpoint only
  ['/var/mail almost full, critical (source)', { alertname: 'TinomailDiskAlmostFull', severity: 'critical', service: 'host', host: 'db1', instance: 'db1:9100', mountpoint: '/var/mail', device: '/dev/sdc1' }, false],
  ['/var/mail almost full, warning', { alertname: 'TinomailDiskAlmostFull', severity: 'warning', service: 'host', host: 'db1', instance: 'db1:9100', mountpoint: '/var/mail', device: '/dev/sdc1' }, true],
  ['/var/lib/mongodb almost full, warning, same host', { alertname: 'TinomailDiskAlmostFull', severity: 'warning', service: 'host', host: 'db1', instance: 'db1:9100', mountpoint: '/var/lib/mongodb', device: '/dev/sdb1' }, false],
  ['certificate critical (source)', { alertname: 'TinomailTLSCertificateExpiring', severity: 'critical', host: 'smtp.example.com', instance: 'smtp.example.com:465' }, false],
  ['certificate warning on the same port', { alertname: 'TinomailTLSCertificateExpiring', severity: 'warning', host: 'smtp.example.com', instance: 'smtp.example.com:465' }, true],
  ['certificate warning elsewhere', { alertname: 'TinomailTLSCertificateExpiring', severity: 'warning', host: 'imap.example.com', instance: 'imap.example.com:993' }, false],
  ['gelf exporter down (source)', { alertname: 'TinomailExporterDown', severity: 'warning', service: 'monitoring', host: 'log1', instance: 'log1:9742', job: 'gelf-exporter' }, false],
  ['no log events from that exporter', { alertname: 'TinomailNoLogEvents', severity: 'warning', service: 'monitoring', host: 'log1', instance: 'log1:9742' }, true],
];

const sameLabels = (a: Labels, b: Labels) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

describe.each([
  ['databases down', databasesDown],
  ["WildDuck's Redis down", wildduckRedisDown],
  ['a Redis of something else down', otherRedisDown],
  ['targets down', targetsDown],
])('Alertmanager with the shipped configuration: %s', (_scenario, cases) => {
  const ctx = shippedAlertmanager(() => cases.map(([, labels]) => alert(labels)));
  let state: { labels: Labels; status: { inhibitedBy: string[] }; receivers: { name: string }[] }[];

  beforeAll(async () => {
    state = await getJson(`${ctx.am.url}/api/v2/alerts`);
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
    const notified = (labels: Labels, p: Post) => (p.body.alerts ?? []).some((a: { labels: Labels }) => sameLabels(labels, a.labels));
    for (const [, labels, inhibited] of cases) {
      const expectedPath = path[labels.severity];
      if (!inhibited && expectedPath) await ctx.receiver.waitFor((p) => p.path === expectedPath && notified(labels, p));
    }
    // Every group has been flushed by now: an inhibited alert would have been notified with its group.
    for (const [, labels, inhibited] of cases) {
      if (inhibited || !path[labels.severity]) expect([labels, ctx.receiver.posts.some((p) => notified(labels, p))]).toEqual([labels, false]);
    }
  });
});

describe('notification templates', () => {
  const ctx = shippedAlertmanager(() => [
    alert({ alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'mail1', instance: 'mail1:9744' }, 'The redis exporter on mail1 has not reached Redis for a minute.'),
    alert({ alertname: 'TinomailCollectorFailing', severity: 'warning', service: 'monitoring', host: 'mail2', instance: 'mail2:9744', collector: 'mail_keys' }, 'Collector mail_keys failed.'),
    alert({ alertname: 'TinomailSomethingToKnow', severity: 'info', host: 'mail1' }),
  ]);

  test('critical pages: PagerDuty event with the routing key from its file, summary, description and runbook link', async () => {
    const post = await ctx.receiver.waitFor((p) => p.path === '/pagerduty');
    expect(post.body.routing_key).toBe('test-routing-key');
    expect(post.body.event_action).toBe('trigger');
    expect(post.body.payload.summary).toBe('[FIRING:1] TinomailRedisDown on mail1 (critical)');
    expect(post.body.payload.custom_details.summary).toBe('summary of TinomailRedisDown');
    expect(post.body.payload.custom_details.description).toContain('The redis exporter on mail1 has not reached Redis for a minute.');
    expect(post.body.payload.custom_details.description).toContain(`Runbook: ${RUNBOOK}tinomailredisdown`);
    expect(post.body.links).toEqual([{ href: `${RUNBOOK}tinomailredisdown`, text: 'runbook' }]);
  });

  test('warning goes to chat: Slack message with the webhook URL from its file, summary, description and runbook', async () => {
    const post = await ctx.receiver.waitFor((p) => p.path === '/chat');
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
    const state = await getJson<{ labels: Labels; receivers: { name: string }[] }[]>(`${ctx.am.url}/api/v2/alerts?filter=severity%3D%22info%22`);
    expect(state.map((a) => a.receivers.map((r) => r.name))).toEqual([['blackhole']]);
    await ctx.receiver.waitFor((p) => p.path === '/ticket');
    await ctx.receiver.waitFor((p) => p.path === '/pager');
    expect(JSON.stringify(ctx.receiver.posts)).not.toContain('TinomailSomethingToKnow');
  });
});

describe("the Watchdog reaches the dead man's switch, and nobody else", () => {
  const ctx = shippedAlertmanager(() => [
    alert({ alertname: 'TinomailWatchdog', severity: 'info', service: 'monitoring' }, 'The Watchdog fires (value 1) for as long as the alerting pipeline works.'),
  ]);

  test('the heartbeat gets a POST with the key from its file as GenieKey authorization', async () => {
    const post = await ctx.receiver.waitFor((p) => p.path === '/heartbeat');
    expect(post.headers.authorization).toBe('GenieKey test-heartbeat-key');
    expect(post.body.receiver).toBe('deadmansswitch');
    expect(post.body.alerts.map((a: { labels: Labels }) => a.labels.alertname)).toEqual(['TinomailWatchdog']);
    const state = await getJson<{ receivers: { name: string }[] }[]>(`${ctx.am.url}/api/v2/alerts`);
    expect(state.map((a) => a.receivers.map((r) => r.name))).toEqual([['deadmansswitch']]);
    expect(ctx.receiver.posts.filter((p) => p.path !== '/heartbeat')).toEqual([]);
  });
});

describe('every alert of the rules reaches the receiver of its severity', () => {
  const expected: Record<string, string> = { critical: 'oncall-pager', warning: 'team-ticket', info: 'blackhole' };
  // One alert per rule, labelled as the rule labels it (its static labels, and a host); each gets its own host so
  // that no inhibition between them matters here.
  const rules = alertRules().map((rule, i) => ({ rule, labels: { alertname: rule.alert, host: `host${i}`, ...(rule.labels ?? {}) } as Labels }));
  const ctx = shippedAlertmanager(() => rules.map((r) => alert(r.labels)));

  test('Alertmanager routes each rule to the receiver of its severity (the Watchdog to the dead man\'s switch)', async () => {
    const state = await getJson<{ labels: Labels; receivers: { name: string }[] }[]>(`${ctx.am.url}/api/v2/alerts`);
    expect(state).toHaveLength(rules.length);
    for (const { rule, labels } of rules) {
      const found = state.find((a) => sameLabels(labels, a.labels));
      const want = rule.alert === 'TinomailWatchdog' ? 'deadmansswitch' : expected[rule.labels!.severity];
      expect([rule.alert, rule.labels!.severity, found?.receivers.map((r) => r.name)]).toEqual([rule.alert, rule.labels!.severity, [want]]);
    }
  });
});
