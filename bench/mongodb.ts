/**
 * `npx tsx bench/mongodb.ts`: scrape duration of the mongodb exporter.
 *
 * No mongod runs here: the target is the wire-protocol mock of the tests (test/mongodb/mock-mongod.ts), in
 * a process of its own (bench/_mongodb-mock.ts), answering like MongoDB 7.0 but evaluating the queue
 * pipelines in JavaScript by scanning its documents. The figures show what the exporter costs on top of
 * network round trips (baseline: a driver `ping` in the same run; exporter CPU per scrape from this process,
 * which holds only the exporter) and how a scrape grows with the queue; they do not tell how long a real
 * mongod takes for the indexed queries.
 *
 * Options: --scrapes=N (default 100), --queue=N,N (queue sizes, default 0,1000,10000).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { silentLogger } from '../exporters/kit/log';
import { runExporter } from '../exporters/kit/run';
import { COLLECTORS, definition } from '../exporters/mongodb';

const arg = (name: string, def: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const SCRAPES = Number(arg('scrapes', '100'));
const QUEUE_SIZES = arg('queue', '0,1000,10000').split(',').map(Number);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samples: number[]): { p50: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

/** Starts the mock mongod with `queueSize` queue entries in its own process; resolves to its URI and a stop(). */
async function startMock(queueSize: number): Promise<{ uri: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '_mongodb-mock.ts'), String(queueSize)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return {
    uri: `mongodb://127.0.0.1:${Number(String(line).trim())}/`,
    async stop() {
      child.stdin!.end();
      await once(child, 'exit');
    },
  };
}

async function pingBaseline(uri: string): Promise<number[]> {
  const client = new MongoClient(uri, { directConnection: true });
  const admin = client.db('admin');
  await admin.command({ ping: 1 });
  const samples: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    await admin.command({ ping: 1 });
    samples.push(performance.now() - t0);
  }
  await client.close();
  return samples;
}

async function scrapeSamples(uri: string, collectors: string): Promise<{ wall: number[]; perCollector: Map<string, number[]>; cpuMsPerScrape: number }> {
  const running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--mongodb.uri=${uri}`, `--mongodb.collectors=${collectors}`], {
    log: silentLogger,
    env: {},
  });
  const wall: number[] = [];
  const perCollector = new Map<string, number[]>();
  await (await fetch(`${running.url}/metrics`)).text(); // connect and warm up
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    const text = await (await fetch(`${running.url}/metrics`)).text();
    wall.push(performance.now() - t0);
    if (!/^mongodb_up 1$/m.test(text)) throw new Error('scrape did not reach the mock mongod');
    for (const m of text.matchAll(/^mongodb_scrape_collector_duration_seconds\{collector="(\w+)"\} (\S+)$/gm)) {
      perCollector.set(m[1], [...(perCollector.get(m[1]) ?? []), Number(m[2]) * 1000]);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  await running.stop();
  return { wall, perCollector, cpuMsPerScrape: (cpu.user + cpu.system) / 1000 / SCRAPES };
}

async function main(): Promise<void> {
  console.log(`mongodb exporter scrape duration, ${SCRAPES} scrapes per row; target: mock mongod (MongoDB 7.0 replies) in its own process`);
  let pingP50 = 0;
  let firstP50 = 0;
  for (const size of QUEUE_SIZES) {
    const mongod = await startMock(size);
    if (!pingP50) {
      const ping = summary(await pingBaseline(mongod.uri));
      pingP50 = ping.p50;
      console.log(`baseline: driver ping round trip p50 ${fmt(ping.p50)}, p95 ${fmt(ping.p95)}`);
    }
    const { wall, perCollector, cpuMsPerScrape } = await scrapeSamples(mongod.uri, COLLECTORS.join(','));
    const s = summary(wall);
    firstP50 ||= s.p50;
    const collectors = [...perCollector].map(([name, v]) => `${name} ${fmt(summary(v).p50)}`).join(', ');
    console.log(
      `queue ${String(size).padStart(6)} recipients: scrape p50 ${fmt(s.p50)}, p95 ${fmt(s.p95)} ` +
        `(${(s.p50 / pingP50).toFixed(1)}x ping, ${(s.p50 / firstP50).toFixed(2)}x the first row); ` +
        `exporter CPU ${fmt(cpuMsPerScrape)}/scrape; collectors p50: ${collectors}`,
    );
    await mongod.stop();
  }
  const mongod = await startMock(0);
  const server = await scrapeSamples(mongod.uri, 'server');
  const s = summary(server.wall);
  console.log(`server collector alone (one serverStatus): scrape p50 ${fmt(s.p50)} (${(s.p50 / pingP50).toFixed(1)}x ping), exporter CPU ${fmt(server.cpuMsPerScrape)}/scrape`);
  await mongod.stop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
