/**
 * `npm run bench gelfburst`: a burst of 60,000 small WildDuck-shaped GELF datagrams (zlib, about 200 bytes each)
 * sent over loopback UDP as fast as a worker thread can, to the exporter with different
 * --gelf.udp-receive-buffer-bytes. Prints, for each, the buffer the kernel granted, the datagrams decoded, and
 * the drops the kernel counted (gelf_udp_receive_drops_total, from /proc/net/udp); the baseline is the old fixed
 * 8 MiB request and the kernel's own default (net.core.rmem_default). Target: no drop with the default.
 * BENCH_BURST changes the burst size, BENCH_ROUNDS the rounds per size (each prints its own figures).
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { DEFAULT_UDP_RECEIVE_BUFFER_BYTES, definition, type GelfExporter } from '../exporters/gelf';
import { parseFlags } from '../exporters/kit/flags';
import { silentLogger } from '../exporters/kit/log';

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

async function burst(bufferBytes: number, data: Buffer[]): Promise<{ granted: number; decoded: number; drops: number; seconds: number }> {
  const registry = new Registry();
  const { values } = parseFlags(['--gelf.listen-address=127.0.0.1:0', `--gelf.udp-receive-buffer-bytes=${bufferBytes}`], definition.flags, {});
  const exporter = definition.create({ registry, flags: values, log: silentLogger }) as GelfExporter;
  await exporter.start();
  const value = async (name: string) => ((await registry.getSingleMetric(name)!.get()).values as Array<{ value: number }>).reduce((s, v) => s + v.value, 0);
  try {
    const { seconds } = await new Promise<{ seconds: number }>((resolve, reject) => {
      const worker = new Worker(SENDER, { eval: true, workerData: { port: exporter.udpPort, packets: data, count: BURST } });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // Wait until every datagram is decoded or counted as dropped, or nothing moves for a second.
    let last = -1;
    let still = Date.now();
    for (;;) {
      const done = (await value('gelf_messages_total')) + (await value('gelf_udp_receive_drops_total'));
      if (done >= BURST) break;
      if (done !== last) [last, still] = [done, Date.now()];
      else if (Date.now() - still > 1000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
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
    ['kernel default', rmemDefault],
    ['old fixed 8 MiB', 8 * 1024 * 1024],
    [`default ${DEFAULT_UDP_RECEIVE_BUFFER_BYTES}`, DEFAULT_UDP_RECEIVE_BUFFER_BYTES],
  ];
  const worst = new Map<string, number>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, bytes] of sizes) {
      const r = await burst(bytes, data);
      worst.set(name, Math.max(worst.get(name) ?? 0, r.drops));
      console.log(
        `round ${round} ${name.padEnd(22)} asked ${String(bytes).padStart(9)} granted ${String(r.granted).padStart(9)}: sent in ${r.seconds.toFixed(2)} s, decoded ${r.decoded}, kernel drops ${r.drops} (${((100 * r.drops) / BURST).toFixed(1)}%)`,
      );
    }
  }
  const base = worst.get('old fixed 8 MiB') ?? 0;
  for (const [name] of sizes) console.log(`worst drops ${name}: ${worst.get(name)} (${base ? ((worst.get(name) ?? 0) / base).toFixed(2) + 'x the old 8 MiB' : 'old 8 MiB dropped none'})`);
}

void main();
