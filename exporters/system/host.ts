/**
 * Host-wide figures: CPU time by mode and load (/proc/stat, os.loadavg), and from systeminformation
 * memory and swap, filesystem use per mount (bounded), disk and network I/O counters.
 * systeminformation's currentLoad() reports a percentage since its own previous call, which two
 * scrapers would share; CPU is therefore exported as cumulative seconds, like node_exporter.
 */
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import si from 'systeminformation';
import { BoundedLabel, OTHER } from '../kit/labels';
import { CPU_MODES, parseProcStat } from './procfs';

export interface HostOptions {
  procfs: string;
  mountsExclude: RegExp;
  fsTypesExclude: RegExp;
  filesystemsMax: number;
  netDevicesExclude: RegExp;
  netDevicesMax: number;
  ticksPerSecond: () => number;
}

/** Sets a counter from a cumulative value read elsewhere (the source keeps the total, not us). */
function setCounter<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>>, value: number | null | undefined): void {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) counter.inc(labels, value);
}

export class HostMetrics {
  private readonly cpu: Counter<'mode'>;
  private readonly load: Gauge<'period'>;
  private readonly cpus: Gauge;
  private readonly mem: Record<'total' | 'available' | 'free' | 'cached' | 'swapTotal' | 'swapUsed', Gauge>;
  private readonly fs: Record<'size' | 'used' | 'available' | 'readonly', Gauge<'mountpoint' | 'fstype'>>;
  private readonly disk: Record<'read' | 'written' | 'reads' | 'writes', Counter>;
  private readonly net: Record<'rx' | 'tx' | 'rxErrors' | 'txErrors' | 'rxDrops' | 'txDrops', Counter<'device'>>;
  private readonly netUp: Gauge<'device'>;
  private readonly mounts: BoundedLabel;
  private readonly devices: BoundedLabel;

