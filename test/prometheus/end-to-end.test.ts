/**
 * End to end: Debian's prometheus and prometheus-alertmanager run the shipped files, Prometheus scrapes this
 * repository's exporters (started in-process with the kit's runExporter) and a real Haraka with haraka-plugin-tinomail
 * (mail sent to it with nodemailer reaches the recording rules), and a real redis-server is stopped: the
 * rule TinomailRedisDown fires for real and its notification reaches this test's webhook through the shipped routing;
 * redis-server comes back and the resolution arrives too.
 *
 * What the test changes in the shipped files, and only that: the targets files point at the test's ports (jobs
 * with nothing to scrape here get an empty list), scrape and evaluation every second instead of 15/30 s, `for` of
 * TinomailRedisDown 3 s instead of 1 m, and the receivers as in testAlertmanagerConfig (PagerDuty and Slack
 * configs pointed at the test, plus a webhook). This test runs no MongoDB, WildDuck, ZoneMTA or Rspamd (the real
 * suite does: test/realsuite/oncall.test.ts pages through the same files on them): their exporters run with default
 * flags and report their target as down (`<name>_up 0`), which is what they must do.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import nodemailer from 'nodemailer';
import { exporters } from '../../exporters/index';
import { silentLogger } from '../../exporters/kit/log';
import { type RunningExporter, runExporter } from '../../exporters/kit/run';
import { type Haraka, startHaraka } from '../plugins/haraka/harness';
import {
  type Daemon,
  freePort,
  getJson,
  PROMETHEUS_DIR,
  type Receiver,
  type RunningAlertmanager,
  startAlertmanager,
  startDaemon,
  startReceiver,
  testAlertmanagerConfig,
  waitFor,
} from './support';

jest.setTimeout(60_000);

/** A real redis-server without persistence on a given port; resolves once it accepts connections. */
async function startRedis(port: number): Promise<Daemon> {
  const daemon = startDaemon('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await waitFor('redis-server ready', async () => (daemon.output().includes('Ready to accept connections') ? true : undefined), 10_000, 50);
  return daemon;
}

/** The shipped prometheus/ directory, copied and pointed at the test's targets (see the comment at the top). */
function testPrometheusDir(dir: string, targets: Record<string, string[]>): string {
  const promDir = join(dir, 'prometheus');
  cpSync(PROMETHEUS_DIR, promDir, { recursive: true });
  const configFile = join(promDir, 'prometheus.yml');
  const config = yaml.load(readFileSync(configFile, 'utf8')) as any;
  config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  for (const job of config.scrape_configs) {
    delete job.scrape_interval;
    delete job.scrape_timeout;
    for (const file of job.file_sd_configs.flatMap((sd: { files: string[] }) => sd.files)) {
      const list = targets[job.job_name] ?? [];
      writeFileSync(join(promDir, file), yaml.dump(list.length ? [{ targets: list, labels: { host: 'e2e' } }] : []));
    }
  }
  writeFileSync(configFile, yaml.dump(config, { noRefs: true }));
  const alertsFile = join(promDir, 'rules', 'alerts.yml');
  const alerts = readFileSync(alertsFile, 'utf8');
  const faster = alerts.replace(/(- alert: TinomailRedisDown\n(?:.*\n)*?\s+for: )1m/, '$13s');
  if (faster === alerts) throw new Error('TinomailRedisDown with for: 1m not found in alerts.yml');
  writeFileSync(alertsFile, faster);
  return configFile;
}

describe('Prometheus, Alertmanager and the exporters end to end', () => {
  let dir: string;
  let redisPort: number;
  let redis: Daemon | undefined;
  const running: RunningExporter[] = [];
  let haraka: Haraka;
  let receiver: Receiver;
  let am: RunningAlertmanager;
  let prometheus: Daemon;
  let promUrl: string;

  const query = async (q: string) =>
    (await getJson<{ data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).data.result;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tinomail-e2e-'));
    redisPort = await freePort();
    redis = await startRedis(redisPort);

    // Every exporter of this repository, each on a free port; every address flag (e.g. the GELF input) too.
    for (const def of exporters) {
      const argv = ['--web.listen-address=127.0.0.1:0', ...def.flags.filter((f) => f.type === 'address' && f.default !== '').map((f) => `--${f.name}=127.0.0.1:0`)];
      if (def.name === 'redis') argv.push(`--redis.uri=redis://127.0.0.1:${redisPort}/3`);
      running.push(await runExporter(def, argv, { env: {}, log: silentLogger }));
    }
    if (!running.some((r) => r.definition.name === 'redis')) throw new Error('the redis exporter is not registered in exporters/index.ts');

    // Haraka as an MX: the plugin, recipients for example.com, messages discarded after acceptance.
    haraka = await startHaraka({ nodes: 0, plugins: ['tinomail', 'rcpt_to.in_host_list', 'queue/discard'] });

    receiver = await startReceiver();
    am = await startAlertmanager(dir, testAlertmanagerConfig(dir, receiver.url));

    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const targets: Record<string, string[]> = {
      prometheus: [`127.0.0.1:${promPort}`],
      alertmanager: [am.url.replace('http://', '')],
      haraka: [new URL(haraka.metricsUrl).host],
    };
    for (const r of running) targets[`${r.definition.name}-exporter`] = [`127.0.0.1:${r.port}`];
    const configFile = testPrometheusDir(dir, targets);
    prometheus = startDaemon('prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    await waitFor('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 20_000, 100).catch((err) => {
      throw new Error(`${String(err)}\n${prometheus.output()}`);
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await am?.stop();
    await receiver?.close();
    await haraka?.stop();
    for (const r of running) await r.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('Prometheus scrapes every exporter of this repository, itself and Alertmanager', async () => {
    const jobs = running.map((r) => `${r.definition.name}-exporter`).concat(['prometheus', 'alertmanager', 'haraka']);
    const up = await waitFor('every target scraped', async () => {
      const result = await query('up');
      return jobs.every((job) => result.some((s) => s.metric.job === job && s.value[1] === '1')) ? result : undefined;
    });
    for (const s of up) expect(s.metric.host).toBe('e2e');
    // The redis exporter reaches the real redis-server.
    expect((await query('redis_up'))[0].value[1]).toBe('1');
  });

  test('mail accepted by the real Haraka reaches the recording rules through the plugin', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: haraka.smtpPort, secure: false, ignoreTLS: true, name: 'client.test' });
    const send = async (accepted: number) => {
      for (let i = 0; i < accepted; i++) await transport.sendMail({ from: 'sender@example.net', to: 'user@example.com', subject: `e2e ${i}`, text: 'hello' });
      // a recipient outside host_list: rejected at RCPT TO
      await expect(transport.sendMail({ from: 'sender@example.net', to: 'nobody@elsewhere.test', subject: 'rejected', text: 'no' })).rejects.toThrow();
    };
    const seen = (q: string, value: string) =>
      waitFor(`${q} = ${value} in Prometheus`, async () => {
        const r = await query(q);
        return r[0]?.value[1] === value ? r : undefined;
      });
    // A counter's first appearance is no increase to rate(): one round to create the series, one to move them.
    await send(1);
    await seen('haraka_messages_total{result="accept", job="haraka"}', '1');
    await seen('haraka_recipients_total{result="reject", job="haraka"}', '1');
    await send(2);
    transport.close();
    const accepted = await seen('haraka_messages_total{result="accept", job="haraka"}', '3');
    expect(accepted[0].metric.host).toBe('e2e');
    // The recording rules see the traffic: messages accepted, and recipients rejected out of all.
    const rate = await waitFor('host:haraka_messages_accepted:rate5m > 0', async () => {
      const r = await query('host:haraka_messages_accepted:rate5m');
      return Number(r[0]?.value[1]) > 0 ? r : undefined;
    });
    expect(rate[0].metric).toEqual({ __name__: 'host:haraka_messages_accepted:rate5m', host: 'e2e' });
    const ratio = await waitFor('host:haraka_recipients_rejected:ratio_rate5m > 0', async () => {
      const r = await query('host:haraka_recipients_rejected:ratio_rate5m');
      return Number(r[0]?.value[1]) > 0 ? r : undefined;
    });
    expect(Number(ratio[0].value[1])).toBeLessThan(1);
  });

  test('with Redis up, the rules evaluate and TinomailRedisDown does not fire', async () => {
    const since = Date.now() / 1000;
    await waitFor('a rule evaluation after redis_up = 1', async () => {
      const groups = (await getJson(`${promUrl}/api/v1/rules`)).data.groups as { name: string; lastEvaluation: string; rules: { health: string }[] }[];
      const redisGroup = groups.find((g) => g.name === 'tinomail-redis');
      return redisGroup && Date.parse(redisGroup.lastEvaluation) / 1000 > since + 1 ? redisGroup : undefined;
    });
    const groups = (await getJson(`${promUrl}/api/v1/rules`)).data.groups as { rules: { name: string; health: string; lastError?: string }[] }[];
    for (const rule of groups.flatMap((g) => g.rules)) expect([rule.name, rule.health, rule.lastError ?? '']).toEqual([rule.name, 'ok', '']);
    const alerts = (await getJson(`${promUrl}/api/v1/alerts`)).data.alerts as { labels: Record<string, string> }[];
    expect(alerts.filter((a) => a.labels.alertname === 'TinomailRedisDown')).toEqual([]);
  });

  test('redis-server stopped: TinomailRedisDown fires and pages on-call through Alertmanager', async () => {
    await redis!.stop();
    redis = undefined;
    const post = await receiver.waitFor(
      (p) => p.path === '/pager' && p.body.status === 'firing' && p.body.alerts.some((a: any) => a.labels.alertname === 'TinomailRedisDown'),
      40_000,
    );
    const alert = post.body.alerts.find((a: any) => a.labels.alertname === 'TinomailRedisDown');
    expect(post.body.receiver).toBe('oncall-pager');
    expect(alert.labels).toMatchObject({ severity: 'critical', service: 'redis', job: 'redis-exporter', host: 'e2e' });
    expect(alert.annotations.summary).toBe('Redis does not answer; WildDuck, Haraka and ZoneMTA lose rate limits, counters and queues.');
    expect(alert.annotations.description).toMatch(/^The redis exporter on e2e \(127\.0\.0\.1:\d+\) has not reached Redis for a minute\.$/);
    expect(alert.annotations.runbook_url).toMatch(/docs\/runbooks\.md#tinomailredisdown$/);
    // The shipped PagerDuty receiver got it too, rendered by the shipped templates.
    const pd = await receiver.waitFor((p) => p.path === '/pagerduty' && p.body.payload?.summary?.includes('TinomailRedisDown'));
    expect(pd.body.payload.summary).toBe('[FIRING:1] TinomailRedisDown on e2e (critical)');
  });

  test('redis-server back: the alert resolves and the resolution is notified', async () => {
    redis = await startRedis(redisPort);
    const post = await receiver.waitFor(
      (p) => p.path === '/pager' && p.body.status === 'resolved' && p.body.alerts.some((a: any) => a.labels.alertname === 'TinomailRedisDown'),
      40_000,
    );
    expect(post.body.alerts.find((a: any) => a.labels.alertname === 'TinomailRedisDown').status).toBe('resolved');
  });
});
