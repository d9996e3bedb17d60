/**
 * `npx tsx bench/redis.ts`: the WildDuck key scan over 1,000,000 keys within its default budget, while a
 * separate client process measures Redis round-trip latency (PING in a loop) in the same run; then the
 * exporter's scrape duration. Baseline: the same latency client with no scan running.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import Redis from 'ioredis';
import { parseFlags } from '../exporters/kit/flags';
import { silentLogger } from '../exporters/kit/log';
import { runExporter } from '../exporters/kit/run';
import { definition } from '../exporters/redis';
import { KeyScanner } from '../exporters/redis/mail-keys';
import { RedisServer } from '../test/redis/helpers';

const TOTAL_KEYS = 1_000_000;
const BASELINE_MS = 2000;
const ROUNDS = 2;
/** The exporter's own defaults, so the bench measures what operators run. */
const DEFAULTS = parseFlags([], definition.flags, {}).values;
const BUDGET = { timeBudgetMs: DEFAULTS['redis.scan-time-budget'] as number, keyBudget: DEFAULTS['redis.scan-key-budget'] as number };

interface Latency {
  stop(): Promise<number[]>;
}

/**
 * A client in its own process (so the scanner's JavaScript work never delays the measurement) sending a PING
 * about every millisecond, like a busy mail system's steady trickle of commands, timing each round trip.
 */
function latencyClient(port: number): Promise<Latency> {
  const code = `
    const Redis = require(process.argv[1]);
    const r = new Redis({ port: Number(process.argv[2]), db: 3 });
    const samples = [];
    let running = true;
    process.stdin.on('data', () => { running = false; });
    (async () => {
      await r.ping();
      process.stdout.write('ready\\n');
      while (running) {
        const t = process.hrtime.bigint();
        await r.ping();
        samples.push(Number(process.hrtime.bigint() - t) / 1e6);
        await new Promise((ok) => setTimeout(ok, 1));
      }
      process.stdout.write(JSON.stringify(samples) + '\\n');
      r.disconnect();
    })();`;
  const child = spawn(process.execPath, ['-e', code, require.resolve('ioredis'), String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out === 'ready\n') {
        resolve({
          stop: () =>
            new Promise((done) => {
              child.on('exit', () => done(JSON.parse(out.split('\n')[1])));
              child.stdin.end('stop\n');
            }),
        });
      }
    });
  });
}

function stats(ms: number[]): { n: number; p50: number; p99: number; p999: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: s[s.length - 1] };
}

const fmt = (x: number) => x.toFixed(3).padStart(8);
function printLatency(label: string, ms: number[], base?: ReturnType<typeof stats>): ReturnType<typeof stats> {
  const st = stats(ms);
  const ratio = base ? `\n${' '.repeat(34)} vs baseline: p50 x${(st.p50 / base.p50).toFixed(2)}  p99 x${(st.p99 / base.p99).toFixed(2)}  p99.9 x${(st.p999 / base.p999).toFixed(2)}` : '';
  console.log(`${label.padEnd(34)} pings ${String(st.n).padStart(7)}  p50 ${fmt(st.p50)} ms  p99 ${fmt(st.p99)} ms  p99.9 ${fmt(st.p999)} ms  max ${fmt(st.max)} ms${ratio}`);
  return st;
}

