/**
 * The mail services on this host, each found by a pattern over its command line, and the ports they
 * are expected to listen on. Service names and ports come from configuration, so labels stay bounded.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { FlagError } from '../kit/flags';
import { readListeningPorts, readProcesses, type ProcessSample } from './procfs';

/**
 * Patterns match the whole command line (argv joined by spaces, or the process title a daemon sets):
 * WildDuck titles itself `wildduck master|worker` (config `ident`), ZoneMTA `zone-mta: master process`,
 * `zone-mta: sender/<zone>`, Rspamd `rspamd: <worker> process`; Haraka keeps `node .../haraka -c <dir>`.
 */
export const DEFAULT_SERVICES = [
  'wildduck=^wildduck( |$)',
  'haraka=^(\\S*/)?node\\S* (\\S*/)?haraka(\\.js)?( |$)',
  'zone-mta=^zone-mta: ',
  'rspamd=^rspamd: |^(\\S*/)?rspamd( |$)',
  'mongod=^(\\S*/)?mongod( |$)',
  'redis-server=^(\\S*/)?redis-server( |$)',
].join(',');

export const DEFAULT_PORTS = '25,465,587,143,993,110,995,8080,12080,11333,27017,6379';

export interface ServiceSpec {
  name: string;
  pattern: RegExp;
}

/** `name=regex` entries; a bad name or pattern is a FlagError naming it. */
export function parseServiceSpecs(entries: string[]): ServiceSpec[] {
  const specs = entries.map((entry) => {
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq) : '';
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) throw new FlagError(`--system.services: "${entry}" is not name=pattern`);
    try {
      return { name, pattern: new RegExp(entry.slice(eq + 1)) };
    } catch (err) {
      throw new FlagError(`--system.services: pattern of ${name}: ${(err as Error).message}`);
    }
  });
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new FlagError('--system.services: a service name appears twice');
  return specs;
}

export function parsePorts(entries: string[]): number[] {
  return [...new Set(entries.map((p) => {
    const port = Number(p);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FlagError(`--system.ports: "${p}" is not a port`);
    return port;
  }))];
}

export interface ServiceUsage {
  processes: number;
  cpuTicks: number;
  rssPages: number;
  oldestStartTicks?: number;
}

/** Sums processes per service; a process counts for the first service whose pattern matches. */
export function usageByService(specs: ServiceSpec[], processes: ProcessSample[]): Map<string, ServiceUsage> {
  const usage = new Map<string, ServiceUsage>(specs.map((s) => [s.name, { processes: 0, cpuTicks: 0, rssPages: 0 }]));
  for (const p of processes) {
    const spec = specs.find((s) => s.pattern.test(p.cmdline));
    if (!spec) continue;
    const u = usage.get(spec.name)!;
    u.processes += 1;
    u.cpuTicks += p.stat.cpuTicks;
    u.rssPages += p.stat.rssPages;
    u.oldestStartTicks = Math.min(u.oldestStartTicks ?? Infinity, p.stat.startTicks);
  }
  return usage;
}

export class ServiceMetrics {
  private readonly processes: Gauge<'service'>;
  private readonly cpu: Counter<'service'>;
  private readonly rss: Gauge<'service'>;
  private readonly started: Gauge<'service'>;
  private readonly listening: Gauge<'port'>;

  constructor(
    registry: Registry,
    private readonly specs: ServiceSpec[],
    private readonly ports: number[],
    private readonly procfs: string,
    private readonly constants: () => { ticksPerSecond: number; pageSize: number; bootTime: () => Promise<number | undefined> },
  ) {
    const registers = [registry];
    this.processes = new Gauge({ name: 'system_service_processes', help: 'Processes of each mail service running now (matched by command-line pattern).', labelNames: ['service'], registers });
    this.cpu = new Counter({ name: 'system_service_cpu_seconds_total', help: 'CPU time (user + system) used by the running processes of each mail service, in seconds.', labelNames: ['service'], registers });
    this.rss = new Gauge({ name: 'system_service_resident_memory_bytes', help: 'Resident memory of the running processes of each mail service, in bytes.', labelNames: ['service'], registers });
    this.started = new Gauge({ name: 'system_service_start_time_seconds', help: 'Unix time the oldest running process of each mail service started (changes on restart).', labelNames: ['service'], registers });
    this.listening = new Gauge({ name: 'system_port_listening', help: 'Whether something listens on each expected TCP port on this host (1) or not (0).', labelNames: ['port'], registers });
  }

  async collectProcesses(): Promise<void> {
    const samples = await readProcesses(this.procfs, (cmd) => this.specs.some((s) => s.pattern.test(cmd)), process.pid);
    const { ticksPerSecond, pageSize, bootTime } = this.constants();
    const boot = await bootTime();
    // Counters are set from /proc at each scrape: clear first, so a vanished service does not keep old labels.
    for (const m of [this.processes, this.cpu, this.rss, this.started]) m.reset();
    for (const [service, u] of usageByService(this.specs, samples)) {
      this.processes.set({ service }, u.processes);
      this.cpu.inc({ service }, u.cpuTicks / ticksPerSecond);
      this.rss.set({ service }, u.rssPages * pageSize);
      if (u.oldestStartTicks !== undefined && boot !== undefined) this.started.set({ service }, boot + u.oldestStartTicks / ticksPerSecond);
    }
  }

  async collectPorts(): Promise<void> {
    const open = await readListeningPorts(this.procfs);
    for (const port of this.ports) this.listening.set({ port: String(port) }, open.has(port) ? 1 : 0);
  }
}
