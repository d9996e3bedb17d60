/**
 * The GELF listeners: one UDP socket (read in a thread of its own, udpreader.ts, then decoded from a bounded
 * backlog) and one TCP server (slots per source, slots.ts) on --gelf.listen-address. They only move bytes:
 * everything else happens in GelfReceiver. With port 0 each listener gets its own free port (tests).
 */
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../kit/log';
import type { Forwarder } from './forward';
import { DatagramBacklog } from './backlog';
import { FrameSplitter } from './frames';
import { UdpSocketStats } from './procnet';
import type { GelfReceiver } from './receiver';
import { type Slot, SlotTable, sourceOf } from './slots';
import { UdpReader } from './udpreader';

/** A TCP sender silent this long is disconnected, so dead peers do not hold connection slots. */
const TCP_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** How often incomplete chunked messages are checked for expiry. */
const EXPIRY_INTERVAL_MS = 1000;

export interface ServerOptions {
  host: string;
  port: number;
  maxTcpConnections: number;
  maxTcpConnectionsPerSource: number;
  /** When a cap is reached, a connection silent this long (no partial frame) is closed to make room. */
  tcpEvictIdleMs: number;
  maxTcpFrameBytes: number;
  /** SO_RCVBUF asked for the UDP socket (Linux grants at most twice net.core.rmem_max). */
  udpReceiveBufferBytes: number;
  /** Most bytes of datagrams read but not yet decoded. */
  udpBacklogBytes: number;
  receiver: GelfReceiver;
  forwarder: Forwarder;
  registry: Registry;
  log: Logger;
}

interface Connection extends Slot {
  socket: net.Socket;
}

export class GelfServer {
  private udp?: UdpReader;
  private udpStats?: UdpSocketStats;
  private readonly backlog: DatagramBacklog;
  private tcp?: net.Server;
  private readonly slots: SlotTable<Connection>;
  private readonly sockets = new Set<net.Socket>();
  private expiryTimer?: NodeJS.Timeout;
  private readonly refused: Counter<'reason'>;
  private readonly evicted: Counter;