async function main(): Promise<void> {
  const server = await RedisServer.start(['--enable-debug-command', 'yes']);
  const db = new Redis(`${server.uri}/3`);
  try {
    // WildDuck's keys among everything else in its database (BullMQ, caches): 1,000,000 keys in all.
    const families = { 'rl:rcpt:': 40_000, 'rl:rcptIp:192.0.2.1:': 10_000, 'wdr:': 20_000, 'wdf:': 5_000, 'auth_user:': 2_000 };
    const mail = Object.values(families).reduce((a, b) => a + b, 0);
    await db.call('DEBUG', 'POPULATE', String(TOTAL_KEYS - mail), 'bull:noise');
    for (const [prefix, n] of Object.entries(families)) {
      for (let i = 0; i < n; i += 10_000) {
        const p = db.pipeline();
        for (let j = i; j < Math.min(n, i + 10_000); j++) p.set(`${prefix}${j.toString(16).padStart(24, '0')}`, prefix === 'auth_user:' ? String(j % 20) : '1', 'EX', 3600);
        await p.exec();
      }
    }
    console.log(`redis-server on port ${server.port}, db 3 holds ${await db.dbsize()} keys (${mail} WildDuck counters)`);

    // Interleaved rounds, so noise from other work on this host falls on every configuration alike.
    const configs = [
      { label: `defaults: COUNT ${DEFAULTS['redis.scan-count']}, pause ${DEFAULTS['redis.scan-pause']}ms`, count: DEFAULTS['redis.scan-count'] as number, pauseMs: DEFAULTS['redis.scan-pause'] as number },
      { label: 'COUNT 1000, no pause', count: 1000, pauseMs: 0 },
      { label: 'COUNT 10000, no pause', count: 10000, pauseMs: 0 },
    ];
    const baseline: number[] = [];
    const during = configs.map(() => [] as number[]);
    const cycles = configs.map(() => [] as Array<{ seconds: number; passes: number; keys: number }>);
    let found = '';
    for (let round = 0; round < ROUNDS; round++) {
      const idle = await latencyClient(server.port);
      await new Promise((r) => setTimeout(r, BASELINE_MS));
      baseline.push(...(await idle.stop()));
      for (const [i, config] of configs.entries()) {
        const scanner = new KeyScanner(db, { ...config, ...BUDGET, lockoutFailures: { password: 12, totp: 6 } });
        const client = await latencyClient(server.port);
        const t0 = performance.now();
        let passes = 0;
        while (!scanner.published && passes < 20) {
          if ((await scanner.pass()) === 'error') throw scanner.lastError;
          passes++;
        }
        cycles[i].push({ seconds: (performance.now() - t0) / 1000, passes, keys: scanner.published!.keysExamined });
        during[i].push(...(await client.stop()));
        const r = scanner.published!;
        found = `rl:rcpt ${r.counters['rl:rcpt']}, rl:rcptIp ${r.counters['rl:rcptIp']}, wdr ${r.counters.wdr}, wdf ${r.counters.wdf}, auth_user ${r.authFailing.password} (locked ${r.authLocked.password})`;
      }
    }
    console.log(`found: ${found}`);
    console.log(`budget per pass: ${BUDGET.timeBudgetMs} ms / ${BUDGET.keyBudget} keys; ${ROUNDS} rounds; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs\n`);
    const base = printLatency('baseline (no scan)', baseline);
    for (const [i, config] of configs.entries()) {
      const c = cycles[i];
      const mean = c.reduce((a, b) => a + b.seconds, 0) / c.length;
      const passes = Math.max(...c.map((x) => x.passes));
      console.log(`\nscan, ${config.label}: ${c[0].keys} keys in ${mean.toFixed(2)} s mean (${Math.round(c[0].keys / mean)} keys/s), ${passes === 1 ? 'every cycle within one pass of its budget' : `up to ${passes} passes`}`);
      printLatency('  latency during the scan', during[i], base);
    }

    // The scrape itself never scans: it reads INFO and lim:imap and publishes the cached counts.
    const running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--redis.uri=${server.uri}/3`, '--redis.scan-interval=1h'], { log: silentLogger });
    try {
      const durations: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await (await fetch(`${running.url}/metrics`)).text();
        durations.push(performance.now() - t);
      }
      const st = stats(durations);
      console.log(`\nexporter scrape (HTTP /metrics, 200 scrapes, 1M keys): p50 ${st.p50.toFixed(2)} ms, p99 ${st.p99.toFixed(2)} ms, max ${st.max.toFixed(2)} ms`);
    } finally {
      await running.stop();
    }
  } finally {
    db.disconnect();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
