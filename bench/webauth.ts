/**
 * `npm run bench webauth`: basic auth under a flood of wrong passwords.
 * 1. Latency of a legitimate scrape (cached credentials) while 30 clients send wrong passwords, against a server
 *    in its own process: before (bcrypt inline on the event loop, no bound: the kit until now, measured in this
 *    run as the baseline) and after (the kit's BasicAuth: worker pool, bounded verifications, cache).
 * 2. Unknown user vs known user with a wrong password: before (the old constant dummy hash, compared inline)
 *    and after (through the server: a real hash of the users' cost). A ratio near 1 leaks nothing.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';

const COST = 10;
const FLOOD_CLIENTS = 30;
const FLOOD_MS = 6000;
const TIMING_SAMPLES = 20;
const HASH = bcrypt.hashSync('s3cret', COST);
const OLD_DUMMY = '$2b$10$invalidinvalidinvalidinuOJX1l9C1Xw1vpxjDZrxcmnm9M7v7o.';

const auth = (user: string, password: string) => ({ authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') });

async function server(mode: 'inline' | 'pool'): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '_webauth-server.ts'), mode, HASH], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    stop: () =>
      new Promise((done) => {
        child.once('exit', () => done());
        child.stdin.end('stop\n');
      }),
  };
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function timed(url: string, headers: Record<string, string>): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return { ms: performance.now() - t0, status: res.status };
}

async function flood(mode: 'inline' | 'pool') {
  const s = await server(mode);
  try {
    if ((await timed(s.url, auth('prometheus', 's3cret'))).status !== 200) throw new Error('the legitimate client is refused');
    let running = true;
    const statuses: Record<number, number> = {};
    const attackers = Array.from({ length: FLOOD_CLIENTS }, async (_, i) => {
      for (let n = 0; running; n++) {
        const r = await timed(s.url, auth('prometheus', `guess-${i}-${n}`)).catch(() => ({ status: 0, ms: 0 }));
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 429) await new Promise((ok) => setTimeout(ok, 10)); // a client told to wait a moment
      }
    });
    const latencies: number[] = [];
    const end = Date.now() + FLOOD_MS;
    while (Date.now() < end) {
      const r = await timed(s.url, auth('prometheus', 's3cret'));
      if (r.status !== 200) throw new Error(`legitimate scrape answered ${r.status}`);
      latencies.push(r.ms);
      await new Promise((ok) => setTimeout(ok, 100));
    }
    running = false;
    await Promise.all(attackers);
    return { latencies, statuses };
  } finally {
    await s.stop();
  }
}

async function userTiming(): Promise<{ before: number; after: number }> {
  const median = async (fn: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < TIMING_SAMPLES; i++) {
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
    return quantile(ms, 0.5);
  };
  const beforeUnknown = await median(() => bcrypt.compare('guess', OLD_DUMMY));
  const beforeKnown = await median(() => bcrypt.compare('guess', HASH));
  const s = await server('pool');
  try {
    await timed(s.url, auth('nobody', 'warm-up')); // the dummy hash is made at start
    const afterUnknown = await median(() => timed(s.url, auth('nobody', 'guess')));
    const afterKnown = await median(() => timed(s.url, auth('prometheus', 'guess')));
    console.log(`unknown user vs known user with a wrong password (median of ${TIMING_SAMPLES}, cost ${COST}):`);
    console.log(`  before (old dummy hash, inline): unknown ${beforeUnknown.toFixed(1)} ms, known ${beforeKnown.toFixed(1)} ms, ratio ${(beforeUnknown / beforeKnown).toFixed(3)}`);
    console.log(`  after  (real hash, through the server): unknown ${afterUnknown.toFixed(1)} ms, known ${afterKnown.toFixed(1)} ms, ratio ${(afterUnknown / afterKnown).toFixed(3)}`);
    return { before: beforeUnknown / beforeKnown, after: afterUnknown / afterKnown };
  } finally {
    await s.stop();
  }
}

void (async () => {
  console.log(`legitimate scrape latency during a flood of wrong passwords by ${FLOOD_CLIENTS} clients (${FLOOD_MS / 1000} s, bcrypt cost ${COST}):`);
  const results: Record<string, number> = {};
  for (const mode of ['inline', 'pool'] as const) {
    const { latencies, statuses } = await flood(mode);
    const [p50, p95, max] = [quantile(latencies, 0.5), quantile(latencies, 0.95), Math.max(...latencies)];
    results[mode] = p95;
    const label = mode === 'inline' ? 'before (inline bcrypt, baseline)' : 'after (worker pool, bounded, cached)';
    console.log(
      `  ${label}: ${latencies.length} scrapes, p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${max.toFixed(1)} ms; flood answers ${JSON.stringify(statuses)}`,
    );
  }
  console.log(`  p95 after / before: ${(results.pool! / results.inline!).toFixed(3)}`);
  await userTiming();
})();
