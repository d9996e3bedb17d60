/**
 * GELF exporter benchmark: `npx tsx bench/gelf.ts` (about 45 s; BENCH_SECONDS and BENCH_ROUNDS change the
 * throughput runs).
 *
 * 1. Decoded messages per second over loopback UDP, for WildDuck-shaped zlib messages, measured in the same run
 *    for: a baseline receiver (a bare dgram socket that inflates and JSON-parses each datagram synchronously),
 *    this exporter, and graygelf's GELF server from npm. A worker thread blasts datagrams as fast as it can;
 *    what a receiver decodes in that time is its rate (the kernel drops what it cannot take).
 * 2. Loss when sending at half the baseline's rate for 10 s.
 * 3. RSS of an exporter process (nothing else in it, bench/gelf-rss-child.js) holding 1,000 chunked messages pending.
 * Targets (issue 2): >= 0.8 of the baseline, >= 3x graygelf, no loss at half the baseline rate, RSS < 100 MB.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deflateSync, inflateSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { definition, type GelfExporter } from '../exporters/gelf';
import { parseFlags } from '../exporters/kit/flags';
import { silentLogger } from '../exporters/kit/log';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** Rounds of the three receivers in turn; each keeps its best, so other load on the machine counts less. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const LOSS_SECONDS = 10;
const PENDING_MESSAGES = 1000;

/** What WildDuck's loggelf sends for IMAP FETCH, AUTHOK and CONNSTART, zlib-compressed as gelf@2.0.1 does. */
function wildduckPackets(n: number): Buffer[] {
  const packets: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const common = { version: '1.0', host: `mail${i % 3}.example.com`, facility: 'wildduck', timestamp: 1763900000 + i / 1000, _component: 'wildduck', _ip: `192.0.2.${i % 250}`, _sess: `sess${i}` };
    const kind = i % 3;
    const msg =
      kind === 0
        ? { ...common, short_message: 'WILDDUCK [FETCH]', _mail_action: 'fetch', _user: `65a1b2c3d4e5f6a7b8c9${String(i).padStart(4, '0')}`, _mailbox: '65a1b2c3d4e5f6a7b8c9d0e1', _message_count: i % 40, _flag_count: 2, _size: 1000 + i }
        : kind === 1
          ? { ...common, short_message: `WILDDUCK [AUTHOK] user${i}@example.com`, _mail_action: 'auth', _auth_result: 'success', _username: `user${i}@example.com`, _domain: 'example.com', _user: `65a1b2c3d4e5f6a7b8c9${String(i).padStart(4, '0')}`, _password_type: 'master', _scope: 'imap' }
          : { ...common, short_message: `WILDDUCK [CONNSTART] Connection established for 65a1b2c3d4e5f6a7b8c9${i}`, _connection: 'establish', _service: 'imap', _user: `65a1b2c3d4e5f6a7b8c9${i}`, _cid: `cid${i}`, _limit: 15 };
    packets.push(deflateSync(JSON.stringify(msg)));
  }
  return packets;
}