  constructor(
    registry: Registry,
    private readonly opts: HostOptions,
  ) {
    const registers = [registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.cpu = new Counter({ name: 'system_cpu_seconds_total', help: 'CPU time of all CPUs by mode since boot, in seconds (/proc/stat).', labelNames: ['mode'], registers });
    this.load = new Gauge({ name: 'system_load_average', help: 'Load average over 1, 5 and 15 minutes.', labelNames: ['period'], registers });
    this.cpus = gauge('system_cpus', 'Number of logical CPUs.');
    this.mem = {
      total: gauge('system_memory_total_bytes', 'Physical memory, in bytes.'),
      available: gauge('system_memory_available_bytes', 'Memory available for new work without swapping (MemAvailable), in bytes.'),
      free: gauge('system_memory_free_bytes', 'Memory not used at all, in bytes.'),
      cached: gauge('system_memory_cached_bytes', 'Memory used for buffers and page cache, in bytes.'),
      swapTotal: gauge('system_swap_total_bytes', 'Swap space, in bytes.'),
      swapUsed: gauge('system_swap_used_bytes', 'Swap space in use, in bytes.'),
    };
    const fsGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['mountpoint', 'fstype'], registers });
    this.fs = {
      size: fsGauge('system_filesystem_size_bytes', 'Size of each mounted filesystem, in bytes (mounts beyond the limit are summed as mountpoint="other").'),
      used: fsGauge('system_filesystem_used_bytes', 'Space used on each mounted filesystem, in bytes.'),
      available: fsGauge('system_filesystem_available_bytes', 'Space available to unprivileged users on each mounted filesystem, in bytes.'),
      readonly: fsGauge('system_filesystem_readonly', 'Whether each filesystem is mounted read-only (1) or read-write (0).'),
    };
    this.disk = {
      read: counter('system_disk_read_bytes_total', 'Bytes read from all disks since boot.'),
      written: counter('system_disk_written_bytes_total', 'Bytes written to all disks since boot.'),
      reads: counter('system_disk_reads_completed_total', 'Read operations completed by all disks since boot.'),
      writes: counter('system_disk_writes_completed_total', 'Write operations completed by all disks since boot.'),
    };
    const netCounter = (name: string, help: string) => new Counter({ name, help, labelNames: ['device'], registers });
    this.net = {
      rx: netCounter('system_network_receive_bytes_total', 'Bytes received per network device since boot.'),
      tx: netCounter('system_network_transmit_bytes_total', 'Bytes sent per network device since boot.'),
      rxErrors: netCounter('system_network_receive_errors_total', 'Receive errors per network device since boot.'),
      txErrors: netCounter('system_network_transmit_errors_total', 'Transmit errors per network device since boot.'),
      rxDrops: netCounter('system_network_receive_drops_total', 'Received packets dropped per network device since boot.'),
      txDrops: netCounter('system_network_transmit_drops_total', 'Packets to send dropped per network device since boot.'),
    };
    this.netUp = new Gauge({ name: 'system_network_up', help: 'Whether each network device is up (1) or not (0).', labelNames: ['device'], registers });
    this.mounts = new BoundedLabel(opts.filesystemsMax, /^\/[^\s"]{0,200}$/);
    this.devices = new BoundedLabel(opts.netDevicesMax);
  }

  async collectCpu(): Promise<void> {
    this.cpu.reset();
    const stat = parseProcStat(await readFile(join(this.opts.procfs, 'stat'), 'utf8'));
    const hz = this.opts.ticksPerSecond();
    for (const mode of CPU_MODES) setCounter(this.cpu, { mode }, (stat.cpuTicks[mode] ?? NaN) / hz);
    const [l1, l5, l15] = os.loadavg();
    this.load.set({ period: '1m' }, l1);
    this.load.set({ period: '5m' }, l5);
    this.load.set({ period: '15m' }, l15);
    this.cpus.set(os.cpus().length);
  }

  async collectMemory(): Promise<void> {
    const m = await si.mem();
    this.mem.total.set(m.total);
    this.mem.available.set(m.available);
    this.mem.free.set(m.free);
    this.mem.cached.set(m.buffcache);
    this.mem.swapTotal.set(m.swaptotal);
    this.mem.swapUsed.set(m.swapused);
  }

  async collectFilesystems(): Promise<void> {
    const sums = new Map<string, { fstype: string; size: number; used: number; available: number; readonly: number }>();
    for (const f of await si.fsSize()) {
      if (this.opts.mountsExclude.test(f.mount) || this.opts.fsTypesExclude.test(f.type)) continue;
      const mountpoint = this.mounts.value(f.mount);
      const entry = sums.get(mountpoint) ?? { fstype: mountpoint === OTHER ? OTHER : f.type, size: 0, used: 0, available: 0, readonly: 0 };
      entry.size += f.size;
      entry.used += f.used;
      entry.available += f.available;
      entry.readonly = Math.max(entry.readonly, f.rw === false ? 1 : 0);
      sums.set(mountpoint, entry);
    }
    for (const g of Object.values(this.fs)) g.reset();
    for (const [mountpoint, e] of sums) {
      const labels = { mountpoint, fstype: e.fstype };
      this.fs.size.set(labels, e.size);
      this.fs.used.set(labels, e.used);
      this.fs.available.set(labels, e.available);
      this.fs.readonly.set(labels, e.readonly);
    }
  }

  async collectDiskIo(): Promise<void> {
    const [bytes, ops] = await Promise.all([si.fsStats(), si.disksIO()]);
    for (const c of Object.values(this.disk)) c.remove();
    // No block devices visible (some containers): say so instead of exporting zeros.
    if (typeof bytes?.rx !== 'number' || typeof ops?.rIO !== 'number') throw new Error('no disk statistics available');
    setCounter(this.disk.read, {}, bytes?.rx);
    setCounter(this.disk.written, {}, bytes?.wx);
    setCounter(this.disk.reads, {}, ops?.rIO);
    setCounter(this.disk.writes, {}, ops?.wIO);
  }

  async collectNetwork(): Promise<void> {
    const stats = await si.networkStats('*');
    for (const c of [...Object.values(this.net), this.netUp]) c.reset();
    for (const s of stats) {
      if (this.opts.netDevicesExclude.test(s.iface)) continue;
      const device = this.devices.value(s.iface);
      setCounter(this.net.rx, { device }, s.rx_bytes);
      setCounter(this.net.tx, { device }, s.tx_bytes);
      setCounter(this.net.rxErrors, { device }, s.rx_errors);
      setCounter(this.net.txErrors, { device }, s.tx_errors);
      setCounter(this.net.rxDrops, { device }, s.rx_dropped);
      setCounter(this.net.txDrops, { device }, s.tx_dropped);
      if (device !== OTHER) this.netUp.set({ device }, s.operstate === 'up' ? 1 : 0);
    }
  }
}
