/**
 * Cluster mode (smtp.ini nodes=2, Haraka's default mode with more workers): the master serves the sum of
 * its workers, exact; a killed worker's counts stay in the totals (no drop that Prometheus would read as
 * a reset), and a worker that cannot answer is served from its last answer. Real Haraka, real nodemailer.
 * The plugin is built by the root `pretest` (npm run build), or by the harness when dist is stale.
 */
import nodemailer from 'nodemailer';
import { rawSmtp } from './fixtures';
import { scrape, scrapeUntil, startHaraka, value, type Haraka } from './harness';

let haraka: Haraka;

beforeAll(async () => {
  haraka = await startHaraka({
    nodes: 2,
    plugins: ['tinomail', 'rcpt_to.in_host_list', 'queue/discard'],
    config: { 'tinomail.ini': '[server]\nlisten=127.0.0.1:0\ntimeout=1\n' },
  });
}, 20000);

afterAll(async () => {
  await haraka?.stop();
});

async function sendMany(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: haraka.smtpPort, secure: false, ignoreTLS: true, name: 'client.test' });
    try {
      await transport.sendMail({ from: 'sender@example.org', to: 'alice@example.com', subject: `m${i}`, text: 'hello\n' });
    } finally {
      transport.close();
    }
  }
}

const port = () => String(haraka.smtpPort);
const accepted = (m: Map<string, number>) => value(m, 'haraka_messages_total', { result: 'accept' });
const settled = (want: number) =>
  scrapeUntil(haraka.metricsUrl, (m) => accepted(m) === want && value(m, 'haraka_connections_active', { port: port() }) === 0);

function workerPids(): number[] {
  return [...haraka.log().matchAll(/worker started worker=\d+ pid=(\d+)/g)].map((m) => Number(m[1]));
}

test('totals are the exact sum over both workers', async () => {
  await sendMany(6);
  const m = await settled(6);
  expect(accepted(m)).toBe(6);
  expect(value(m, 'haraka_connections_total', { port: port() })).toBe(6);
  expect(value(m, 'haraka_recipients_total', { result: 'accept' })).toBe(6);
  expect(value(m, 'haraka_message_size_bytes_count')).toBe(6);
  expect(value(m, 'haraka_cluster_workers', { state: 'answered' })).toBe(2);
  expect(value(m, 'haraka_cluster_workers', { state: 'stale' })).toBe(0);
  // An info gauge is not summed: 1, not one per worker.
  expect(value(m, 'haraka_tinomail_info', { version: '0.1.0' })).toBe(1);
  // Two workers; the next test shows that each held a share of these counts.
  expect(workerPids()).toHaveLength(2);
});

test('a killed worker is replaced and its counts stay in the totals; new mail adds up exactly', async () => {
  const before = await settled(6);
  const [victim] = workerPids();
  process.kill(victim!, 'SIGKILL');
  // Haraka's master forks a replacement for a worker killed by a signal.
  await haraka.waitForLog(/worker 3 listening/);
  const afterKill = await scrape(haraka.metricsUrl);
  expect(accepted(afterKill)).toBe(6);
  expect(value(afterKill, 'haraka_connections_total', { port: port() })).toBe(value(before, 'haraka_connections_total', { port: port() }));
  expect(value(afterKill, 'haraka_cluster_workers', { state: 'answered' })).toBe(2);

  await sendMany(2);
  const m = await settled(8);
  expect(accepted(m)).toBe(8);
  expect(value(m, 'haraka_message_size_bytes_count')).toBe(8);
});

test('a worker that cannot answer is served from its last answer, with HTTP 200', async () => {
  const before = await settled(8);
  const live = workerPids().filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  const stopped = live[0]!;
  process.kill(stopped, 'SIGSTOP');
  try {
    const m = await scrape(haraka.metricsUrl);
    expect(value(m, 'haraka_cluster_workers', { state: 'stale' })).toBe(1);
    expect(value(m, 'haraka_cluster_workers', { state: 'answered' })).toBe(1);
    expect(accepted(m)).toBe(accepted(before));
  } finally {
    process.kill(stopped, 'SIGCONT');
  }
});

test('a graceful reload keeps what the workers counted since the last scrape (their shutdown snapshot)', async () => {
  const before = await settled(8);
  expect(accepted(before)).toBe(8);
  await sendMany(4); // counted by the workers, never scraped before they go
  const replies = await rawSmtp(haraka.smtpPort, ['INTERNALCMD gracefulRestart']);
  expect(replies[1]).toMatch(/^250 /);
  await haraka.waitForLog(/Reload complete/, 15000);
  const m = await scrape(haraka.metricsUrl);
  expect(accepted(m)).toBe(12);
  expect(value(m, 'haraka_cluster_workers', { state: 'answered' })).toBe(2);
}, 20000);
