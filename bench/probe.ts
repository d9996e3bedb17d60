/**
 * `npm run bench probe`: the probe's own cost per round trip, next to the round trip itself. A mail path runs in a
 * child process (test/probe/fake-path.ts: smtp-server and the hoodiecrow IMAP server, with IDLE), so this process's
 * CPU time is the probe's alone. Each round submits over SMTP, waits for IMAP IDLE's EXISTS, searches, fetches the
 * headers and deletes the message. Baseline, same run and same path: the least a client can do for one round trip
 * (one nodemailer send, one IMAP connection in IDLE, one UID SEARCH, one delete), without the probe's bookkeeping.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { Registry } from 'prom-client';
import { silentLogger } from '../exporters/kit/log';
import { parseConfig } from '../exporters/probe/config';
import { Ledger } from '../exporters/probe/ledger';
import { ProbeMetrics } from '../exporters/probe/metrics';
import { RouteProber } from '../exporters/probe/prober';

const ROUNDS = 30;

interface PathInfo {
  smtp: { port: number };
  imap: { port: number };
  user: string;
  password: string;
}

function startPath(): Promise<{ info: PathInfo; stop: () => void }> {
  const code = `
    require(process.argv[1]).startFakePath().then((p) => {
      process.stdout.write(JSON.stringify({ smtp: p.smtp, imap: p.imap, user: p.user, password: p.password }) + '\\n');
      process.stdin.on('end', () => p.close().then(() => process.exit(0)));
      process.stdin.resume();
    });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code, join(__dirname, '..', 'test', 'probe', 'fake-path.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve({ info: JSON.parse(d.toString()), stop: () => child.stdin.end() }));
  });
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function baseline(info: PathInfo): Promise<{ cpuMs: number; roundTripMs: number; requests: number }> {
  const imap = new ImapFlow({ host: '127.0.0.1', port: info.imap.port, secure: false, auth: { user: info.user, pass: info.password }, logger: false, autoIdleDelay: 50 });
  await imap.connect();
  await imap.mailboxOpen('INBOX');
  const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: info.smtp.port, ignoreTLS: true });
  let onExists: (() => void) | undefined;
  imap.on('exists', () => onExists?.());
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) {
    const token = `b${i}x${Date.now()}`;
    const t0 = Date.now();
    const landed = new Promise<void>((resolve) => (onExists = resolve));
    await smtp.sendMail({ from: info.user, to: info.user, subject: token, text: 'x', headers: { 'X-Bench': token } });
    await landed;
    times.push(Date.now() - t0);
    const uids = await imap.search({ header: { 'x-bench': token } }, { uid: true });
    if (uids && uids.length) await imap.messageDelete(uids, { uid: true });
  }
  const cpu = cpuMs(process.cpuUsage(cpu0));
  smtp.close();
  await imap.logout();
  // Per round: one SMTP session, one SEARCH, one delete (the connection and SELECT are made once).
  return { cpuMs: cpu / ROUNDS, roundTripMs: median(times), requests: 3 };
}

async function probe(info: PathInfo): Promise<{ cpuMs: number; roundTripMs: number; requests: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-probe-'));
  writeFileSync(join(dir, 'pass'), info.password);
  const [route] = parseConfig(
    `routes:
  - name: bench
    from: ${info.user}
    to: ${info.user}
    interval: 1h
    timeout: 30s
    poll_interval: 5s
    submit: { method: smtp, host: 127.0.0.1, port: ${info.smtp.port}, tls: none }
    check: { host: 127.0.0.1, port: ${info.imap.port}, tls: none, user: ${info.user}, password_file: pass, folders: [INBOX] }
`,
    dir,
  );
  const registry = new Registry();
  const metrics = new ProbeMetrics(registry);
  const prober = new RouteProber(route, new Ledger(join(dir, 'state.json'), silentLogger), metrics, silentLogger);
  // Warm up: connections, JIT.
  await prober.round();
  await prober.settled(30_000);
  const requestsBefore = await requestCounts(metrics);
  const rtBefore = (await metrics.roundtrip.get()).values;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) {
    await prober.round();
    await prober.settled(30_000);
  }
  const cpu = cpuMs(process.cpuUsage(cpu0));
  const requestsAfter = await requestCounts(metrics);
  const sum = (vals: typeof rtBefore) => vals.find((v) => v.metricName === 'probe_roundtrip_seconds_sum')?.value ?? 0;
  const rtAfter = (await metrics.roundtrip.get()).values;
  await prober.stop();
  const perRound: Record<string, number> = {};
  for (const k of Object.keys(requestsAfter)) perRound[k] = (requestsAfter[k] - (requestsBefore[k] ?? 0)) / ROUNDS;
  return { cpuMs: cpu / ROUNDS, roundTripMs: ((sum(rtAfter) - sum(rtBefore)) / ROUNDS) * 1000, requests: perRound };
}

async function requestCounts(metrics: ProbeMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.requests.get()).values) out[String(v.labels.target)] = v.value;
  return out;
}

async function main() {
  const path = await startPath();
  try {
    const base = await baseline(path.info);
    const own = await probe(path.info);
    const total = Object.values(own.requests).reduce((a, b) => a + b, 0);
    console.log(`${ROUNDS} round trips each, SMTP submission -> IMAP (IDLE) on an in-process path in a child process`);
    console.log(`baseline (bare nodemailer + imapflow): ${base.cpuMs.toFixed(2)} ms CPU per round trip, ${base.requests} requests, round trip median ${base.roundTripMs.toFixed(0)} ms`);
    console.log(
      `probe:                               ${own.cpuMs.toFixed(2)} ms CPU per round trip, ${total.toFixed(1)} requests (submit ${own.requests.submit}, check ${own.requests.check}, mta ${own.requests.mta}), round trip mean ${own.roundTripMs.toFixed(0)} ms`,
    );
    console.log(`ratio probe / baseline: CPU ${(own.cpuMs / base.cpuMs).toFixed(2)}x, requests ${(total / base.requests).toFixed(2)}x`);
  } finally {
    path.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
