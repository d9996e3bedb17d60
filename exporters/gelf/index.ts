/**
 * `tinomail-monitor gelf`: receives the GELF logs of WildDuck, haraka-plugin-wildduck and zonemta-wildduck
 * (UDP and TCP) and turns them into counters. Nothing is collected at scrape time: the counters move as
 * messages arrive, so `gelf_up` is 1 while the listeners run.
 */
import type { Exporter, ExporterContext, ExporterDefinition } from '../kit/exporter';
import { type FlagSpec, parseAddress, positiveFlag } from '../kit/flags';
import { Forwarder } from './forward';
import { GelfReceiver } from './receiver';
import { GelfServer } from './server';

/** See bench/gelfburst.ts: what holds a burst of 60,000 small datagrams without a drop. */
export const DEFAULT_UDP_RECEIVE_BUFFER_BYTES = 32 * 1024 * 1024;

export const flags: FlagSpec[] = [
  { name: 'gelf.listen-address', type: 'address', default: ':12201', help: 'Address to receive GELF on, over both UDP and TCP.' },
  { name: 'gelf.forward-address', type: 'address', default: '', help: 'GELF receiver (e.g. Graylog) to pass every datagram (UDP) and frame (TCP) on to, unchanged; empty: none.' },
  { name: 'gelf.components', type: 'list', default: 'wildduck,mx,mta', help: 'Values of _component kept as the component label; others count as "other".' },
  { name: 'gelf.zones', type: 'list', default: '', help: 'ZoneMTA sending zones kept as the zone label, others count as "other"; empty: the first 32 zones seen.' },
  { name: 'gelf.reject-codes', type: 'list', default: '', help: 'MX reject codes kept as labels besides the built-in ones (e.g. the rspamd blacklist/softlist symbols you configured).' },
  { name: 'gelf.max-message-bytes', type: 'int', default: '1048576', help: 'Largest decompressed GELF message; larger ones (zip bombs) are dropped as too_large.' },
  { name: 'gelf.max-pending-messages', type: 'int', default: '2000', help: 'Most chunked messages waiting for their remaining chunks; the oldest is dropped beyond it.' },
  { name: 'gelf.max-pending-bytes', type: 'int', default: '33554432', help: 'Most bytes held by chunked messages waiting for their remaining chunks; the oldest are dropped beyond it.' },
  { name: 'gelf.max-tcp-frame-bytes', type: 'int', default: '1048576', help: 'Largest GELF TCP frame; longer ones are skipped up to their \\0 and counted as too_large.' },
  { name: 'gelf.max-tcp-connections', type: 'int', default: '256', help: 'Most GELF TCP connections open at once; beyond it the one idle longest is closed, or the new one if none is idle.' },
  {
    name: 'gelf.max-tcp-connections-per-source',
    type: 'int',
    default: '32',
    help: 'Most GELF TCP connections from one address (an IPv6 /64); beyond it that source\'s idlest is closed, or the new one if none is idle.',
  },
  { name: 'gelf.tcp-evict-idle-after', type: 'duration', default: '10s', help: 'A TCP connection silent this long (no partial frame) may be closed to make room when a cap is reached.' },
  {
    name: 'gelf.udp-backlog-bytes',
    type: 'int',
    default: '67108864',
    help: 'Most bytes of UDP datagrams read from the socket and waiting to be decoded (a burst waits here); beyond it they are dropped and counted.',
  },
  {
    name: 'gelf.udp-receive-buffer-bytes',
    type: 'int',
    default: String(DEFAULT_UDP_RECEIVE_BUFFER_BYTES),
    help: 'UDP socket receive buffer (SO_RCVBUF) asked of the kernel, so bursts wait in the socket instead of being dropped; Linux caps it at net.core.rmem_max.',
  },
];

export class GelfExporter implements Exporter {
  readonly receiver: GelfReceiver;
  readonly server: GelfServer;
  private readonly forwarder: Forwarder;

  constructor(ctx: ExporterContext) {
    const f = ctx.flags;
    const positive = (name: string) => positiveFlag(f, name);
    const { host, port } = parseAddress(f['gelf.listen-address'] as string);
    this.receiver = new GelfReceiver({
      registry: ctx.registry,
      components: f['gelf.components'] as string[],
      zones: f['gelf.zones'] as string[],
      rejectCodes: f['gelf.reject-codes'] as string[],
      maxMessageBytes: positive('gelf.max-message-bytes'),
      maxPendingMessages: positive('gelf.max-pending-messages'),
      maxPendingBytes: positive('gelf.max-pending-bytes'),
    });
    this.forwarder = new Forwarder(f['gelf.forward-address'] as string, ctx.registry, ctx.log);
    this.server = new GelfServer({
      host,
      port,
      maxTcpConnections: positive('gelf.max-tcp-connections'),
      maxTcpConnectionsPerSource: positive('gelf.max-tcp-connections-per-source'),
      tcpEvictIdleMs: f['gelf.tcp-evict-idle-after'] as number,
      maxTcpFrameBytes: positive('gelf.max-tcp-frame-bytes'),
      udpReceiveBufferBytes: positive('gelf.udp-receive-buffer-bytes'),
      udpBacklogBytes: positive('gelf.udp-backlog-bytes'),
      receiver: this.receiver,
      forwarder: this.forwarder,
      registry: ctx.registry,
      log: ctx.log,
    });
  }

  /** Bound ports (differ from each other only when listening on port 0). */
  get udpPort(): number {
    return this.server.udpPort;
  }

  get tcpPort(): number {
    return this.server.tcpPort;
  }

  async start(): Promise<void> {
    await this.forwarder.start();
    await this.server.start();
  }

  async stop(): Promise<void> {
    this.forwarder.stop();
    await this.server.stop();
    this.receiver.assembler.clear();
  }
}

export const definition: ExporterDefinition = {
  name: 'gelf',
  description: 'Counts the GELF logs of WildDuck, Haraka (MX) and ZoneMTA (MTA): logins, deliveries, rejections, bounces',
  defaultPort: 9742,
  target: (f) => `GELF received on ${String(f['gelf.listen-address'])} (UDP and TCP)`,
  flags,
  create: (ctx) => new GelfExporter(ctx),
};