  constructor(private readonly opts: ServerOptions) {
    const registers = [opts.registry];
    this.slots = new SlotTable(opts.maxTcpConnections, opts.maxTcpConnectionsPerSource, opts.tcpEvictIdleMs);
    const slots = this.slots;
    new Gauge({
      name: 'gelf_tcp_connections',
      help: 'Open GELF TCP connections.',
      registers,
      collect() {
        this.set(slots.size);
      },
    });
    this.refused = new Counter({
      name: 'gelf_tcp_connections_refused_total',
      help: 'GELF TCP connections closed at once, by reason: max_connections (--gelf.max-tcp-connections open) or source_limit (--gelf.max-tcp-connections-per-source open from that address), none of them idle.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['max_connections', 'source_limit']) this.refused.inc({ reason }, 0);
    this.evicted = new Counter({ name: 'gelf_tcp_connections_evicted_total', help: 'Idle GELF TCP connections closed to make room for a new one when a connection cap was reached.', registers });

    this.backlog = new DatagramBacklog(opts.udpBacklogBytes, ({ buf, source, at }) => {
      try {
        opts.receiver.receive(buf, 'udp', source, at);
      } catch (err) {
        opts.log.error('unexpected error handling a datagram', { err });
      }
    });
    const backlog = this.backlog;
    new Counter({
      name: 'gelf_udp_backlog_drops_total',
      help: 'GELF UDP datagrams dropped because --gelf.udp-backlog-bytes of read datagrams were waiting to be decoded.',
      registers,
      collect() {
        this.reset();
        this.inc(backlog.dropped);
      },
    });
    new Gauge({
      name: 'gelf_udp_backlog_bytes',
      help: 'Bytes of GELF UDP datagrams read from the socket and waiting to be decoded.',
      registers,
      collect() {
        this.set(backlog.queuedBytes);
      },
    });

    // Read from /proc at scrape time: the kernel counts these drops, the exporter never sees the datagrams.
    const server = this;
    let warned = false;
    const udpLine = () => {
      try {
        return server.udpStats?.current();
      } catch (err) {
        if (!warned) opts.log.warn('cannot read UDP drops from /proc/net (gelf_udp_receive_drops_total stays 0)', { err });
        warned = true;
        return undefined;
      }
    };
    new Counter({
      name: 'gelf_udp_receive_drops_total',
      help: 'GELF UDP datagrams the kernel dropped because the socket receive buffer was full (drops of /proc/net/udp, udp6).',
      registers,
      collect() {
        const line = udpLine();
        this.reset();
        if (line) this.inc(line.drops);
      },
    });
    new Gauge({
      name: 'gelf_udp_receive_buffer_bytes',
      help: 'Receive buffer the kernel granted the GELF UDP socket, in bytes (--gelf.udp-receive-buffer-bytes, capped by net.core.rmem_max).',
      registers,
      collect() {
        const size = server.udpReceiveBufferBytes;
        if (size !== undefined) this.set(size);
      },
    });
  }

  /** What the kernel granted (Linux reports twice the value asked for, up to twice net.core.rmem_max). */
  get udpReceiveBufferBytes(): number | undefined {
    return this.udp?.granted;
  }

  get udpPort(): number {
    return this.udp?.port ?? 0;
  }

  get tcpPort(): number {
    return (this.tcp?.address() as AddressInfo | null | undefined)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { host, port, log } = this.opts;
    await this.startUdp(host, port);
    try {
      await this.startTcp(host, port);
    } catch (err) {
      await this.udp?.stop();
      throw err;
    }
    this.expiryTimer = setInterval(() => this.opts.receiver.expire(), EXPIRY_INTERVAL_MS);
    this.expiryTimer.unref();
    log.info('listening for GELF', { udp: `${host}:${this.udpPort}`, tcp: `${host}:${this.tcpPort}`, udp_receive_buffer_bytes: this.udpReceiveBufferBytes });
    const granted = this.udpReceiveBufferBytes ?? 0;
    // Linux reports twice what it granted: less than asked means net.core.rmem_max capped it.
    if (granted > 0 && granted < this.opts.udpReceiveBufferBytes) {
      log.warn('the kernel granted a smaller UDP receive buffer than --gelf.udp-receive-buffer-bytes; raise net.core.rmem_max (docs/gelf.md)', {
        asked: this.opts.udpReceiveBufferBytes,
        granted,
      });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.expiryTimer);
    for (const socket of this.sockets) socket.destroy();
    const tcp = this.tcp;
    const udp = this.udp;
    this.tcp = undefined;
    this.udp = undefined;
    await Promise.all([tcp && new Promise<void>((resolve) => tcp.close(() => resolve())), udp?.stop()]);
    this.backlog.flush(); // what was read is still counted
  }

  private async startUdp(host: string, port: number): Promise<void> {
    const { forwarder, log } = this.opts;
    const family = host.includes(':') ? 'udp6' : 'udp4';
    const udp = new UdpReader({
      family,
      host,
      port,
      receiveBufferBytes: this.opts.udpReceiveBufferBytes,
      maxInFlightBytes: this.opts.udpBacklogBytes,
      onDatagrams: (bufs, sources, dropped) => {
        this.backlog.dropped += dropped;
        for (let i = 0; i < bufs.length; i++) {
          if (forwarder.enabled) forwarder.send('udp', bufs[i]);
          this.backlog.push(bufs[i], sources[i]);
        }
      },
      onWarning: (message) => log.warn('UDP socket error', { err: message }),
      onRestart: (reason) => log.error('the UDP reader thread ended; starting it again', { reason }),
    });
    await udp.start();
    this.udp = udp;
    this.udpStats = new UdpSocketStats(family, udp.port);
  }

  private startTcp(host: string, port: number): Promise<void> {
    const tcp = net.createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        tcp.on('error', (err) => this.opts.log.warn('TCP server error', { err }));
        this.tcp = tcp;
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    const { receiver, forwarder, maxTcpFrameBytes, log } = this.opts;
    const now = Date.now();
    const admission = this.slots.admit(sourceOf(socket.remoteAddress), now);
    if (!admission.admit) {
      this.refused.inc({ reason: admission.reason });
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    if (admission.evict) {
      this.evicted.inc();
      this.slots.remove(admission.evict);
      admission.evict.socket.destroy();
    }
    const source = `${socket.remoteAddress}:${socket.remotePort}`;
    const frames = new FrameSplitter(
      maxTcpFrameBytes,
      (frame) => {
        if (forwarder.enabled) forwarder.send('tcp', frame);
        try {
          receiver.receive(frame, 'tcp', source);
        } catch (err) {
          log.error('unexpected error handling a frame', { err });
        }
      },
      (byteLength) => receiver.reject('tcp', byteLength, 'too_large'),
    );
    const connection: Connection = { socket, source: sourceOf(socket.remoteAddress), lastActive: now, busy: () => frames.buffered > 0 };
    this.slots.add(connection);
    this.sockets.add(socket);
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (data) => {
      connection.lastActive = Date.now();
      frames.push(data);
    });
    socket.on('end', () => {
      frames.end();
      socket.end();
    });
    socket.on('error', () => socket.destroy()); // a peer resetting the connection is not our error
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.slots.remove(connection);
    });
  }
}
