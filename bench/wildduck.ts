/**
 * `npx tsx bench/wildduck.ts [users...]` (default 100000 1000000): the wildduck exporter's crawl of users
 * from a fake WildDuck API that makes each page on the fly (test/wildduck/fake-wildduck.ts), against a
 * baseline measured in the same run: collecting all users first, then aggregating.
 *
 * The fake API runs in this process; every crawl runs in a child process of its own, so each peak RSS
 * (getrusage maxrss) belongs to that crawl alone. Streaming aggregation must keep peak RSS flat as users grow.
 */
import { spawn } from 'node:child_process';
import { UserAggregator } from '../exporters/wildduck/aggregate';
import { WildDuckClient } from '../exporters/wildduck/client';
import { crawl, MAX_PAGE_SIZE } from '../exporters/wildduck/crawl';
import { FakeWildDuck, mixedUsers } from '../test/wildduck/fake-wildduck';

const OPTIONS = { pageSize: MAX_PAGE_SIZE, topDomains: 20, maxTrackedDomains: 10_000 };

interface Figures {
  mode: 'streaming' | 'collect-all';
  users: number;
  seconds: number;
  requests: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
  /** Heap still in use (after a full GC) once every user has been read, less the heap at start. */
  heldHeapBytes: number;
}

/** Heap in use after a full GC (children run with --expose-gc). */
function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/** In the child: one crawl, figures as JSON on stdout. */
async function child(mode: Figures['mode'], url: string, expectedUsers: number): Promise<void> {
  const heapBefore = heapAfterGc();
  const rssBeforeBytes = process.memoryUsage.rss();
  const lastPage = Math.ceil(expectedUsers / OPTIONS.pageSize);
  let heldHeapBytes = 0;
  let requests = 0;
  const client = new WildDuckClient({ url, token: '', timeoutMs: 30_000, retries: 0, onRequest: () => requests++ });
  const signal = new AbortController().signal;
  const t0 = performance.now();
  let users: number;
  if (mode === 'streaming') {
    // Measured on the last page, while the aggregator still holds its state (one GC, after the peak).
    const onPage = (pages: number) => void (pages === lastPage && (heldHeapBytes = heapAfterGc() - heapBefore));
    users = (await crawl(client, OPTIONS, signal, onPage)).users.users;
  } else {
    // The baseline: every user in memory first, then one pass over them.
    const all: unknown[] = [];
    let cursor: string | false = false;
    do {
      const page = await client.getListing(`/users?limit=${OPTIONS.pageSize}${cursor ? `&next=${cursor}` : ''}`, signal);
      all.push(...page.results);
      cursor = page.nextCursor;
    } while (cursor);
    heldHeapBytes = heapAfterGc() - heapBefore;
    const aggregator = new UserAggregator(OPTIONS.topDomains, OPTIONS.maxTrackedDomains);
    for (const user of all) aggregator.add(user);
    users = aggregator.result().users;
  }
  const seconds = (performance.now() - t0) / 1000;
  await client.close();
  const figures: Figures = { mode, users, seconds, requests, rssBeforeBytes, peakRssBytes: process.resourceUsage().maxRSS * 1024, heldHeapBytes };
  process.stdout.write(JSON.stringify(figures) + '\n');
}

function runChild(mode: Figures['mode'], url: string, users: number): Promise<Figures> {
  // Asynchronous, so this process keeps serving the fake API while the child crawls.
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--child', mode, url, String(users)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Figures) : reject(new Error(`crawl child exited with ${code}`))));
  });
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  if (!sizes.length) sizes.push(100_000, 1_000_000);
  const fake = new FakeWildDuck({ users: mixedUsers(0), addresses: 1, domainAliases: 1, webhooks: 1 });
  const url = await fake.start();
  const results: Figures[] = [];
  try {
    for (const users of sizes) {
      fake.options.users = mixedUsers(users);
      for (const mode of ['streaming', 'collect-all'] as const) {
        const f = await runChild(mode, url, users);
        if (f.users !== users) throw new Error(`${mode} crawl counted ${f.users} users, expected ${users}`);
        results.push(f);
        console.log(
          `${mode.padEnd(11)} ${String(users).padStart(9)} users  ${f.seconds.toFixed(2).padStart(7)} s  ${String(f.requests).padStart(5)} requests  ` +
            `${Math.round(users / f.seconds).toString().padStart(7)} users/s  peak RSS ${mib(f.peakRssBytes).padStart(6)} MiB (at start ${mib(f.rssBeforeBytes)})  ` +
            `heap held ${mib(f.heldHeapBytes).padStart(6)} MiB`,
        );
      }
    }
  } finally {
    await fake.stop();
  }
  const of = (mode: Figures['mode'], users: number) => results.find((r) => r.mode === mode && r.users === users)!;
  const [small, large] = [sizes[0], sizes[sizes.length - 1]];
  console.log('');
  for (const users of sizes) {
    const s = of('streaming', users);
    const c = of('collect-all', users);
    console.log(
      `${users} users: streaming vs collect-all: peak RSS ${(s.peakRssBytes / c.peakRssBytes).toFixed(2)}x, heap held ${(s.heldHeapBytes / c.heldHeapBytes).toFixed(3)}x, time ${(s.seconds / c.seconds).toFixed(2)}x`,
    );
  }
  if (large !== small) {
    for (const mode of ['streaming', 'collect-all'] as const) {
      const rss = of(mode, large).peakRssBytes / of(mode, small).peakRssBytes;
      const held = of(mode, large).heldHeapBytes / of(mode, small).heldHeapBytes;
      console.log(`${mode}: from ${small} to ${large} users, peak RSS ${rss.toFixed(2)}x, heap held ${held.toFixed(2)}x`);
    }
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as Figures['mode'], process.argv[4], Number(process.argv[5])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
