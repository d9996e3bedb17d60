/**
 * `npx tsx bench/system.ts`: scrape duration of the system exporter, on this host as it is and with 300
 * more processes (100 of them titled `wildduck worker`), against the baseline of an HTTP round trip to
 * the same exporter's /-/healthy in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { silentLogger } from '../exporters/kit/log';
import { runExporter, type RunningExporter } from '../exporters/kit/run';
import { definition } from '../exporters/system';

const SCRAPES = 100;

async function timeRequests(url: string, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch(url)).text();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b);
}

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function measure(label: string, running: RunningExporter): Promise<void> {
  await timeRequests(`${running.url}/metrics`, 3); // warm-up: systeminformation's first calls probe the host
  const health = await timeRequests(`${running.url}/-/healthy`, SCRAPES);
  const scrape = await timeRequests(`${running.url}/metrics`, SCRAPES);
  const body = await (await fetch(`${running.url}/metrics`)).text();
  const collectors = [...body.matchAll(/^system_scrape_collector_duration_seconds\{collector="([^"]+)"\} (\S+)$/gm)]
    .map((m) => `${m[1]} ${(Number(m[2]) * 1000).toFixed(1)}`)
    .join(', ');
  console.log(`\n${label}`);
  console.log(`  /-/healthy baseline: p50 ${q(health, 0.5).toFixed(2)} ms  p99 ${q(health, 0.99).toFixed(2)} ms`);
  console.log(`  /metrics scrape:     p50 ${q(scrape, 0.5).toFixed(2)} ms  p99 ${q(scrape, 0.99).toFixed(2)} ms  max ${scrape[scrape.length - 1].toFixed(2)} ms  (p50 x${(q(scrape, 0.5) / q(health, 0.5)).toFixed(1)} the baseline)`);
  console.log(`  last scrape by collector (ms): ${collectors}`);
}

function sleeper(argv0: string): ChildProcess {
  // `exec -a` sets argv[0], so /proc/<pid>/cmdline reads like a titled daemon.
  return spawn('bash', ['-c', `exec -a ${JSON.stringify(argv0)} sleep 600`], { stdio: 'ignore' });
}

async function main(): Promise<void> {
  const processCount = () => require('node:fs').readdirSync('/proc').filter((d: string) => /^\d+$/.test(d)).length;
  console.log(`host: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
  const extra: ChildProcess[] = [];
  try {
    await measure(`this host as it is (${processCount()} processes)`, running);
    for (let i = 0; i < 300; i++) extra.push(sleeper(i < 100 ? 'wildduck worker' : `idle-${i}`));
    await new Promise((r) => setTimeout(r, 500)); // let bash exec into sleep
    await measure(`with 300 more processes, 100 titled "wildduck worker" (${processCount()} processes)`, running);
    const body = await (await fetch(`${running.url}/metrics`)).text();
    console.log(`  ${body.match(/^system_service_processes\{service="wildduck"\} .*$/m)?.[0]}`);
  } finally {
    for (const p of extra) p.kill('SIGKILL');
    await running.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
