/**
 * `tinomail-monitor system`: the host and the mail services on it (processes, CPU, memory, expected
 * listening ports). Linux: per-service figures and ports come from /proc. See docs/system.md.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exporter, ExporterContext, ExporterDefinition, ScrapeContext } from '../kit/exporter';
import { CollectorRunner } from '../kit/collectors';
import { FlagError, positiveFlag, type FlagSpec } from '../kit/flags';
import { HostMetrics } from './host';
import { parseProcStat, systemConstants } from './procfs';
import { DEFAULT_PORTS, DEFAULT_SERVICES, parsePorts, parseServiceSpecs, ServiceMetrics } from './services';

const FLAGS: FlagSpec[] = [
  { name: 'system.services', type: 'list', default: DEFAULT_SERVICES, help: 'Mail services as name=regex over the process command line (or title), comma-separated; a process counts for the first match.' },
  { name: 'system.ports', type: 'list', default: DEFAULT_PORTS, help: 'TCP ports expected to listen on this host, comma-separated.' },
  { name: 'system.procfs', type: 'string', default: '/proc', help: 'Mount point of the host\'s /proc (e.g. /host/proc in a container).' },
  { name: 'system.filesystems-max', type: 'int', default: '16', help: 'At most this many mount points get their own label; the rest are summed as mountpoint="other".' },
  { name: 'system.filesystem-mounts-exclude', type: 'string', default: '^/(dev|proc|sys|run|snap|boot/efi|var/lib/docker|var/lib/containers|var/lib/kubelet)($|/)', help: 'Regex of mount points to leave out.' },
  { name: 'system.filesystem-types-exclude', type: 'string', default: '^(tmpfs|devtmpfs|ramfs|overlay|squashfs|iso9660|autofs|proc|sysfs|cgroup2?|nsfs|tracefs|fuse\\..*)$', help: 'Regex of filesystem types to leave out.' },
  { name: 'system.network-devices-max', type: 'int', default: '16', help: 'At most this many network devices get their own label; the rest are summed as device="other".' },
  { name: 'system.network-devices-exclude', type: 'string', default: '^(lo|veth.*|docker.*|br-.*|virbr.*|cali.*|flannel.*)$', help: 'Regex of network devices to leave out.' },
];

function regexFlag(ctx: ExporterContext, name: string): RegExp {
  try {
    return new RegExp(ctx.flags[name] as string);
  } catch (err) {
    throw new FlagError(`--${name}: ${(err as Error).message}`);
  }
}

const positive = (ctx: ExporterContext, name: string): number => positiveFlag(ctx.flags, name);

class SystemExporter implements Exporter {
  private readonly runner: CollectorRunner;
  private constants: { ticksPerSecond: number; pageSize: number } | undefined;
  private bootTime: number | undefined;

  constructor(ctx: ExporterContext) {
    const procfs = ctx.flags['system.procfs'] as string;
    // Read lazily: creating the exporter (e.g. for docs/metrics.md) runs no command.
    const constants = () => (this.constants ??= systemConstants());
    const host = new HostMetrics(ctx.registry, {
      procfs,
      mountsExclude: regexFlag(ctx, 'system.filesystem-mounts-exclude'),
      fsTypesExclude: regexFlag(ctx, 'system.filesystem-types-exclude'),
      filesystemsMax: positive(ctx, 'system.filesystems-max'),
      netDevicesExclude: regexFlag(ctx, 'system.network-devices-exclude'),
      netDevicesMax: positive(ctx, 'system.network-devices-max'),
      ticksPerSecond: () => constants().ticksPerSecond,
    });
    const services = new ServiceMetrics(
      ctx.registry,
      parseServiceSpecs(ctx.flags['system.services'] as string[]),
      parsePorts(ctx.flags['system.ports'] as string[]),
      procfs,
      () => ({ ...constants(), bootTime: () => this.readBootTime(procfs) }),
    );
    this.runner = new CollectorRunner(
      'system',
      ctx.registry,
      [
        { name: 'cpu', collect: () => host.collectCpu() },
        { name: 'memory', collect: () => host.collectMemory() },
        { name: 'filesystem', collect: () => host.collectFilesystems() },
        { name: 'diskio', collect: () => host.collectDiskIo() },
        { name: 'network', collect: () => host.collectNetwork() },
        { name: 'processes', collect: () => services.collectProcesses() },
        { name: 'ports', collect: () => services.collectPorts() },
      ],
      ctx.log,
    );
  }

  private async readBootTime(procfs: string): Promise<number | undefined> {
    this.bootTime ??= parseProcStat(await readFile(join(procfs, 'stat'), 'utf8')).bootTime;
    return this.bootTime;
  }

  /** The target is the host we run on: always up; each collector reports its own success. */
  async scrape(ctx: ScrapeContext): Promise<boolean> {
    await this.runner.run(ctx);
    return true;
  }
}

export const definition: ExporterDefinition = {
  name: 'system',
  description: 'The mail host: CPU, memory, filesystems, disk and network I/O, mail service processes and listening ports',
  defaultPort: 9745,
  target: (f) => `this host, through ${String(f['system.procfs'])}`,
  flags: FLAGS,
  create: (ctx) => new SystemExporter(ctx),
};
