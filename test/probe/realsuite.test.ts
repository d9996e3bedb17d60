/**
 * The probe on the real suite (test/realsuite/harness.ts, issue 11): ZoneMTA's feeder -> Haraka (STARTTLS with a
 * test certificate) -> WildDuck's LMTP -> WildDuck IMAP, every daemon real, one suite for the whole file.
 * - the whole path: success, round trip and hops (submission, mta, mx) recorded, the message deleted;
 * - STARTTLS straight to Haraka, the certificate checked against the test CA (and refused without it);
 * - Junk: WildDuck files mail of a user with spamLevel 0 as spam (lib/filter-handler.js), counted as junk;
 * - late: a route whose timeout is shorter than the path counts the message as late, not lost;
 * - a wrong IMAP password fails the fetch stage;
 * - the round trip the probe reports is within 100 ms of send -> IMAP IDLE's EXISTS seen by a client of the test;
 * - Haraka stopped: ZoneMTA defers, `deliver` fails within the route's timeout, and TinomailMailProbeFailing fires
 *   in a real Prometheus with the shipped rule (`for:` shortened in a temporary copy); Haraka back: it recovers.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition, type ProbeExporter } from '../../exporters/probe';
import { sample, scrape } from '../helpers/exposition';
import { type Daemon, freePort, getJson, ROOT, startDaemon, waitFor } from '../prometheus/support';
import { type RealSuite, startRealSuite } from '../realsuite/harness';

describe('the probe on the real suite', () => {
  let suite: RealSuite;
  let run: RunningExporter;
  let exporter: ProbeExporter;
  let prometheus: Daemon | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'probe-realsuite-'));
  const logLines: string[] = [];
  const users: Record<string, { id: string; address: string; password: string }> = {};

  const metrics = async () => (await scrape(`${run.url}/metrics`)).text;
  const value = (text: string, name: string, labels: Record<string, string>) => sample(text, name, labels) ?? 0;
  const until = (what: string, check: (text: string) => boolean, timeoutMs = 60_000) =>
    waitFor(
      what,
      async () => {
        const text = await metrics();
        return check(text) ? text : undefined;
      },
      timeoutMs,
      100,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nprobe log:\n${logLines.slice(-20).join('\n')}`);
    });
  const prober = (route: string) => exporter.probers.find((p) => p.route.name === route)!;

  beforeAll(async () => {
    // WildDuck's submit puts mail in ZoneMTA's queue for its [sender] zone ("default", which the harness leaves
    // without senders): send it through the zone that delivers.
    suite = await startRealSuite({ services: ['zonemta', 'haraka', 'wildduck'], harakaTls: true, plugins: false, wildduckToml: '[sender]\nzone = "outbound"\n' });
    for (const [name, extra] of [['feeder', {}], ['mxtls', {}], ['junk', { spamLevel: 0 }], ['late', {}], ['badpass', {}], ['measure', {}], ['api', {}], ['wdsubmit', {}]] as const) {
      const password = `pw-${name}-${Math.random().toString(36).slice(2)}`;
      const { id, address } = await suite.wildduck.createUser(`probe${name}`, password, extra);
      users[name] = { id, address, password };
      writeFileSync(join(dir, `${name}.pass`), `${password}\n`);
    }
    writeFileSync(join(dir, 'wrong.pass'), 'not-the-password\n');
    writeFileSync(join(dir, 'wildduck.token'), `${suite.wildduck.token}\n`);
    const imap = suite.wildduck.imap;
    const route = (name: string, user: string, submit: string, extra = '', passwordFile = `${user}.pass`) => `
- name: ${name}
  from: ${users[user].address}
  to: ${users[user].address}
  interval: 1h
  timeout: 30s
  late_threshold: 2m
  poll_interval: 300ms
  submit: ${submit}
  check: { host: ${imap.host}, port: ${imap.port}, tls: none, user: probe${user}, password_file: ${passwordFile} }
  mta: { zonemta_url: "${suite.zonemta.api}" }${extra}`;
    const feeder = `{ method: smtp, host: ${suite.zonemta.feeder.host}, port: ${suite.zonemta.feeder.port}, tls: none }`;
    const haraka = suite.haraka.smtp;
    writeFileSync(
      join(dir, 'probe.yml'),
      `routes:${route('feeder', 'feeder', feeder)}${route('mx-starttls', 'mxtls', `{ method: smtp, host: ${haraka.host}, port: ${haraka.port}, tls: starttls, ca_file: ${suite.haraka.tlsCa} }`)}${route(
        'mx-untrusted',
        'mxtls',
        `{ method: smtp, host: ${haraka.host}, port: ${haraka.port}, tls: starttls }`,
      )}${route('junk', 'junk', feeder)}${route('late', 'late', feeder).replace('timeout: 30s', 'timeout: 100ms')}${route('badpass', 'badpass', feeder, '', 'wrong.pass').replace('timeout: 30s', 'timeout: 3s')}${route('measure', 'measure', feeder)}${route('api-send', 'api', `{ method: zonemta, url: "${suite.zonemta.api}" }`).replace(
        /    check: .*/,
        `    check: { method: wildduck, url: "${suite.wildduck.api}", token_file: wildduck.token, user_id: ${users.api.id} }`,
      )}${route('wd-submit', 'wdsubmit', `{ method: wildduck, url: "${suite.wildduck.api}", token_file: wildduck.token, user_id: ${users.wdsubmit.id} }`)}
