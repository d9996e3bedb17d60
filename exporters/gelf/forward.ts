/**
 * --gelf.forward-address: every datagram received is sent on unchanged over UDP, every TCP frame over one
 * TCP connection (with its \0), so Graylog keeps receiving what WildDuck can only send to one place.
 * Forwarding never holds up counting: an unreachable upstream costs dropped forwards, counted, not memory.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Registry } from 'prom-client';
import { parseAddress } from '../kit/flags';
import type { Logger } from '../kit/log';
import type { Protocol } from './receiver';
import { Tally } from './tally';

/** Frames waiting in the TCP socket beyond this are dropped rather than buffered. */
const MAX_TCP_BACKLOG_BYTES = 4 * 1024 * 1024;
const RECONNECT_DELAY_MS = 1000;
const FRAME_END = Buffer.from([0]);

export class Forwarder {
  private host = '';
  private port = 0;
  private udp?: dgram.Socket;
  private tcp?: net.Socket;
  private lastConnectAt = -Infinity;
  private readonly forwarded: Tally<'protocol'>;
  private readonly dropped: Tally<'protocol'>;
  /** Counted when the socket reports the outcome: a frame written to a connection that then fails is dropped. */
  private readonly onUdpSent = (err: Error | null | undefined) => (err ? this.dropped : this.forwarded).inc({ protocol: 'udp' });
  private readonly onTcpSent = (err: Error | null | undefined) => (err ? this.dropped : this.forwarded).inc({ protocol: 'tcp' });

  constructor(
    private readonly address: string,
    registry: Registry,
    private readonly log: Logger,
  ) {
    this.forwarded = new Tally({ name: 'gelf_forwarded_total', help: 'Datagrams and frames passed on to --gelf.forward-address.', labelNames: ['protocol'], registry });
    this.dropped = new Tally({ name: 'gelf_forward_dropped_total', help: 'Datagrams and frames that could not be passed on to --gelf.forward-address.', labelNames: ['protocol'], registry });
    for (const protocol of ['udp', 'tcp'] as const) {
      this.forwarded.inc({ protocol }, 0);
      this.dropped.inc({ protocol }, 0);
    }
  }

  get enabled(): boolean {
    return this.address !== '';
  }

  /** Resolves the upstream once, so each datagram costs no DNS lookup. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    const { host, port } = parseAddress(this.address);
    const resolved = await lookup(host === '0.0.0.0' ? '127.0.0.1' : host);
    this.host = resolved.address;
    this.port = port;
    this.udp = dgram.createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
    this.udp.on('error', (err) => this.log.warn('forward socket error', { err }));
    this.udp.unref();
  }

  send(protocol: Protocol, data: Buffer): void {
    if (protocol === 'udp') {
      this.udp?.send(data, this.port, this.host, this.onUdpSent);
    } else {
      const socket = this.connection();
      if (!socket || socket.writableLength > MAX_TCP_BACKLOG_BYTES) {
        this.dropped.inc({ protocol });
        return;
      }
      socket.write(data);
      socket.write(FRAME_END, this.onTcpSent);
    }
  }

  stop(): void {
    this.udp?.close();
    this.udp = undefined;
    this.tcp?.destroy();
    this.tcp = undefined;
  }

  /** The upstream TCP connection, opened on demand and at most once a second after a failure. */
  private connection(): net.Socket | undefined {
    if (this.tcp || !this.port) return this.tcp;
    const now = Date.now();
    if (now - this.lastConnectAt < RECONNECT_DELAY_MS) return undefined;
    this.lastConnectAt = now;
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.unref();
    socket.on('error', (err) => this.log.warn('forward connection failed', { err }));
    socket.on('close', () => {
      if (this.tcp === socket) this.tcp = undefined;
    });
    this.tcp = socket;
    return socket;
  }
}
