/**
 * 100,000 random and mutated packets: 90,000 fed to the receiver directly (with a simulated clock, so chunk
 * expiry happens too) and 10,000 through a real UDP socket. Nothing throws, memory stays bounded, and every
 * packet ends in a counted outcome.
 */
import dgram from 'node:dgram';
import v8 from 'node:v8';
import vm from 'node:vm';
import { deflateSync, gzipSync } from 'node:zlib';
import { CHUNK_TIMEOUT_MS } from '../../exporters/gelf/chunks';
import type { Outcome } from '../../exporters/gelf/receiver';
import { newReceiver, sample, startGelf, sumOf, waitFor } from './helpers';
import { UPSTREAM_LINES } from './upstream-lines';

const SEED = Number(process.env.GELF_FUZZ_SEED ?? 20261123);

/** A full garbage collection, so heap figures show what is retained, not what awaits collection. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** mulberry32: a small seeded PRNG, so a failing run can be repeated with GELF_FUZZ_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  // random bytes are copied from one seeded pool at random offsets: a PRNG call per byte is too slow
  const pool = Buffer.alloc(1 << 16);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(Math.floor(next() * 4294967296), i);
  const bytes = (n: number) => {
    const at = int(pool.length - n);
    return Buffer.from(pool.subarray(at, at + n));
  };
  return { next, int, bytes, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] };
}

interface Seeds {
  json: Buffer[];
  compressed: Buffer[];
  chunks: Buffer[];
}

/** Valid packets of every kind the exporter accepts, to mutate. */
function seeds(rand: ReturnType<typeof prng>): Seeds {
  const out: Seeds = { json: [], compressed: [], chunks: [] };
  for (const line of UPSTREAM_LINES.slice(0, 20)) {
    const json = Buffer.from(JSON.stringify(line.message));
    out.json.push(json);
    out.compressed.push(deflateSync(json), gzipSync(json));
  }
  const big = deflateSync(Buffer.from(JSON.stringify({ short_message: 'x', full_message: rand.bytes(3000).toString('hex') })));
  const count = Math.ceil(big.length / 800);
  for (let seq = 0; seq < count; seq++) {
    const part = big.subarray(seq * 800, seq * 800 + 800);
    out.chunks.push(Buffer.concat([Buffer.from([0x1e, 0x0f, 0x42, seq, count]), part]));
    out.chunks.push(Buffer.concat([Buffer.from([0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, seq, count]), part]));
  }
  return out;
}

function mutate(rand: ReturnType<typeof prng>, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (rand.int(3)) {
    case 0: // flip a few bytes
      for (let i = rand.int(4) + 1; i > 0 && b.length; i--) b[rand.int(b.length)] ^= 1 << rand.int(8);
      return b;
    case 1: // truncate
      return b.subarray(0, rand.int(b.length + 1));
    default: // append garbage
      return Buffer.concat([b, rand.bytes(rand.int(64))]);
  }
}

/** Chunk header fields (id, seq, count) at random: duplicates, too many, inconsistent, other formats. */
function mutateChunkHeader(rand: ReturnType<typeof prng>, base: Buffer): Buffer {
  const b = Buffer.from(base);
  for (const i of [2, 3, 4, 10, 11]) if (rand.next() < 0.3) b[i] = rand.int(256);
  return b;
}

const MAGIC = [Buffer.from([0x1e, 0x0f]), Buffer.from([0x78, 0x9c]), Buffer.from([0x1f, 0x8b]), Buffer.from('{')];

/**
 * Generated one at a time, so the input itself does not weigh on the memory check. Corrupt zlib/gzip is
 * kept to about a fifth: under jest each zlib error costs ~0.2 ms (stack traces), ten times what it costs in
 * production, and the file must run in seconds.
 */
function* packets(rand: ReturnType<typeof prng>, n: number): Generator<Buffer> {
  const s = seeds(rand);
  for (let i = 0; i < n; i++) {
    const r = rand.next();
    if (r < 0.15) yield rand.bytes(rand.int(1500));
    else if (r < 0.25) yield Buffer.concat([rand.pick(MAGIC), rand.bytes(rand.int(200))]);
    else if (r < 0.35) yield rand.pick([...s.json, ...s.compressed]);
    else if (r < 0.55) yield mutate(rand, rand.pick(s.json));
    else if (r < 0.68) yield mutate(rand, rand.pick(s.compressed));
    else if (r < 0.85) yield rand.pick(s.chunks);
    else yield rand.next() < 0.5 ? mutateChunkHeader(rand, rand.pick(s.chunks)) : mutate(rand, rand.pick(s.chunks));
  }
}

