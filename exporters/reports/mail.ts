/**
 * A report mail in, every report attachment decoded: mailparser walks any MIME shape (a single-part
 * application/gzip message, multipart/mixed with a text part, nested multiparts, forwarded message/rfc822) and
 * hands each attachment over as a stream, which is decoded while the mail is still being read.
 */
import type { Readable } from 'node:stream';
import { MailParser, type AttachmentStream } from 'mailparser';
import { decodeReport, type DecodeOptions } from './decode';
import { ReportError, type Report } from './report';

/** Which attachments may be reports: by content type or file name; the decoder then trusts only the bytes. */
export function mayBeReport(contentType: string, filename: string | undefined): boolean {
  if (/(xml|json|zip|gzip|tlsrpt|octet-stream)/i.test(contentType)) return true;
  return /\.(xml|json|zip|gz|gzip)$/i.test(filename ?? '');
}

/**
 * Reads one message and resolves to the outcome of each report attachment in it (an empty list: no report).
 * Rejects only when the message itself cannot be read (the source failed).
 */
export function reportsInMail(source: Readable, opts: DecodeOptions): Promise<(Report | ReportError)[]> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser({ skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true });
    const outcomes: Promise<Report | ReportError>[] = [];
    parser.on('data', (part: AttachmentStream | { type: 'text' }) => {
      if (part.type !== 'attachment') return;
      const data: AttachmentStream = part;
      const stream = data.content as Readable;
      const release = () => data.release?.();
      if (!mayBeReport(data.contentType, data.filename)) {
        stream.on('end', () => release());
        stream.resume();
        return;
      }
      const reader = new StreamReader(stream);
      outcomes.push(
        decodeReport(reader, opts)
          .catch((err: unknown) => (err instanceof ReportError ? err : new ReportError('malformed', 'unknown', (err as Error).message)))
          // The decoder may stop early (too large, not a report): drain the rest so the message parse goes on.
          .finally(() => reader.drain().then(() => release())),
      );
    });
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      parser.destroy();
      reject(err);
    };
    parser.on('error', fail);
    source.on('error', fail);
    parser.on('end', () => {
      if (!failed) Promise.all(outcomes).then(resolve, reject);
    });
    source.pipe(parser);
  });
}

/**
 * A stream's chunks as an async iterable that, unlike a Readable's own iterator, leaves the stream alone when
 * the consumer stops early: mailparser needs every attachment read to its end.
 */
class StreamReader implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private ended = false;
  private error: Error | undefined;
  private draining = false;
  private wake: (() => void) | undefined;

  constructor(private readonly stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      if (this.draining) return;
      this.queue.push(chunk);
      if (this.queue.length >= 4) stream.pause();
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.on('error', (err) => {
      this.error = err;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.queue.length) {
        const chunk = this.queue.shift()!;
        if (this.queue.length < 2) this.stream.resume();
        yield chunk;
      } else if (this.error) throw this.error;
      else if (this.ended) return;
      else await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Reads and drops whatever is left. */
  drain(): Promise<void> {
    this.draining = true;
    this.queue.length = 0;
    if (this.ended || this.error) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.once('end', resolve);
      this.stream.once('error', () => resolve());
      this.stream.resume();
    });
  }
}