/** The sender runs in its own thread, so it never waits on a receiver's event loop. */
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { port, packets, seconds, rate } = workerData;
const socket = dgram.createSocket('udp4');
const bufs = packets.map((p) => Buffer.from(p));
let sent = 0;
const started = Date.now();
const end = started + seconds * 1000;
function sendBatch(n, done) {
  let left = n;
  for (let i = 0; i < n; i++) socket.send(bufs[(sent++) % bufs.length], port, '127.0.0.1', () => { if (--left === 0) done(); });
}
function blast() {
  if (Date.now() >= end) return finish();
  sendBatch(64, blast);
}
function paced() {
  const now = Date.now();
  if (now >= end) return finish();
  const due = Math.floor(((now - started) / 1000) * rate) - sent;
  if (due > 0) sendBatch(due, () => setTimeout(paced, 1)); else setTimeout(paced, 1);
}
function finish() { socket.close(); parentPort.postMessage({ sent, seconds: (Date.now() - started) / 1000 }); }
rate ? paced() : blast();
`;

function runSender(port: number, packets: Buffer[], seconds: number, rate = 0): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SENDER, { eval: true, workerData: { port, packets, seconds, rate } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

interface Receiver {
  name: string;
  port: number;
  decoded(): Promise<number>;
  close(): Promise<void>;
}

async function baseline(): Promise<Receiver> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', (buf) => {
    JSON.parse(inflateSync(buf).toString());
    count++;
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { name: 'baseline (dgram + inflateSync + JSON.parse)', port: (socket.address() as AddressInfo).port, decoded: async () => count, close: () => new Promise((r) => socket.close(() => r())) };
}

async function ours(extraFlags: string[] = []): Promise<Receiver & { exporter: GelfExporter; registry: Registry }> {
  const registry = new Registry();
  const { values } = parseFlags(['--gelf.listen-address=127.0.0.1:0', ...extraFlags], definition.flags, {});
  const exporter = definition.create({ registry, flags: values, log: silentLogger }) as GelfExporter;
  await exporter.start();
  const decoded = async () => {
    const metric = await registry.getSingleMetric('gelf_messages_total')!.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  };
  return { name: 'tinomail-monitor gelf', port: exporter.udpPort, exporter, registry, decoded, close: () => exporter.stop() };
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function graygelf(): Promise<Receiver> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const server = require('graygelf/server')();
  let count = 0;
  server.on('message', () => count++);
  server.on('error', () => undefined);
  const port = await freePort(); // graygelf turns port 0 into its default 12201
  server.listen(port, '127.0.0.1');
  await new Promise((r) => server._udp.once('listening', r));
  return { name: 'graygelf server', port, decoded: async () => count, close: async () => server.close() };
}

async function throughput(make: () => Promise<Receiver>, packets: Buffer[]): Promise<{ name: string; rate: number; sent: number }> {
  const receiver = await make();
  const before = await receiver.decoded();
  const { sent, seconds } = await runSender(receiver.port, packets, SECONDS);
  await new Promise((r) => setTimeout(r, 200)); // what is still in the socket buffer counts too
  const decoded = (await receiver.decoded()) - before;
  await receiver.close();
  return { name: receiver.name, rate: decoded / (seconds + 0.2), sent };
}

/**
 * 1,000 WildDuck messages with a stack trace and a dump (~18 KiB compressed), chunked as gelf@2.0.1 'lan' does
 * (8154 bytes), all but the last chunk sent: two chunks, ~16 KiB, pending per message.
 */
async function rssWithPending(): Promise<{ idle: number; rss: number; pendingMessages: number; pendingBytes: number; compiled: boolean }> {
  const child = fork(path.join(__dirname, 'gelf-rss-child.js'), [], { execArgv: ['--expose-gc'] });
  const next = <T>() => new Promise<T>((r) => child.once('message', (m) => r(m as T)));
  const { port, rss: idle, compiled } = await next<{ port: number; rss: number; compiled: boolean }>();
  // one-byte ids: 200 messages per sending socket, as from separate WildDuck processes
  const sockets = Array.from({ length: Math.ceil(PENDING_MESSAGES / 200) }, () => dgram.createSocket('udp4'));
  const stack = Array.from({ length: 40 }, (_, i) => `    at handler${i} (/opt/wildduck/lib/handler-${i}.js:${i}:17)`).join('\n');
  for (let m = 0; m < PENDING_MESSAGES; m++) {
    const payload = deflateSync(JSON.stringify({ version: '1.0', host: 'mail1', short_message: 'WILDDUCK [AUTHFAIL] x', _component: 'wildduck', full_message: `Error: DB down #${m}\n${stack}\n${randomBytes(18000).toString('base64')}` }));
    const count = Math.ceil(payload.length / 8154);
    for (let seq = 0; seq < count - 1; seq++) {
      const chunk = Buffer.concat([Buffer.from([0x1e, 0x0f, m % 200, seq, count]), payload.subarray(seq * 8154, (seq + 1) * 8154)]);
      await new Promise((r) => sockets[Math.floor(m / 200)].send(chunk, port, '127.0.0.1', r));
    }
    if (m % 50 === 0) await new Promise((r) => setTimeout(r, 2)); // paced: nothing lost in the socket buffer
  }
  for (const s of sockets) s.close();
  await new Promise((r) => setTimeout(r, 300));
  child.send('measure');
  const measured = await next<{ rss: number; pendingMessages: number; pendingBytes: number }>();
  child.send('stop');
  return { idle, compiled, ...measured };
}

async function main(): Promise<void> {
  const packets = wildduckPackets(300);
  const avg = packets.reduce((s, p) => s + p.length, 0) / packets.length;
  console.log(`Load average before the run: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs`);
  console.log(`GELF benchmark: ${packets.length} distinct WildDuck-shaped zlib datagrams (${avg.toFixed(0)} bytes on average), ${SECONDS} s per run, best of ${ROUNDS} runs`);

  const results = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const make of [baseline, () => ours(), graygelf]) {
      const r = await throughput(make, packets);
      results.set(r.name, Math.max(results.get(r.name) ?? 0, r.rate));
    }
  }
  const base = results.get('baseline (dgram + inflateSync + JSON.parse)')!;
  const mine = results.get('tinomail-monitor gelf')!;
  const gray = results.get('graygelf server')!;
  for (const [name, rate] of results) console.log(`  ${name.padEnd(44)} ${Math.round(rate).toString().padStart(8)} msg/s  ${(rate / base).toFixed(2)}x baseline`);
  console.log(`  tinomail-monitor gelf / baseline: ${(mine / base).toFixed(2)} (target >= 0.8)`);
  console.log(`  tinomail-monitor gelf / graygelf: ${(mine / gray).toFixed(2)} (target >= 3)`);

  const rate = Math.round(base / 2);
  const receiver = await ours();
  const { sent } = await runSender(receiver.port, packets, LOSS_SECONDS, rate);
  await new Promise((r) => setTimeout(r, 300));
  const decoded = await receiver.decoded();
  await receiver.close();
  const lost = sent - decoded;
  console.log(`Loss at half the baseline rate (${rate} msg/s for ${LOSS_SECONDS} s): sent ${sent}, decoded ${decoded}, lost ${lost} (${((100 * lost) / sent).toFixed(3)}%) (target 0)`);

  const r = await rssWithPending();
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `RSS with ${r.pendingMessages} chunked messages pending (${mb(r.pendingBytes)} MiB of chunks): ${mb(r.rss)} MiB, idle ${mb(r.idle)} MiB (target < 100 MiB; ${r.compiled ? 'compiled dist/' : 'no build: sources through tsx, ~30 MiB more'})`,
  );
  console.log(`Load average during the run: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs (other load lowers every figure)`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