test('90,000 packets fed to the receiver: no throw, bounded memory, every packet counted', async () => {
  const rand = prng(SEED);
  const maxPendingBytes = 4 * 1024 * 1024;
  const { receiver, registry } = newReceiver({ maxPendingMessages: 500, maxPendingBytes });
  const tally = new Map<Outcome, number>();
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  let now = 1_000_000;
  let maxPending = 0;
  let i = 0;
  for (const p of packets(rand, 90_000)) {
    i++;
    now += 0.2; // 90,000 packets over 18 simulated seconds: chunked messages expire along the way
    const outcome = receiver.receive(p, 'udp', `10.0.0.${i % 4}:1000`, now);
    tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
    maxPending = Math.max(maxPending, receiver.assembler.pendingBytes);
    // let the event loop turn now and then, as between datagrams: zlib releases its handles on the next tick
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  expect(maxPending).toBeLessThanOrEqual(maxPendingBytes);
  collectGarbage();
  // what stays is the pending chunks (under 4 MiB here) and the metrics; 90,000 packets leaked would be ~60 MiB
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(16 * 1024 * 1024);

  receiver.expire(now + CHUNK_TIMEOUT_MS);
  expect(receiver.assembler.pendingMessages).toBe(0);
  expect(receiver.assembler.pendingBytes).toBe(0);

  const text = await registry.metrics();
  expect(sample(text, 'gelf_packets_total', { protocol: 'udp' })).toBe(90_000);
  expect(sumOf(text, 'gelf_messages_total')).toBe(tally.get('message'));
  // every outcome but 'pending' is its own counter increment; chunks that waited end as a message, an
  // error of the chunk that completed them, or once as chunk_expired / pending_limit
  const dropped = (sample(text, 'gelf_decode_errors_total', { reason: 'chunk_expired' }) ?? 0) + (sample(text, 'gelf_decode_errors_total', { reason: 'pending_limit' }) ?? 0);
  expect(dropped).toBeGreaterThan(0);
  for (const [outcome, count] of tally) {
    if (outcome === 'message' || outcome === 'pending' || outcome === 'chunk_expired' || outcome === 'pending_limit') continue;
    expect([outcome, sample(text, 'gelf_decode_errors_total', { reason: outcome })]).toEqual([outcome, count]);
  }
  expect(dropped).toBeLessThanOrEqual(tally.get('pending') ?? 0);
  // a fair share of everything was exercised
  for (const reason of ['unknown_format', 'bad_compression', 'bad_json', 'bad_chunk', 'duplicate_chunk', 'too_many_chunks']) {
    expect([reason, (tally.get(reason as Outcome) ?? 0) > 50]).toEqual([reason, true]);
  }
  expect(tally.get('message')).toBeGreaterThan(5000);
});

test('10,000 packets over a real UDP socket: all counted, and the exporter still decodes afterwards', async () => {
  const rand = prng(SEED + 1);
  const gelf = await startGelf();
  const socket = dgram.createSocket('udp4');
  try {
    const input = [...packets(rand, 10_000)];
    const port = gelf.exporter.udpPort;
    // paced in bursts, so the kernel's receive buffer never overflows and every packet must be counted
    for (let i = 0; i < input.length; i += 250) {
      await Promise.all(input.slice(i, i + 250).map((p) => new Promise((r) => socket.send(p, port, '127.0.0.1', r))));
      const sent = Math.min(i + 250, input.length);
      await waitFor(async () => sample(await gelf.metrics(), 'gelf_packets_total', { protocol: 'udp' }) === sent, 5000, `${sent} packets`);
    }
    const text = await gelf.metrics();
    const outcomes = sumOf(text, 'gelf_messages_total') + sumOf(text, 'gelf_decode_errors_total');
    expect(outcomes).toBeGreaterThan(8000);
    expect(outcomes + (sample(text, 'gelf_pending_messages') ?? 0)).toBeLessThanOrEqual(10_000);

    const before = sumOf(text, 'gelf_messages_total');
    await new Promise((r) => socket.send(deflateSync('{"short_message":"WILDDUCK still here","_component":"wildduck"}'), port, '127.0.0.1', r));
    await waitFor(async () => sumOf(await gelf.metrics(), 'gelf_messages_total') === before + 1, 5000, 'a valid message after the fuzz');
  } finally {
    socket.close();
    await gelf.stop();
  }
});
