/**
 * The GELF listeners: one UDP socket and one TCP server on --gelf.listen-address. They only move bytes:
 * everything else happens in GelfReceiver. With port 0 each listener gets its own free port (tests).
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../kit/log';
import type { Forwarder } from './forward';
import { FrameSplitter } from './frames';
import type { GelfReceiver } from './receiver';

/** Asked of the kernel so bursts wait in the socket, not on the floor (Linux caps it at net.core.rmem_max). */
const UDP_RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;
/** A TCP sender silent this long is disconnected, so dead peers do not hold connection slots. */
const TCP_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** How often incomplete chunked messages are checked for expiry. */
const EXPIRY_INTERVAL_MS = 1000;

export interface ServerOptions {
  host: string;
  port: number;
  maxTcpConnections: number;
  maxTcpFrameBytes: number;
  receiver: GelfReceiver;
  forwarder: Forwarder;
  registry: Registry;
  log: Logger;
}

export class GelfServer {
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private expiryTimer?: NodeJS.Timeout;
  private readonly refused: Counter;

  constructor(private readonly opts: ServerOptions) {
    const sockets = this.sockets;
    new Gauge({
      name: 'gelf_tcp_connections',
      help: 'Open GELF TCP connections.',
      registers: [opts.registry],
      collect() {
        this.set(sockets.size);
      },
    });
    this.refused = new Counter({ name: 'gelf_tcp_connections_refused_total', help: 'GELF TCP connections closed at once because --gelf.max-tcp-connections were open.', registers: [opts.registry] });
  }

  get udpPort(): number {
    return (this.udp?.address() as AddressInfo | undefined)?.port ?? 0;
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
      this.udp?.close();
      throw err;
    }
    this.expiryTimer = setInterval(() => this.opts.receiver.expire(), EXPIRY_INTERVAL_MS);
    this.expiryTimer.unref();
    log.info('listening for GELF', { udp: `${host}:${this.udpPort}`, tcp: `${host}:${this.tcpPort}` });
  }

  async stop(): Promise<void> {
    clearInterval(this.expiryTimer);
    for (const socket of this.sockets) socket.destroy();
    const tcp = this.tcp;
    const udp = this.udp;
    this.tcp = undefined;
    this.udp = undefined;
    await Promise.all([
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
    ]);
  }

  private startUdp(host: string, port: number): Promise<void> {
    const { receiver, forwarder, log } = this.opts;
    const udp = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: UDP_RECEIVE_BUFFER_BYTES });
    udp.on('message', (buf, rinfo) => {
      if (forwarder.enabled) forwarder.send('udp', buf);
      try {
        // the sender's address matters only to reassemble chunks: no string for the others
        receiver.receive(buf, 'udp', buf[0] === 0x1e ? `${rinfo.address}:${rinfo.port}` : '');
      } catch (err) {
        log.error('unexpected error handling a datagram', { err });
      }
    });
    return new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        udp.on('error', (err) => log.warn('UDP socket error', { err }));
        this.udp = udp;
        resolve();
      });
    });
  }

  private startTcp(host: string, port: number): Promise<void> {
    const tcp = net.createServer((socket) => this.accept(socket));
    tcp.maxConnections = this.opts.maxTcpConnections;
    tcp.on('drop', () => this.refused.inc());
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
    this.sockets.add(socket);
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (data) => frames.push(data));
    socket.on('end', () => {
      frames.end();
      socket.end();
    });
    socket.on('error', () => socket.destroy()); // a peer resetting the connection is not our error
    socket.on('close', () => this.sockets.delete(socket));
  }
}
