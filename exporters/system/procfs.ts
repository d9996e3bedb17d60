/**
 * Linux /proc: pure parsers (tested on literal file contents) and the readers that feed them.
 * systeminformation has no cumulative per-process CPU time and no cheap listening-port list, so the
 * per-service and port collectors read /proc directly, as node_exporter and process-exporter do.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `/proc/<pid>/cmdline`: NUL-separated argv (or a process.title padded with NULs) -> one line. */
export function parseCmdline(raw: Buffer | string): string {
  return raw.toString().replace(/\0+$/, '').replace(/\0/g, ' ').trim();
}

export interface PidStat {
  /** User + system CPU time, in clock ticks. */
  cpuTicks: number;
  /** Start time after boot, in clock ticks. */
  startTicks: number;
  /** Resident set size, in pages. */
  rssPages: number;
}

/** `/proc/<pid>/stat`. The command name may hold spaces and parentheses, so fields count from the last `)`. */
export function parsePidStat(text: string): PidStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // rest[0] is field 3 (state): field n is rest[n - 3].
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const [utime, stime, start, rss] = [rest[11], rest[12], rest[19], rest[21]].map(Number);
  if (![utime, stime, start, rss].every(Number.isFinite)) return undefined;
  return { cpuTicks: utime + stime, startTicks: start, rssPages: rss };
}

export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/** `/proc/stat`: the aggregate `cpu` line (ticks per mode) and `btime` (boot time, Unix seconds). */
export function parseProcStat(text: string): { cpuTicks: Partial<Record<CpuMode, number>>; bootTime?: number } {
  const out: { cpuTicks: Partial<Record<CpuMode, number>>; bootTime?: number } = { cpuTicks: {} };
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'cpu') {
      CPU_MODES.forEach((mode, i) => {
        const n = Number(parts[i + 1]);
        if (parts[i + 1] !== undefined && Number.isFinite(n)) out.cpuTicks[mode] = n;
      });
    } else if (parts[0] === 'btime' && Number.isFinite(Number(parts[1]))) {
      out.bootTime = Number(parts[1]);
    }
  }
  return out;
}

/** `/proc/net/tcp` or `/proc/net/tcp6`: the local ports in state LISTEN (0A), any address. */
export function parseListeningPorts(text: string): Set<number> {
  const ports = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st ...   e.g. "0: 00000000:0019 00000000:0000 0A ..."
    const parts = line.trim().split(/\s+/);
    if (parts.length < 4 || parts[3] !== '0A') continue;
    const port = parseInt(parts[1].split(':').pop() ?? '', 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

export interface ProcessSample {
  pid: number;
  cmdline: string;
  stat: PidStat;
}

/**
 * Every process whose command line matches one of `wanted`, with its /proc/<pid>/stat. Processes that
 * exit while we read are skipped; so are kernel threads (empty command line) and `exclude` (ourselves).
 */
export async function readProcesses(procfs: string, wanted: (cmdline: string) => boolean, exclude: number): Promise<ProcessSample[]> {
  const pids = (await readdir(procfs)).filter((d) => /^\d+$/.test(d) && Number(d) !== exclude);
  const samples = await Promise.all(
    pids.map(async (pid): Promise<ProcessSample | undefined> => {
      try {
        const cmdline = parseCmdline(await readFile(join(procfs, pid, 'cmdline')));
        if (cmdline === '' || !wanted(cmdline)) return undefined;
        const stat = parsePidStat(await readFile(join(procfs, pid, 'stat'), 'utf8'));
        return stat && { pid: Number(pid), cmdline, stat };
      } catch {
        return undefined; // gone between readdir and read, or not ours to read
      }
    }),
  );
  return samples.filter((s): s is ProcessSample => s !== undefined);
}

/** Ports listening on TCP over IPv4 and IPv6 in this network namespace. */
export async function readListeningPorts(procfs: string): Promise<Set<number>> {
  const ports = new Set<number>();
  let read = 0;
  for (const file of ['net/tcp', 'net/tcp6']) {
    try {
      for (const p of parseListeningPorts(await readFile(join(procfs, file), 'utf8'))) ports.add(p);
      read++;
    } catch {
      // no IPv6 in this kernel: tcp alone is the answer
    }
  }
  if (read === 0) throw new Error(`cannot read ${join(procfs, 'net/tcp')}`);
  return ports;
}

/** USER_HZ and the page size, from getconf; the values every common Linux uses when it is missing. */
export function systemConstants(): { ticksPerSecond: number; pageSize: number } {
  const getconf = (name: string, fallback: number): number => {
    try {
      const n = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return n > 0 ? n : fallback;
    } catch {
      return fallback;
    }
  };
  return { ticksPerSecond: getconf('CLK_TCK', 100), pageSize: getconf('PAGESIZE', 4096) };
}