`,
    );
    run = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--probe.config.file=${join(dir, 'probe.yml')}`, `--probe.state.file=${join(dir, 'state.json')}`], {
      log: createLogger({ level: 'debug', write: (l) => logLines.push(l) }),
    });
    exporter = run.exporter as ProbeExporter;
  }, 240_000);

  afterAll(async () => {
    if (process.env.PROBE_TEST_LOG) writeFileSync(process.env.PROBE_TEST_LOG, logLines.join('\n'));
    await prometheus?.stop();
    await run?.stop();
    await suite?.close();
  }, 60_000);

  test('the whole path ZoneMTA -> Haraka -> WildDuck -> IMAP: success, round trip, hops, inbox, deleted', async () => {
    const text = await until('feeder round trip', (t) => value(t, 'probe_success', { route: 'feeder' }) === 1 && value(t, 'probe_in_flight_messages', { route: 'feeder' }) === 0);
    expect(value(text, 'probe_roundtrip_seconds_count', { route: 'feeder' })).toBe(1);
    expect(value(text, 'probe_roundtrip_seconds_sum', { route: 'feeder' })).toBeGreaterThan(0);
    expect(value(text, 'probe_roundtrip_seconds_sum', { route: 'feeder' })).toBeLessThan(30);
    // ZoneMTA's and Haraka's Received headers: submission, mta and mx; WildDuck adds none, so no store hop.
    for (const hop of ['submission', 'mta', 'mx']) expect([hop, value(text, 'probe_hop_seconds_count', { route: 'feeder', hop })]).toEqual([hop, 1]);
    expect(value(text, 'probe_hop_seconds_count', { route: 'feeder', hop: 'store' })).toBe(0);
    expect(value(text, 'probe_placement_total', { route: 'feeder', folder: 'inbox' })).toBe(1);
    expect(value(text, 'probe_failures_total', { route: 'feeder', stage: 'cleanup' })).toBe(0);
    expect(await probeMailIn('feeder', 'INBOX')).toBe(0);
  }, 90_000);

  test('STARTTLS to Haraka, the certificate checked against the test CA; without the CA the submission fails', async () => {
    const text = await until(
      'mx-starttls round trip',
      (t) => value(t, 'probe_success', { route: 'mx-starttls' }) === 1 && value(t, 'probe_failures_total', { route: 'mx-untrusted', stage: 'submit' }) === 1,
    );
    expect(value(text, 'probe_hop_seconds_count', { route: 'mx-starttls', hop: 'submission' })).toBe(1);
    expect(value(text, 'probe_hop_seconds_count', { route: 'mx-starttls', hop: 'mta' })).toBe(0); // straight to the MX
    expect(value(text, 'probe_success', { route: 'mx-untrusted' })).toBe(0);
    expect(logLines.some((l) => l.includes('route=mx-untrusted') && /certificate/i.test(l))).toBe(true);
  }, 90_000);

  test('WildDuck files the mail of a user with spamLevel 0 in Junk: junk placement', async () => {
    const text = await until('junk placement', (t) => value(t, 'probe_placement_total', { route: 'junk', folder: 'junk' }) === 1 && value(t, 'probe_in_flight_messages', { route: 'junk' }) === 0);
    expect(value(text, 'probe_placement_total', { route: 'junk', folder: 'inbox' })).toBe(0);
    expect(await probeMailIn('junk', 'Junk')).toBe(0);
  }, 90_000);

  test("ZoneMTA's HTTP /send and the WildDuck REST API check: success, deleted through the API", async () => {
    const text = await until('api-send round trip', (t) => value(t, 'probe_success', { route: 'api-send' }) === 1 && value(t, 'probe_in_flight_messages', { route: 'api-send' }) === 0);
    expect(value(text, 'probe_placement_total', { route: 'api-send', folder: 'inbox' })).toBe(1);
    expect(value(text, 'probe_hop_seconds_count', { route: 'api-send', hop: 'mx' })).toBe(1);
    expect(value(text, 'probe_failures_total', { route: 'api-send', stage: 'cleanup' })).toBe(0);
    expect(await probeMailIn('api', 'INBOX')).toBe(0);
  }, 90_000);

  test("WildDuck's POST /users/:id/submit: success, and the copy it keeps in Sent is deleted too", async () => {
    const text = await until('wd-submit round trip', (t) => value(t, 'probe_success', { route: 'wd-submit' }) === 1 && value(t, 'probe_in_flight_messages', { route: 'wd-submit' }) === 0);
    expect(value(text, 'probe_failures_total', { route: 'wd-submit', stage: 'cleanup' })).toBe(0);
    expect(await probeMailIn('wdsubmit', 'INBOX')).toBe(0);
    expect(await probeMailIn('wdsubmit', 'Sent Mail')).toBe(0);
  }, 90_000);

  test('mail that takes longer than the timeout is late, not lost', async () => {
    const text = await until('late arrival', (t) => value(t, 'probe_late_total', { route: 'late' }) === 1 && value(t, 'probe_in_flight_messages', { route: 'late' }) === 0);
    // The round failed once, at its timeout (the mailbox was readable, ZoneMTA reported no deferral).
    expect(['submit', 'deliver', 'fetch', 'timeout'].map((stage) => value(text, 'probe_failures_total', { route: 'late', stage }))).toEqual([0, 0, 0, 1]);
    expect(value(text, 'probe_success', { route: 'late' })).toBe(0);
    expect(value(text, 'probe_roundtrip_seconds_count', { route: 'late' })).toBe(1);
    expect(value(text, 'probe_roundtrip_seconds_sum', { route: 'late' })).toBeGreaterThan(0.1);
  }, 90_000);

  test('a wrong IMAP password fails the fetch stage, and the password is not logged', async () => {
    await until('fetch failure', (t) => value(t, 'probe_failures_total', { route: 'badpass', stage: 'fetch' }) === 1);
    const log = logLines.join('\n');
    expect(log).not.toContain('not-the-password');
    for (const u of Object.values(users)) expect(log).not.toContain(u.password);
  }, 90_000);

  test('the reported round trip is within 100 ms of send -> IMAP IDLE EXISTS seen by another client', async () => {
    await until('first measure round', (t) => value(t, 'probe_roundtrip_seconds_count', { route: 'measure' }) === 1 && value(t, 'probe_in_flight_messages', { route: 'measure' }) === 0);
    const client = new ImapFlow({ ...suite.wildduck.imap, secure: false, auth: { user: 'probemeasure', pass: users.measure.password }, logger: false, autoIdleDelay: 10 });
    try {
      await client.connect();
      await client.mailboxOpen('INBOX');
      await waitFor('IDLE', async () => (client.idling ? true : undefined), 10_000, 10);
      let existsAt = 0;
      client.on('exists', () => (existsAt ||= Date.now()));
      const before = value(await metrics(), 'probe_roundtrip_seconds_sum', { route: 'measure' });
      const sentAt = Date.now();
      await prober('measure').round();
      const text = await until('second measure round', (t) => value(t, 'probe_roundtrip_seconds_count', { route: 'measure' }) === 2);
      const reported = (value(text, 'probe_roundtrip_seconds_sum', { route: 'measure' }) - before) * 1000;
      const measured = existsAt - sentAt;
      expect(existsAt).toBeGreaterThan(0);
      expect([reported, measured, Math.abs(reported - measured) < 100]).toEqual([reported, measured, true]);
    } finally {
      await client.logout().catch(() => client.close());
    }
  }, 90_000);

  test('Haraka stopped: deliver fails within the timeout and the page fires in Prometheus; Haraka back: it recovers', async () => {
    prometheus = await startPrometheus(run.url);
    const promUrl = (prometheus as Daemon & { url: string }).url;
    const firing = async () =>
      (await getJson<{ data: { result: unknown[] } }>(`${promUrl}/api/v1/query?query=${encodeURIComponent('ALERTS{alertname="TinomailMailProbeFailing",route="feeder",alertstate="firing"}')}`)).data.result
        .length > 0;
    await suite.stopService('haraka');
    const t0 = Date.now();
    await prober('feeder').round();
    await until('deliver failure', (t) => value(t, 'probe_failures_total', { route: 'feeder', stage: 'deliver' }) === 1, 30_000);
    expect(Date.now() - t0).toBeLessThan(30_000); // the route's timeout
    expect(logLines.some((l) => l.includes('route=feeder') && l.includes('the MTA deferred the probe message'))).toBe(true);
    await waitFor('TinomailMailProbeFailing firing', async () => ((await firing()) ? true : undefined), 60_000, 500);

    await suite.startService('haraka');
    // ZoneMTA remembers an MX that refused connections for 2 minutes (lib/sender.js getConnectionWithCache) and
    // defers everything to it meanwhile; restarting ZoneMTA forgets that instead of waiting it out.
    await suite.stopService('zonemta');
    await suite.startService('zonemta');
    const successesBefore = value(await metrics(), 'probe_roundtrip_seconds_count', { route: 'feeder' });
    await prober('feeder').round();
    await until('feeder recovered', (t) => value(t, 'probe_success', { route: 'feeder' }) === 1 && value(t, 'probe_roundtrip_seconds_count', { route: 'feeder' }) > successesBefore, 60_000);
    await waitFor('TinomailMailProbeFailing resolved', async () => (!(await firing()) ? true : undefined), 60_000, 500);
  }, 180_000);

  /** Probe messages of a route still in a folder (the probe deletes what it finds). */
  async function probeMailIn(user: string, folder: string): Promise<number> {
    const client = new ImapFlow({ ...suite.wildduck.imap, secure: false, auth: { user: `probe${user}`, pass: users[user].password }, logger: false });
    await client.connect();
    try {
      await client.mailboxOpen(folder);
      // By subject, as the probe does: WildDuck does not index custom headers.
      const uids = await client.search({ subject: 'tinomail probe' }, { uid: true });
      return uids ? uids.length : 0;
    } finally {
      await client.logout().catch(() => client.close());
    }
  }

  /** A real Prometheus scraping the probe every second, with the shipped probe rules and `for:` shortened. */
  async function startPrometheus(target: string): Promise<Daemon & { url: string }> {
    const promDir = mkdtempSync(join(tmpdir(), 'probe-prom-'));
    const rules = readFileSync(join(ROOT, 'prometheus', 'rules', 'probe.yml'), 'utf8').replace(/for: \d+m/g, 'for: 2s');
    writeFileSync(join(promDir, 'probe.yml'), rules);
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [probe.yml]
scrape_configs:
- job_name: probe-exporter
  static_configs: [{ targets: ['${new URL(target).host}'], labels: { host: realsuite } }]
`,
    );
    const port = await freePort();
    const daemon = startDaemon('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`]);
    const url = `http://127.0.0.1:${port}`;
    await waitFor('prometheus ready', async () => ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok ? true : undefined), 30_000, 100).catch(async (err) => {
      await daemon.stop();
      throw new Error(`${String(err)}\n${daemon.output()}`);
    });
    return Object.assign(daemon, { url });
  }
});
