/** Pure parts of the GELF exporter on literal inputs: payload decoding, chunk reassembly, TCP framing. */
import { deflateSync, gzipSync } from 'node:zlib';
import { ChunkAssembler, CHUNK_TIMEOUT_MS } from '../../exporters/gelf/chunks';
import { decodePayload, type DecodeErrorReason } from '../../exporters/gelf/decode';
import { FrameSplitter } from '../../exporters/gelf/frames';

const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const MSG = { version: '1.1', host: 'mx1', short_message: 'MX [PROCESS] abc', _component: 'mx', _mail_action: 'process' };

describe('decodePayload', () => {
  test.each([
    ['plain JSON', json(MSG)],
    ['plain JSON after whitespace', Buffer.concat([Buffer.from('\n  '), json(MSG)])],
    ['zlib as gelf@2.0.1 sends it (78 9c)', deflateSync(json(MSG))],
    ['zlib at best compression (78 da)', deflateSync(json(MSG), { level: 9 })],
    ['gzip', gzipSync(json(MSG))],
  ])('%s', (_name, buf) => {
    expect(decodePayload(buf, 1 << 20)).toEqual(MSG);
  });

  test.each<[string, DecodeErrorReason, Buffer]>([
    ['empty', 'empty', Buffer.alloc(0)],
    ['binary garbage', 'unknown_format', Buffer.from([0x00, 0x01, 0x02])],
    ['text that is not JSON', 'unknown_format', Buffer.from('hello')],
    ['truncated JSON', 'bad_json', Buffer.from('{"short_message":')],
    ['a JSON array', 'unknown_format', Buffer.from('[1,2]')],
    ['zlib of an array', 'invalid_message', deflateSync('[1,2]')],
    ['zlib of null', 'invalid_message', deflateSync('null')],
    ['truncated zlib', 'bad_compression', deflateSync(json(MSG)).subarray(0, 10)],
    ['corrupt gzip', 'bad_compression', Buffer.concat([gzipSync(json(MSG)).subarray(0, 12), Buffer.alloc(20, 0xff)])],
    ['zlib of invalid UTF-8 JSON', 'bad_json', deflateSync(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))],
  ])('%s is %s', (_name, reason, buf) => {
    expect(decodePayload(buf, 1 << 20)).toBe(reason);
  });

  test('a zip bomb stops at the decompressed cap', () => {
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x20)); // 64 MiB of spaces in ~64 KiB
    expect(bomb.length).toBeLessThan(100_000);
    const before = process.memoryUsage().rss;
    expect(decodePayload(bomb, 1 << 20)).toBe('too_large');
    expect(decodePayload(gzipSync(Buffer.alloc(4 << 20, 0x20)), 1 << 20)).toBe('too_large');
    expect(process.memoryUsage().rss - before).toBeLessThan(32 * 1024 * 1024);
  });

  test('plain JSON over the cap is too_large', () => {
    expect(decodePayload(json({ ...MSG, full_message: 'x'.repeat(2000) }), 1000)).toBe('too_large');
  });
});

function pieces(payload: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) parts.push(payload.subarray(i, i + size));
  return parts;
}

/** Chunks as gelf@2.0.1 builds them: 1e 0f, id & 0xff, seq, count. */
function shortChunks(payload: Buffer, size: number, id = 0x5a): Buffer[] {
  const parts = pieces(payload, size);
  return parts.map((p, seq) => Buffer.concat([Buffer.from([0x1e, 0x0f, id, seq, parts.length]), p]));
}

/** Chunks as the spec (and gelf-pro, graylog senders) build them: 1e 0f, 8-byte id, seq, count. */
function specChunksOf(parts: Buffer[], id: Buffer = Buffer.from('0102030405060708', 'hex')): Buffer[] {
  return parts.map((p, seq) => Buffer.concat([Buffer.from([0x1e, 0x0f]), id, Buffer.from([seq, parts.length]), p]));
}

function specChunks(payload: Buffer, size: number, id?: Buffer): Buffer[] {
  return specChunksOf(pieces(payload, size), id);
}

