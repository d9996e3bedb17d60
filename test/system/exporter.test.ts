/**
 * The system exporter against real processes started here: `wildduck worker` and `zone-mta: sender/default`
 * titles set the way WildDuck and ZoneMTA set them (process.title), a `node <dir>/haraka -c <dir>` process
 * holding memory, burning CPU and listening on a real TCP port; and the host's own /proc and disks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/system';
import { parseCmdline } from '../../exporters/system/procfs';
import { DEFAULT_SERVICES, parseServiceSpecs } from '../../exporters/system/services';

function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(running: RunningExporter): Promise<string> {
  const res = await fetch(`${running.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Starts node with `args`; resolves with the first line it prints (it prints when it is ready). */
function startNode(args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve({ proc, line: out.split('\n')[0] });
    });
    proc.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

function titled(title: string): string[] {
  // process.title overwrites argv in place: the -e script must be longer than the title.
  return ['-e', `process.title = ${JSON.stringify(title)}; process.stdout.write('ready\\n'); setInterval(() => undefined, 60_000); // padding padding`];
}

const HARAKA_LIKE = `
const net = require('node:net');
const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1', () => {
  const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
  while (cpu() < 300_000); // 0.3 s of CPU time the exporter must see
  const held = Buffer.alloc(48 * 1024 * 1024, 1); // resident memory the exporter must see
  setInterval(() => held[0]++, 60_000);
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n');
});
`;

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('system exporter with real mail-like processes', () => {
  const children: ChildProcess[] = [];
  let running: RunningExporter | undefined;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(os.tmpdir(), 'tinomail-haraka-'));
    writeFileSync(join(dir, 'haraka'), HARAKA_LIKE);
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await Promise.all(children.splice(0).map(stopProcess));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('service processes, CPU, memory, start time and expected ports; changes show at the next scrape', async () => {
    const testStart = Date.now() / 1000;
    const workers = await Promise.all([startNode(titled('wildduck worker')), startNode(titled('wildduck worker'))]);
    const sender = await startNode(titled('zone-mta: sender/default'));
    const lookalike = await startNode([...titled('x').slice(0, 2), '/var/log/wildduck/wildduck.log']);
    const haraka = await startNode([join(dir, 'haraka'), '-c', dir]);
    children.push(...workers.map((w) => w.proc), sender.proc, lookalike.proc, haraka.proc);
    const listening = JSON.parse(haraka.line).port as number;
    const closed = await closedPort();

    // The default Haraka pattern recognises this process's real command line...
    const harakaCmdline = parseCmdline(readFileSync(`/proc/${haraka.proc.pid}/cmdline`));
    const defaults = parseServiceSpecs(DEFAULT_SERVICES.split(','));
    expect(defaults.find((s) => s.pattern.test(harakaCmdline))?.name).toBe('haraka');
    // ...but other tests may run real Haraka at the same time, so this one is counted under a pattern of its own.
    const services = [...DEFAULT_SERVICES.split(',').filter((s) => /^(wildduck|zone-mta)=/.test(s)), `haraka-test=^\\S*node\\S* ${dir}/haraka -c `];

    running = await runExporter(definition, [
      '--web.listen-address=127.0.0.1:0',
      `--system.services=${services.join(',')}`,
      `--system.ports=${listening},${closed}`,
    ], { log: silentLogger });
    let body = await scrape(running);
    expect(sample(body, 'system_up')).toBe(1);
    expect(sample(body, 'system_service_processes{service="wildduck"}')).toBe(2);
    expect(sample(body, 'system_service_processes{service="zone-mta"}')).toBe(1);
    expect(sample(body, 'system_service_processes{service="haraka-test"}')).toBe(1);
    expect(sample(body, 'system_service_cpu_seconds_total{service="haraka-test"}')).toBeGreaterThanOrEqual(0.29);
    expect(sample(body, 'system_service_resident_memory_bytes{service="haraka-test"}')).toBeGreaterThan(48 * 1024 * 1024);
    expect(sample(body, 'system_service_resident_memory_bytes{service="wildduck"}')).toBeGreaterThan(2 * 10 * 1024 * 1024);
    const started = sample(body, 'system_service_start_time_seconds{service="haraka-test"}')!;
    expect(started).toBeGreaterThan(testStart - 2);
    expect(started).toBeLessThan(Date.now() / 1000 + 1);
    expect(sample(body, `system_port_listening{port="${listening}"}`)).toBe(1);
    expect(sample(body, `system_port_listening{port="${closed}"}`)).toBe(0);
    expect(body).not.toMatch(/service="(haraka|rspamd|mongod|redis-server)"/);

    // A worker dies, and the Haraka-like process with its listener: the next scrape says so.
    await stopProcess(workers[0].proc);
    await stopProcess(haraka.proc);
    body = await scrape(running);
    expect(sample(body, 'system_service_processes{service="wildduck"}')).toBe(1);
    expect(sample(body, 'system_service_processes{service="haraka-test"}')).toBe(0);
    expect(sample(body, 'system_service_resident_memory_bytes{service="haraka-test"}')).toBe(0);
    expect(sample(body, 'system_service_start_time_seconds{service="haraka-test"}')).toBeUndefined();
    expect(sample(body, `system_port_listening{port="${listening}"}`)).toBe(0);
  });

  test('host figures: CPU, memory, a bounded set of filesystems, disks and network', async () => {
    running = await runExporter(definition, [
      '--web.listen-address=127.0.0.1:0',
      '--system.filesystem-types-exclude=^(proc|sysfs)$',
      '--system.filesystem-mounts-exclude=^/(proc|sys)($|/)',
      '--system.filesystems-max=1',
    ], { log: silentLogger });
    const body = await scrape(running);
    for (const collector of ['cpu', 'memory', 'filesystem', 'network', 'processes', 'ports']) {
      expect(sample(body, `system_scrape_collector_success{collector="${collector}"}`)).toBe(1);
    }
    expect(sample(body, 'system_cpu_seconds_total{mode="idle"}')).toBeGreaterThan(0);
    expect(sample(body, 'system_cpus')).toBe(os.cpus().length);
    expect(sample(body, 'system_memory_total_bytes')).toBe(os.totalmem());
    expect(sample(body, 'system_memory_available_bytes')).toBeLessThanOrEqual(os.totalmem());
    // One mount point of its own at most, everything else summed as "other".
    const mounts = new Set([...body.matchAll(/^system_filesystem_size_bytes\{mountpoint="([^"]*)"/gm)].map((m) => m[1]));
    expect(mounts.size).toBeGreaterThanOrEqual(1);
    expect([...mounts].filter((m) => m !== 'other').length).toBe(1);
    for (const m of body.matchAll(/^system_filesystem_size_bytes\{mountpoint="([^"]*)",fstype="([^"]*)"\} (\S+)$/gm)) {
      const used = sample(body, `system_filesystem_used_bytes{mountpoint="${m[1]}",fstype="${m[2]}"}`)!;
      expect(used).toBeLessThanOrEqual(Number(m[3]));
    }
    // 6379 (Redis) is in the default list of expected ports.
    expect(body).toMatch(/^system_port_listening\{port="6379"\} [01]$/m);
  });

  test('bad configuration is refused before anything is served', async () => {
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--system.services=wildduck'])).rejects.toThrow(/name=pattern/);
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--system.ports=25,smtp'])).rejects.toThrow(/not a port/);
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--system.filesystem-mounts-exclude=('])).rejects.toThrow(/filesystem-mounts-exclude/);
  });
});
