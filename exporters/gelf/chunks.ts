/**
 * Reassembly of chunked GELF messages (UDP), pure apart from the clock passed in.
 *
 * Two chunk headers exist in the wild and both start with the magic bytes 1e 0f:
 * - the spec's 12 bytes: magic, 8-byte message id, sequence number, sequence count;
 * - npm gelf@2.0.1's 5 bytes (WildDuck, haraka-plugin-wildduck, zonemta-wildduck): magic, the message id
 *   truncated to one byte, sequence number, sequence count.
 * A chunk often parses either way, so the format is chosen by, in order: a pending message it continues,
 * a payload header (zlib/gzip/JSON) right after the header of a first chunk, the format the same sender used
 * last, and finally the spec. Messages are keyed by sender address too, so one-byte ids of different
 * senders never mix.
 */
import type { DecodeErrorReason } from './decode';
import { looksLikePayloadStart } from './decode';

export const MAX_CHUNKS = 128;
export const CHUNK_TIMEOUT_MS = 5000;
const SPEC_HEADER = 12;
const SHORT_HEADER = 5;
/** How many senders' last chunk format is remembered. */
const MAX_REMEMBERED_SOURCES = 4096;

export type ChunkFormat = 'spec' | 'short';

export function isChunk(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x1e && buf[1] === 0x0f;
}

export interface ChunkHeader {
  format: ChunkFormat;
  /** Message id bytes as a latin1 string (8 bytes, or 1 for the short header). */
  id: string;
  seq: number;
  count: number;
  dataOffset: number;
}

function plausible(buf: Buffer, headerLength: number): boolean {
  if (buf.length < headerLength) return false;
  const seq = buf[headerLength - 2];
  const count = buf[headerLength - 1];
  return count >= 1 && count <= MAX_CHUNKS && seq < count;
}

function headerOf(buf: Buffer, format: ChunkFormat): ChunkHeader {
  const len = format === 'spec' ? SPEC_HEADER : SHORT_HEADER;
  return { format, id: buf.toString('latin1', 2, len - 2), seq: buf[len - 2], count: buf[len - 1], dataOffset: len };
}

export interface AssemblerLimits {
  maxPendingMessages: number;
  maxPendingBytes: number;
}

interface Pending {
  parts: (Buffer | undefined)[];
  received: number;
  bytes: number;
  firstAt: number;
}

/** A chunk either completes a message (its payload), waits for more, or is dropped with a reason. */
export type ChunkResult = Buffer | 'pending' | DecodeErrorReason;

export class ChunkAssembler {
  /** In arrival order of each message's first chunk: the oldest is first, for expiry and eviction. */
  private readonly pending = new Map<string, Pending>();
  private readonly lastFormat = new Map<string, ChunkFormat>();
  private bytes = 0;

  constructor(
    private readonly limits: AssemblerLimits,
    /** Called for messages dropped later than their chunk arrived (expired, evicted). */
    private readonly onDrop: (reason: DecodeErrorReason) => void,
  ) {}

  get pendingMessages(): number {
    return this.pending.size;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  /** Chooses the header format of a chunk from `source`; undefined when neither parses. */
  parseHeader(buf: Buffer, source: string): ChunkHeader | undefined {
    const spec = plausible(buf, SPEC_HEADER);
    const short = plausible(buf, SHORT_HEADER);
    if (!spec || !short) return spec ? headerOf(buf, 'spec') : short ? headerOf(buf, 'short') : undefined;
    const asSpec = headerOf(buf, 'spec');
    const asShort = headerOf(buf, 'short');
    if (this.pending.has(keyOf(source, asSpec))) return asSpec;
    if (this.pending.has(keyOf(source, asShort))) return asShort;
    const specStarts = asSpec.seq === 0 && looksLikePayloadStart(buf, SPEC_HEADER);
    const shortStarts = asShort.seq === 0 && looksLikePayloadStart(buf, SHORT_HEADER);
    if (specStarts !== shortStarts) return specStarts ? asSpec : asShort;
    return this.lastFormat.get(source) === 'short' ? asShort : asSpec;
  }

  add(buf: Buffer, source: string, now: number): ChunkResult {
    this.expire(now);
    const header = this.parseHeader(buf, source);
    if (!header) return tooManyOrBad(buf);
    this.remember(source, header.format);

    const key = keyOf(source, header);
    let entry = this.pending.get(key);
    if (entry === undefined) {
      if (header.count === 1) return buf.subarray(header.dataOffset); // gelf-pro chunks even single messages
      entry = { parts: new Array(header.count), received: 0, bytes: 0, firstAt: now };
      this.pending.set(key, entry);
    } else if (entry.parts[header.seq] !== undefined) {
      return 'duplicate_chunk';
    }
    // a copy of exactly the data: a view would keep the whole receive buffer alive while the message waits
    const data = Buffer.allocUnsafeSlow(buf.length - header.dataOffset);
    buf.copy(data, 0, header.dataOffset);
    entry.parts[header.seq] = data;
    entry.received++;
    entry.bytes += data.length;
    this.bytes += data.length;

    if (entry.received === header.count) {
      this.remove(key, entry);
      return Buffer.concat(entry.parts as Buffer[], entry.bytes);
    }
    return this.enforceLimits(key, entry);
  }

  /** Drops messages whose first chunk is older than the 5 s the spec allows. */
  expire(now: number): void {
    for (const [key, entry] of this.pending) {
      if (now - entry.firstAt < CHUNK_TIMEOUT_MS) break; // later entries are younger
      this.remove(key, entry);
      this.onDrop('chunk_expired');
    }
  }

  clear(): void {
    this.pending.clear();
    this.bytes = 0;
  }

  /** Evicts the oldest pending messages until both caps hold; the message just added goes last. */
  private enforceLimits(currentKey: string, current: Pending): ChunkResult {
    const over = () => this.pending.size > this.limits.maxPendingMessages || this.bytes > this.limits.maxPendingBytes;
    for (const [key, entry] of this.pending) {
      if (!over()) return 'pending';
      if (key === currentKey) continue;
      this.remove(key, entry);
      this.onDrop('pending_limit');
    }
    if (!over()) return 'pending';
    this.remove(currentKey, current);
    return 'too_large';
  }

  private remove(key: string, entry: Pending): void {
    this.pending.delete(key);
    this.bytes -= entry.bytes;
  }

  private remember(source: string, format: ChunkFormat): void {
    if (this.lastFormat.get(source) === format) return;
    this.lastFormat.delete(source);
    if (this.lastFormat.size >= MAX_REMEMBERED_SOURCES) {
      this.lastFormat.delete(this.lastFormat.keys().next().value as string);
    }
    this.lastFormat.set(source, format);
  }
}

function keyOf(source: string, h: ChunkHeader): string {
  return `${h.format === 'spec' ? 'S' : 's'}${h.count}|${source}|${h.id}`;
}

/** Neither header parses: too many chunks when a count above 128 is the only problem. */
function tooManyOrBad(buf: Buffer): DecodeErrorReason {
  const over = (len: number) => buf.length >= len && buf[len - 1] > MAX_CHUNKS && buf[len - 2] < buf[len - 1];
  return over(SPEC_HEADER) || over(SHORT_HEADER) ? 'too_many_chunks' : 'bad_chunk';
}
