/**
 * One attachment or file in, one report out: tells gzip, zip, XML and JSON apart by their first bytes (names and
 * content types lie), decompresses as a stream and hands the bytes to the DMARC or TLS-RPT parser.
 * Decompressed bytes are counted as they come: past --reports.max-report-bytes a compressed input is a `zip_bomb`,
 * a plain one `oversized`, and decompression stops there. Nothing holds more than one chunk of a report,
 * except TLS-RPT JSON, which is capped at --reports.max-json-bytes before it is parsed.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Unzip, UnzipInflate } from 'fflate';
import { DmarcParser } from './dmarc';
import { ReportError, type Report, type Source } from './report';
import { parseTlsRpt } from './tlsrpt';

export interface DecodeOptions {
  /** Most bytes a report may have once decompressed. */
  maxReportBytes: number;
  /** Most bytes a TLS-RPT JSON report may have (it is parsed whole). */
  maxJsonBytes: number;
  classify(ip: string): Source;
}

/** Zip input is pushed in slices this small, so one push inflates to at most ~1000 times this. */
const ZIP_SLICE = 4096;

export async function decodeReport(input: AsyncIterable<Uint8Array>, opts: DecodeOptions): Promise<Report> {
  const { head, chunks } = await peek(input, 4);
  if (head[0] === 0x1f && head[1] === 0x8b) return parsePlain(limited(gunzip(chunks), opts.maxReportBytes, true), opts);
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    return parsePlain(limited(unzipFirst(chunks), opts.maxReportBytes, true), opts);
  }
  return parsePlain(limited(chunks, opts.maxReportBytes, false), opts);
}

/** XML or JSON, told by the first character that is not whitespace or a byte order mark. */
async function parsePlain(input: AsyncIterable<Buffer>, opts: DecodeOptions): Promise<Report> {
  let parse: ((chunk: Buffer) => void) | undefined;
  let finish: (() => Report) | undefined;
  for await (const chunk of input) {
    if (!parse) {
      const first = firstSignificant(chunk);
      if (first === undefined) continue; // only whitespace so far: dropped, it means nothing in XML or JSON
      if (first === 0x3c /* < */) {
        const xml = new DmarcParser(opts.classify);
        parse = (c) => xml.write(c);
        finish = () => xml.end();
      } else if (first === 0x7b /* { */) {
        const parts: Buffer[] = [];
        let size = 0;
        parse = (c) => {
          size += c.length;
          if (size > opts.maxJsonBytes) throw new ReportError('oversized', 'tlsrpt', `JSON report larger than ${opts.maxJsonBytes} bytes`);
          parts.push(c);
        };
        finish = () => parseTlsRpt(Buffer.concat(parts).toString('utf8'));
      } else {
        throw new ReportError('malformed', 'unknown', 'neither XML, JSON, gzip nor zip');
      }
    }
    parse(chunk);
  }
  if (!finish) throw new ReportError('malformed', 'unknown', 'empty report');
  return finish();
}

function firstSignificant(chunk: Buffer): number | undefined {
  let i = 0;
  if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3; // UTF-8 byte order mark
  for (; i < chunk.length; i++) {
    const c = chunk[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return undefined;
}

/** Reads at least `n` bytes (or all there is) and gives them back together with the rest of the stream. */
async function peek(input: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; chunks: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    first.push(b);
    size += b.length;
  }
  const head = Buffer.concat(first);
  async function* chunks(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  }
  return { head, chunks: chunks() };
}

async function* limited(input: AsyncIterable<Buffer>, max: number, compressed: boolean): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of input) {
    size += chunk.length;
    if (size > max) {
      throw compressed
        ? new ReportError('zip_bomb', 'unknown', `decompresses to more than ${max} bytes`)
        : new ReportError('oversized', 'unknown', `larger than ${max} bytes`);
    }
    yield chunk;
  }
}

async function* gunzip(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const source = Readable.from(input);
  const inflate = createGunzip();
  source.on('error', (err) => inflate.destroy(err));
  source.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof ReportError) throw err;
    throw new ReportError('malformed', 'unknown', `bad gzip data: ${(err as Error).message}`);
  } finally {
    // The consumer stopped early (too large, not a report): stop reading the input too.
    source.destroy();
    inflate.destroy();
  }
}

/** The first .xml or .json file of a zip archive (reporters send one), read from its local headers as a stream. */
async function* unzipFirst(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  let chosen = false;
  let ended = false;
  let failure: Error | undefined;
  const unzip = new Unzip((file) => {
    if (chosen || !/\.(xml|json)$/i.test(file.name)) return;
    chosen = true;
    file.ondata = (err, data, final) => {
      if (err) failure ??= err;
      else if (data.length) out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      if (final) ended = true;
    };
    try {
      file.start();
    } catch (err) {
      failure ??= err as Error;
    }
  });
  unzip.register(UnzipInflate);
  const push = (data: Uint8Array, final: boolean) => {
    try {
      unzip.push(data, final);
    } catch (err) {
      failure ??= err as Error;
    }
  };
  for await (const chunk of input) {
    for (let i = 0; i < chunk.length && !ended; i += ZIP_SLICE) {
      push(chunk.subarray(i, i + ZIP_SLICE), false);
      if (failure) throw new ReportError('malformed', 'unknown', `bad zip data: ${failure.message}`);
      while (out.length) yield out.shift()!;
    }
    if (ended) break;
  }
  if (!ended) push(new Uint8Array(0), true);
  if (failure) throw new ReportError('malformed', 'unknown', `bad zip data: ${failure.message}`);
  while (out.length) yield out.shift()!;
  if (!chosen) throw new ReportError('malformed', 'unknown', 'zip archive without an .xml or .json file');
  if (!ended) throw new ReportError('malformed', 'unknown', 'zip archive ends inside its report');
}
