/**
 * `npm run bench gelfburst`: a burst of 60,000 small WildDuck-shaped GELF datagrams (zlib, 143 to 150 bytes each)
 * sent over loopback UDP as fast as a worker thread can, to the exporter with different
 * --gelf.udp-receive-buffer-bytes. Prints, for each, the buffer the kernel granted, the datagrams decoded, and
 * the drops the kernel counted (gelf_udp_receive_drops_total, from /proc/net/udp). Baseline, in the same run: the old
 * server (8 MiB asked, every datagram decoded inside the socket's 'message' handler, no reader thread, no backlog), rebuilt here from
 * the same GelfReceiver. Also the exporter with the kernel's default buffer (net.core.rmem_default).
 * Target: no drop with the default.
 * BENCH_BURST changes the burst size, BENCH_ROUNDS the rounds per size (each prints its own figures).
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { DEFAULT_UDP_RECEIVE_BUFFER_BYTES, definition, type GelfExporter } from '../exporters/gelf';
import { parseFlags } from '../exporters/kit/flags';
import { silentLogger } from '../exporters/kit/log';
import { UdpSocketStats } from '../exporters/gelf/procnet';
import { GelfReceiver } from '../exporters/gelf/receiver';

const BURST = Number(process.env.BENCH_BURST ?? 60_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { port, packets, count } = workerData;
const socket = dgram.createSocket('udp4');
const bufs = packets.map((p) => Buffer.from(p));
let sent = 0;
const started = process.hrtime.bigint();
function batch() {
  let left = Math.min(256, count - sent);
  if (left === 0) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return socket.close(() => parentPort.postMessage({ seconds }));
  }
  const n = left;
  for (let i = 0; i < n; i++) socket.send(bufs[(sent++) % bufs.length], port, '127.0.0.1', () => { if (--left === 0) batch(); });
}
batch();
`;

function packets(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    deflateSync(JSON.stringify({ version: '1.1', host: 'mail1', short_message: 'WILDDUCK [FETCH]', timestamp: 1763900000 + i / 1000, _component: 'wildduck', _mail_action: 'fetch', _sess: `s${i}`, _message_count: i % 40 })),
  );
}

function send(port: number, data: Buffer[]): Promise<{ seconds: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SENDER, { eval: true, workerData: { port, packets: data, count: BURST } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** Polls until decoded + dropped reach the burst, or nothing moves for a second. */
async function settle(done: () => Promise<number>): Promise<void> {
  let last = -1;
  let still = Date.now();
  for (;;) {
    const n = await done();
    if (n >= BURST) return;
    if (n !== last) [last, still] = [n, Date.now()];
    else if (Date.now() - still > 1000) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The server before the backlog: 8 MiB asked, each datagram decoded in the 'message' handler itself. */
async function oldServer(data: Buffer[]): Promise<{ granted: number; decoded: number; drops: number; seconds: number }> {
  const registry = new Registry();
  const receiver = new GelfReceiver({ registry, components: ['wildduck'], zones: [], rejectCodes: [], maxMessageBytes: 1 << 20, maxPendingMessages: 2000, maxPendingBytes: 32 << 20 });
  const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  udp.on('message', (buf) => receiver.receive(buf, 'udp', ''));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const stats = new UdpSocketStats('udp4', udp.address().port);
  const decoded = async () => ((await registry.getSingleMetric('gelf_messages_total')!.get()).values as Array<{ value: number }>).reduce((s, v) => s + v.value, 0);
  const { seconds } = await send(udp.address().port, data);
  await settle(async () => (await decoded()) + (stats.current()?.drops ?? 0));
  const result = { granted: udp.getRecvBufferSize(), decoded: await decoded(), drops: stats.current()?.drops ?? 0, seconds };
  await new Promise<void>((r) => udp.close(() => r()));
  return result;
}

async function burst(bufferBytes: number, data: Buffer[]): Promise<{ granted: number; decoded: number; drops: number; seconds: number }> {
  const registry = new Registry();
  const { values } = parseFlags(['--gelf.listen-address=127.0.0.1:0', `--gelf.udp-receive-buffer-bytes=${bufferBytes}`], definition.flags, {});
  const exporter = definition.create({ registry, flags: values, log: silentLogger }) as GelfExporter;
  await exporter.start();
  const value = async (name: string) => ((await registry.getSingleMetric(name)!.get()).values as Array<{ value: number }>).reduce((s, v) => s + v.value, 0);
  try {
    const { seconds } = await send(exporter.udpPort, data);
    await settle(async () => (await value('gelf_messages_total')) + (await value('gelf_udp_receive_drops_total')));
    return { granted: exporter.server.udpReceiveBufferBytes ?? 0, decoded: await value('gelf_messages_total'), drops: await value('gelf_udp_receive_drops_total'), seconds };
  } finally {
    await exporter.stop();
  }
}

async function main() {
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  const rmemDefault = Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8'));
  console.log(`burst of ${BURST} datagrams; net.core.rmem_max=${rmemMax}, net.core.rmem_default=${rmemDefault}`);
  const data = packets(1000);
  console.log(`datagram size ${Math.min(...data.map((d) => d.length))}..${Math.max(...data.map((d) => d.length))} bytes`);
  const sizes: Array<[string, number]> = [
    ['old server, 8 MiB', 8 * 1024 * 1024],
    ['now, kernel default', rmemDefault],
    ['now, 8 MiB', 8 * 1024 * 1024],
    [`now, default`, DEFAULT_UDP_RECEIVE_BUFFER_BYTES],
  ];
  const worst = new Map<string, number>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, bytes] of sizes) {
      const r = name.startsWith('old') ? await oldServer(data) : await burst(bytes, data);
      worst.set(name, Math.max(worst.get(name) ?? 0, r.drops));
      console.log(
        `round ${round} ${name.padEnd(20)} asked ${String(bytes).padStart(9)} granted ${String(r.granted).padStart(9)}: sent in ${r.seconds.toFixed(2)} s, decoded ${r.decoded}, kernel drops ${r.drops} (${((100 * r.drops) / BURST).toFixed(1)}%)`,
      );
    }
  }
  const base = worst.get('old server, 8 MiB') ?? 0;
  for (const [name] of sizes) console.log(`worst drops ${name}: ${worst.get(name)} (${base ? ((worst.get(name) ?? 0) / base).toFixed(2) + 'x the old server' : 'the old server dropped none'})`);
  console.log(`load average while measuring: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}

void main();
