/**
 * The probe exporter against a mail path in this process (test/probe/fake-path.ts: smtp-server and the
 * hoodiecrow IMAP server, with ZoneMTA- and Haraka-shaped Received headers): success, junk, a refused
 * submission, late mail, a wrong IMAP password, a restart with mail in flight, crash leftovers, no config.
 * Every case scrapes /metrics over HTTP, as Prometheus does.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../exporters/cli';
import { createLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition, type ProbeExporter } from '../../exporters/probe';
import { scrape, sample } from '../helpers/exposition';
import { type FakePath, startFakePath } from './fake-path';

const dir = mkdtempSync(join(tmpdir(), 'probe-exporter-'));
let path: FakePath;
const logLines: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => logLines.push(l) });
const running: RunningExporter[] = [];

beforeAll(async () => {
  path = await startFakePath();
  writeFileSync(join(dir, 'imap.pass'), `${path.password}\n`);
  writeFileSync(join(dir, 'wrong.pass'), 'not-the-password\n');
});

afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((r) => r.stop()));
  path.disposition = 'inbox';
  path.delayMs = 0;
  path.rcptReply = '';
});

afterAll(async () => {
  await path?.close();
});

function config(name: string, opts: { timeout?: string; passwordFile?: string; poll?: string } = {}): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    `routes:
  - name: ${name}
    from: ${path.user}
    to: ${path.user}
    interval: 1h
    timeout: ${opts.timeout ?? '10s'}
    late_threshold: 1m
    poll_interval: ${opts.poll ?? '200ms'}
    submit: { method: smtp, host: 127.0.0.1, port: ${path.smtp.port}, tls: none }
    check: { host: 127.0.0.1, port: ${path.imap.port}, tls: none, user: ${path.user}, password_file: ${opts.passwordFile ?? 'imap.pass'} }
`,
  );
  return file;
}

async function start(configFile: string, stateFile = join(dir, `${Math.random().toString(16).slice(2)}.state.json`)): Promise<{ run: RunningExporter; exporter: ProbeExporter }> {
  const run = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--probe.config.file=${configFile}`, `--probe.state.file=${stateFile}`], { log });
  running.push(run);
  return { run, exporter: run.exporter as ProbeExporter };
}

/** Scrapes until `ready` holds (generous limit: the machine may be busy). */
async function scrapeUntil(run: RunningExporter, ready: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < until) {
    text = (await scrape(`${run.url}/metrics`)).text;
    if (ready(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met; last scrape:\n${text.split('\n').filter((l) => l.startsWith('probe_')).join('\n')}`);
}

const m = (text: string, name: string, labels: Record<string, string>) => sample(text, name, labels);

test('a round trip: success, round trip, hops, inbox placement, the message deleted', async () => {
  const { run } = await start(config('fast'));
  const text = await scrapeUntil(run, (t) => m(t, 'probe_success', { route: 'fast' }) === 1 && m(t, 'probe_in_flight_messages', { route: 'fast' }) === 0);
  expect(m(text, 'probe_up', {})).toBe(1);
  expect(m(text, 'probe_roundtrip_seconds_count', { route: 'fast' })).toBe(1);
  expect(m(text, 'probe_roundtrip_seconds_sum', { route: 'fast' })).toBeLessThan(10);
  expect(m(text, 'probe_placement_total', { route: 'fast', folder: 'inbox' })).toBe(1);
  expect(m(text, 'probe_placement_total', { route: 'fast', folder: 'junk' })).toBe(0);
  for (const hop of ['submission', 'mta', 'mx']) expect(m(text, 'probe_hop_seconds_count', { route: 'fast', hop })).toBe(1);
  expect(m(text, 'probe_hop_seconds_count', { route: 'fast', hop: 'store' })).toBe(0);
  expect(m(text, 'probe_last_success_timestamp_seconds', { route: 'fast' })).toBeGreaterThan(Date.now() / 1000 - 60);
  for (const stage of ['submit', 'deliver', 'fetch', 'timeout', 'cleanup']) expect(m(text, 'probe_failures_total', { route: 'fast', stage })).toBe(0);
  expect(m(text, 'probe_requests_total', { route: 'fast', target: 'submit' })).toBe(1);
  expect(path.messages('INBOX').filter((raw) => raw.includes('fast '))).toEqual([]);
  // The round trip is measured from the submission to the moment IMAP announced the message.
  expect(m(text, 'probe_roundtrip_seconds_sum', { route: 'fast' })).toBeGreaterThan(0);
  expect(logLines.join('\n')).not.toContain(path.password);
});

test('mail filed in Junk counts as junk placement and still succeeds', async () => {
  path.disposition = 'junk';
  const { run } = await start(config('junk'));
  const text = await scrapeUntil(run, (t) => m(t, 'probe_placement_total', { route: 'junk', folder: 'junk' }) === 1 && m(t, 'probe_in_flight_messages', { route: 'junk' }) === 0);
  expect(m(text, 'probe_placement_total', { route: 'junk', folder: 'inbox' })).toBe(0);
  expect(m(text, 'probe_success', { route: 'junk' })).toBe(1);
  expect(path.messages('Junk')).toEqual([]);
});

test('a refused submission fails the submit stage at once', async () => {
  path.rcptReply = '550 5.1.1 mailbox unavailable';
  const { run } = await start(config('refused'));
  const text = await scrapeUntil(run, (t) => m(t, 'probe_failures_total', { route: 'refused', stage: 'submit' }) === 1);
  expect(m(text, 'probe_success', { route: 'refused' })).toBe(0);
  expect(m(text, 'probe_in_flight_messages', { route: 'refused' })).toBe(0);
  expect(logLines.some((l) => l.includes('submission failed') && l.includes('route=refused'))).toBe(true);
  expect(logLines.join('\n')).not.toContain('probe@example.com>'); // addresses in server answers are redacted
});

test('mail held past its timeout: timeout, then late (not lost) when it lands; never a success', async () => {
  path.disposition = 'hold';
  const { run } = await start(config('late', { timeout: '1s' }));
  let text = await scrapeUntil(run, (t) => m(t, 'probe_failures_total', { route: 'late', stage: 'timeout' }) === 1);
  expect(m(text, 'probe_success', { route: 'late' })).toBe(0);
  expect(m(text, 'probe_in_flight_messages', { route: 'late' })).toBe(1);
  expect(m(text, 'probe_late_total', { route: 'late' })).toBe(0);
  path.release();
  text = await scrapeUntil(run, (t) => m(t, 'probe_late_total', { route: 'late' }) === 1 && m(t, 'probe_in_flight_messages', { route: 'late' }) === 0);
  expect(m(text, 'probe_success', { route: 'late' })).toBe(0);
  expect(m(text, 'probe_failures_total', { route: 'late', stage: 'timeout' })).toBe(1); // counted once
  expect(m(text, 'probe_roundtrip_seconds_count', { route: 'late' })).toBe(1);
  expect(m(text, 'probe_roundtrip_seconds_sum', { route: 'late' })).toBeGreaterThan(1);
  expect(path.messages('INBOX').filter((raw) => raw.includes('late '))).toEqual([]);
});

test('a wrong IMAP password fails the fetch stage; the password is never logged', async () => {
  const { run } = await start(config('badpass', { timeout: '1s', passwordFile: 'wrong.pass' }));
  const text = await scrapeUntil(run, (t) => m(t, 'probe_failures_total', { route: 'badpass', stage: 'fetch' }) === 1);
  expect(m(text, 'probe_failures_total', { route: 'badpass', stage: 'timeout' })).toBe(0);
  expect(m(text, 'probe_success', { route: 'badpass' })).toBe(0);
  expect(logLines.some((l) => l.includes('route=badpass') && l.includes('IMAP login') && l.includes('refused'))).toBe(true);
  expect(logLines.join('\n')).not.toContain('not-the-password');
  // The message did arrive: once the probe stops it is still there, and a later round cleans it up (next test).
});

test('a restart with mail in flight counts it once; leftovers of a crash are deleted, not counted', async () => {
  const state = join(dir, 'restart.state.json');
  const cfg = config('restart', { timeout: '30s' });
  path.disposition = 'hold';
  const first = await start(cfg, state);
  await scrapeUntil(first.run, () => path.received > 0 && readFileSync(state, 'utf8').includes('queueId'));
  await first.run.stop();
  const saved = JSON.parse(readFileSync(state, 'utf8')).messages;
  expect(saved).toHaveLength(1);
  expect(saved[0]).toMatchObject({ route: 'restart', outcome: 'pending', queueId: expect.stringMatching(/^18c5e4a0c5e/) });
  // A probe message of this route that no state knows (a crash before the state was written).
  path.append('INBOX', `X-Tinomail-Probe: restart ${'f'.repeat(32)}\r\nSubject: tinomail probe restart ${'f'.repeat(32)}\r\n\r\nleft over\r\n`);
  // Another route's probe mail in the same mailbox is not touched.
  path.append('INBOX', `X-Tinomail-Probe: restart-other ${'e'.repeat(32)}\r\nSubject: x\r\n\r\nnot ours\r\n`);
  path.release();
  path.disposition = 'inbox';
  const second = await start(cfg, state);
  // Its own first round plus the one from before the restart: two successes, one each.
  const text = await scrapeUntil(second.run, (t) => m(t, 'probe_roundtrip_seconds_count', { route: 'restart' }) === 2 && m(t, 'probe_in_flight_messages', { route: 'restart' }) === 0);
  expect(m(text, 'probe_placement_total', { route: 'restart', folder: 'inbox' })).toBe(2);
  expect(m(text, 'probe_late_total', { route: 'restart' })).toBe(0);
  expect(m(text, 'probe_failures_total', { route: 'restart', stage: 'cleanup' })).toBe(0);
  const left = path.messages('INBOX');
  expect(left.filter((raw) => /X-Tinomail-Probe: restart [0-9a-f]/.test(raw))).toEqual([]);
  expect(left.filter((raw) => raw.includes('restart-other'))).toHaveLength(1);
  expect(JSON.parse(readFileSync(state, 'utf8')).messages).toEqual([]);
});

test('no config file: the probe runs with no routes and answers probe_up 0', async () => {
  const run = await runExporter(definition, ['--web.listen-address=127.0.0.1:0'], { log });
  running.push(run);
  const res = await scrape(`${run.url}/metrics`);
  expect(res.status).toBe(200);
  expect(sample(res.text, 'probe_up')).toBe(0);
  expect(logLines.some((l) => l.includes('no --probe.config.file'))).toBe(true);
});

test('`tinomail-monitor all` without a probe config does not fail: the probe answers probe_up 0', async () => {
  const started = await main(['all', '--exporters=probe', '--probe.web.listen-address=127.0.0.1:0', '--log.level=error'], {});
  running.push(...started);
  expect(started.map((r) => r.definition.name)).toEqual(['probe']);
  const res = await scrape(`${started[0].url}/metrics`);
  expect(res.status).toBe(200);
  expect(sample(res.text, 'probe_up')).toBe(0);
});

test('a config that cannot work is a flag error naming the flag and the key', async () => {
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'routes:\n  - name: x\n    from: a@b\n    to: a@b\n    submit: { method: smtp, host: h, port: 0 }\n    check: { host: h, user: u, password_file: imap.pass }\n');
  await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--probe.config.file=${bad}`], { log })).rejects.toThrow(
    /invalid --probe\.config\.file .*bad\.yml: route "x"\.submit\.port: must be a port number/,
  );
  await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--probe.config.file=${join(dir, 'none.yml')}`], { log })).rejects.toThrow(
    /invalid --probe\.config\.file: cannot read .*none\.yml: ENOENT/,
  );
});
