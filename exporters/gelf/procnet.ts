/**
 * Datagrams the kernel dropped for our UDP socket (receive buffer full), read from /proc/net/udp and
 * /proc/net/udp6: the `drops` column of the socket's line. The line is found by the socket's inode, which
 * /proc/self/fd links name (`socket:[12345]`), so another socket on the same port is never mistaken for ours.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface UdpSocketLine {
  localPort: number;
  /** Bytes waiting in the receive queue now. */
  rxQueueBytes: number;
  inode: number;
  drops: number;
}

/**
 * Parses /proc/net/udp or /proc/net/udp6 (Linux net/ipv4/udp.c udp4_format_sock: "sl local_address rem_address
 * st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops"). Malformed lines are skipped.
 */
export function parseProcNetUdp(text: string): UdpSocketLine[] {
  const lines: UdpSocketLine[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1].split(':')[1] ?? '', 16);
    const rxQueue = parseInt(f[4].split(':')[1] ?? '', 16);
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (!Number.isInteger(port) || !Number.isInteger(rxQueue) || !Number.isSafeInteger(inode) || !Number.isSafeInteger(drops)) continue;
    lines.push({ localPort: port, rxQueueBytes: rxQueue, inode, drops });
  }
  return lines;
}

/** Inodes of this process's sockets, from the /proc/self/fd links. */
export function ownSocketInodes(fdDir = '/proc/self/fd'): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync(fdDir)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${fdDir}/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // the fd closed meanwhile
    }
  }
  return inodes;
}

const FILES = { udp4: '/proc/net/udp', udp6: '/proc/net/udp6' } as const;

/** Finds our socket bound to `port` once, then reads its line at every scrape. */
export class UdpSocketStats {
  private inode?: number;

  constructor(
    private readonly family: 'udp4' | 'udp6',
    private readonly port: number,
    private readonly read: (path: string) => string = (path) => readFileSync(path, 'latin1'),
    private readonly inodes: () => Set<number> = ownSocketInodes,
  ) {}

  /** The socket's line now; undefined where /proc/net cannot tell (not Linux, or the socket is gone). */
  current(): UdpSocketLine | undefined {
    const lines = parseProcNetUdp(this.read(FILES[this.family]));
    if (this.inode === undefined) {
      const ours = this.inodes();
      this.inode = lines.find((l) => l.localPort === this.port && ours.has(l.inode))?.inode;
    }
    return lines.find((l) => l.inode === this.inode);
  }
}
