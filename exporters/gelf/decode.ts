/**
 * Decoding of one complete GELF payload: zlib, gzip or plain JSON, into a message object.
 * Pure (no sockets); returns a failure reason instead of throwing, because bad input is expected traffic.
 */
import { gunzipSync, inflateSync } from 'node:zlib';

/** Every reason a packet, frame or chunked message is dropped; each is a `gelf_decode_errors_total` label. */
export const DECODE_ERROR_REASONS = [
  'empty', // zero-length datagram or frame
  'unknown_format', // neither zlib, gzip, a chunk nor JSON
  'bad_compression', // corrupt or truncated zlib/gzip stream
  'bad_json', // not valid JSON (or not UTF-8 text)
  'invalid_message', // valid JSON but not an object
  'too_large', // over --gelf.max-message-bytes decompressed, or a TCP frame over --gelf.max-tcp-frame-bytes
  'bad_chunk', // chunk header inconsistent: count 0, sequence past count, too short
  'too_many_chunks', // a chunk announcing more than 128 chunks
  'duplicate_chunk', // a sequence number that already arrived for the same message
  'chunk_expired', // a chunked message still incomplete 5 s after its first chunk
  'pending_limit', // a chunked message evicted for --gelf.max-pending-messages / -bytes
] as const;

export type DecodeErrorReason = (typeof DECODE_ERROR_REASONS)[number];

/** A decoded GELF message: a JSON object with short_message, host and `_`-prefixed additional fields. */
export type GelfMessage = Record<string, unknown>;

export type PayloadKind = 'zlib' | 'gzip' | 'json' | 'unknown';

/** A zlib stream header (RFC 1950): deflate method, window <= 32K, header checksum divisible by 31. */
export function isZlibHeader(buf: Buffer, offset = 0): boolean {
  if (buf.length < offset + 2) return false;
  const cmf = buf[offset];
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && (cmf * 256 + buf[offset + 1]) % 31 === 0;
}

export function isGzipHeader(buf: Buffer, offset = 0): boolean {
  return buf.length >= offset + 2 && buf[offset] === 0x1f && buf[offset + 1] === 0x8b;
}

/** JSON object text, allowing leading whitespace. */
function isJsonStart(buf: Buffer, offset: number): boolean {
  for (let i = offset; i < buf.length && i < offset + 64; i++) {
    const c = buf[i];
    if (c === 0x7b) return true; // '{'
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return false;
}

export function payloadKind(buf: Buffer, offset = 0): PayloadKind {
  if (isZlibHeader(buf, offset)) return 'zlib';
  if (isGzipHeader(buf, offset)) return 'gzip';
  if (isJsonStart(buf, offset)) return 'json';
  return 'unknown';
}

/** Whether a chunk's data could be the start of a payload (used to tell chunk header formats apart). */
export function looksLikePayloadStart(buf: Buffer, offset: number): boolean {
  return payloadKind(buf, offset) !== 'unknown';
}

/**
 * zlib or gzip, at most maxBytes out. The output buffer starts near the expected size (log lines compress
 * about 2-4x) instead of zlib's 16 KiB, which halves the cost of a typical message (less garbage to collect).
 */
function inflate(buf: Buffer, maxBytes: number): Buffer | DecodeErrorReason {
  const opts = { maxOutputLength: maxBytes, chunkSize: Math.min(Math.max(buf.length * 4, 1024), 65536) };
  try {
    return buf[0] === 0x1f ? gunzipSync(buf, opts) : inflateSync(buf, opts);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : 'bad_compression';
  }
}

/**
 * Decodes one complete payload. `maxBytes` caps the decompressed size: a zip bomb stops inflating at
 * the cap (zlib's maxOutputLength) instead of filling memory. Corrupt input is ordinary traffic here, so the
 * errors zlib and JSON.parse throw are created without stack traces, their costly part.
 */
export function decodePayload(buf: Buffer, maxBytes: number): GelfMessage | DecodeErrorReason {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return decode(buf, maxBytes);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function decode(buf: Buffer, maxBytes: number): GelfMessage | DecodeErrorReason {
  if (buf.length === 0) return 'empty';
  let text: Buffer;
  switch (payloadKind(buf)) {
    case 'zlib':
    case 'gzip': {
      const decoded = inflate(buf, maxBytes);
      if (typeof decoded === 'string') return decoded;
      text = decoded;
      break;
    }
    case 'json':
      if (buf.length > maxBytes) return 'too_large';
      text = buf;
      break;
    default:
      return 'unknown_format';
  }
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch {
    return 'bad_json';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'invalid_message';
  return value as GelfMessage;
}