describe('ChunkAssembler', () => {
  const big = deflateSync(json({ ...MSG, full_message: require('node:crypto').randomBytes(6000).toString('hex') }));
  const limits = { maxPendingMessages: 100, maxPendingBytes: 1 << 20 };
  let dropped: string[];
  let asm: ChunkAssembler;
  beforeEach(() => {
    dropped = [];
    asm = new ChunkAssembler(limits, (r) => dropped.push(r));
  });

  function feed(chunks: Buffer[], source = '10.0.0.1:5000', now = 0) {
    return chunks.map((c) => asm.add(c, source, now));
  }

  test.each([
    ['the 5-byte header of gelf@2.0.1', shortChunks],
    ['the spec 12-byte header', specChunks],
  ])('reassembles %s, in order and reversed', (_name, make) => {
    const chunks = make(big, 1000);
    expect(chunks.length).toBeGreaterThan(5);
    const results = feed(chunks);
    expect(results.slice(0, -1).every((r) => r === 'pending')).toBe(true);
    expect(Buffer.compare(results.at(-1) as Buffer, big)).toBe(0);

    // reversed, the first chunks may parse either way: the sender's format is known from its first message
    const reversed = feed([...chunks].reverse());
    expect(Buffer.compare(reversed.at(-1) as Buffer, big)).toBe(0);
    expect(asm.pendingMessages).toBe(0);
    expect(asm.pendingBytes).toBe(0);
  });

  test('tells the formats apart over many random ids; after a first message, also with the first chunk last', () => {
    const crypto = require('node:crypto');
    for (let i = 0; i < 400; i++) {
      // JSON as the senders compress it (Huffman blocks: the bytes after a 5-byte header often parse as a 12-byte one)
      const payload = deflateSync(json({ ...MSG, n: i, full_message: crypto.randomBytes(1500).toString('hex') }));
      const short = i % 2 === 1;
      const chunks = short ? shortChunks(payload, 700, i & 0xff) : specChunks(payload, 700, crypto.randomBytes(8));
      // one client socket, one format; its first message arrives in order, later ones partly reordered
      const order = i >= 20 && i % 3 === 0 ? [...chunks.slice(1), chunks[0]] : chunks;
      const results = feed(order, `${short ? 'short' : 'spec'}-${i % 10}`);
      expect(Buffer.compare(results.at(-1) as Buffer, payload)).toBe(0);
    }
    expect(dropped).toEqual([]);
  });

  test('a first chunk from a new sender that parses both ways is told apart by the payload header after it', () => {
    const crypto = require('node:crypto');
    // gelf@2.0.1 chunks whose data bytes 5-6 happen to look like a spec header's sequence and count (about 1 in 8)
    let short: Buffer[] = [];
    let payload = Buffer.alloc(0);
    const parsesAsSpec = (c: Buffer) => c[11] >= 1 && c[11] <= 128 && c[10] < c[11];
    for (let tries = 0; tries < 10_000; tries++) {
      payload = deflateSync(json({ ...MSG, full_message: crypto.randomBytes(2000).toString('hex') }));
      short = shortChunks(payload, 1000);
      if (parsesAsSpec(short[0])) break;
    }
    expect(parsesAsSpec(short[0])).toBe(true);
    expect(Buffer.compare(feed(short, 'new-short-sender').at(-1) as Buffer, payload)).toBe(0);

    // spec chunks whose id bytes 1-2 look like a 5-byte header's sequence 0 of 5
    const spec = specChunks(payload, 1000, Buffer.from([9, 0, 5, 1, 2, 3, 4, 5]));
    expect(Buffer.compare(feed(spec, 'new-spec-sender').at(-1) as Buffer, payload)).toBe(0);
    expect(dropped).toEqual([]);
  });

  test("gelf-pro's single chunk and its empty last chunk", () => {
    const small = deflateSync(json(MSG));
    expect(Buffer.compare(feed(specChunks(small, 2000))[0] as Buffer, small)).toBe(0);
    // gelf-pro splits with `i <= length`: a payload of exactly n * size gets an extra empty chunk
    const withEmpty = specChunksOf([big.subarray(0, 1000), big.subarray(1000, 2000), Buffer.alloc(0)]);
    expect(Buffer.compare(feed(withEmpty).at(-1) as Buffer, big.subarray(0, 2000))).toBe(0);
  });

  test('duplicate, malformed and oversized chunks', () => {
    const chunks = shortChunks(big, 1000);
    expect(feed([chunks[0], chunks[0]])).toEqual(['pending', 'duplicate_chunk']);
    expect(asm.add(Buffer.from([0x1e, 0x0f, 1]), 's', 0)).toBe('bad_chunk');
    expect(asm.add(Buffer.from([0x1e, 0x0f, 1, 5, 5, 0, 0, 0, 0, 0, 9, 0]), 's', 0)).toBe('bad_chunk');
    expect(asm.add(Buffer.concat([Buffer.from([0x1e, 0x0f, 1, 2, 200]), Buffer.alloc(20, 0xff)]), 's', 0)).toBe('too_many_chunks');
    expect(asm.add(Buffer.concat([Buffer.from([0x1e, 0x0f]), Buffer.alloc(8, 0xff), Buffer.from([0, 129])]), 's', 0)).toBe('too_many_chunks');
  });

  test('an incomplete message expires 5 s after its first chunk, counted once', () => {
    const chunks = shortChunks(big, 1000);
    feed(chunks.slice(0, 3), 'a', 1000);
    asm.expire(1000 + CHUNK_TIMEOUT_MS - 1);
    expect(asm.pendingMessages).toBe(1);
    asm.expire(1000 + CHUNK_TIMEOUT_MS);
    expect(asm.pendingMessages).toBe(0);
    expect(asm.pendingBytes).toBe(0);
    expect(dropped).toEqual(['chunk_expired']);
  });

  test('the pending caps evict the oldest messages', () => {
    const small = new ChunkAssembler({ maxPendingMessages: 3, maxPendingBytes: 5000 }, (r) => dropped.push(r));
    for (let id = 0; id < 5; id++) small.add(shortChunks(big, 1000, id)[0], 'a', id);
    expect(small.pendingMessages).toBe(3);
    expect(dropped).toEqual(['pending_limit', 'pending_limit']);
    // the oldest kept one is id 2: its second chunk still completes nothing but is accepted
    expect(small.add(shortChunks(big, 1000, 2)[1], 'a', 10)).toBe('pending');
    // bytes: the chunks of one message exceed 5000 on their own
    const chunks = shortChunks(big, 1000, 99);
    const results = chunks.map((c) => small.add(c, 'b', 20));
    expect(results).toContain('too_large');
    expect(small.pendingBytes).toBeLessThanOrEqual(5000);
  });

  test('same one-byte id from two senders does not mix', () => {
    const a = deflateSync(Buffer.alloc(5000, 'a'.charCodeAt(0)));
    const b = deflateSync(require('node:crypto').randomBytes(5000));
    const ca = shortChunks(a, 30, 7);
    const cb = shortChunks(b, 1000, 7);
    const out: unknown[] = [];
    for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
      if (ca[i]) out.push(asm.add(ca[i], '10.0.0.1:1', 0));
      if (cb[i]) out.push(asm.add(cb[i], '10.0.0.2:1', 0));
    }
    const done = out.filter((r) => Buffer.isBuffer(r)) as Buffer[];
    expect(done.map((d) => d.length).sort()).toEqual([a.length, b.length].sort());
  });
});

describe('FrameSplitter', () => {
  function split(pieces: string[], max = 100) {
    const frames: string[] = [];
    const tooLarge: number[] = [];
    const s = new FrameSplitter(max, (f) => frames.push(f.toString()), (n) => tooLarge.push(n));
    for (const p of pieces) s.push(Buffer.from(p));
    s.end();
    return { frames, tooLarge };
  }

  test('frames end in \\0, across and within reads', () => {
    expect(split(['{"a":1}\0{"b"', ':2}\0', '\0{"c":3}\0']).frames).toEqual(['{"a":1}', '{"b":2}', '', '{"c":3}']);
  });

  test('a last frame without \\0 still counts at the end of the connection', () => {
    expect(split(['{"a":1}\0{"b":2}']).frames).toEqual(['{"a":1}', '{"b":2}']);
  });

  test('an oversized frame is skipped to its \\0 and reported once with its size', () => {
    const { frames, tooLarge } = split(['{"a":1}\0', 'x'.repeat(80), 'y'.repeat(80), 'z'.repeat(80) + '\0{"b":2}\0'], 100);
    expect(frames).toEqual(['{"a":1}', '{"b":2}']);
    expect(tooLarge).toEqual([240]);
  });
});
