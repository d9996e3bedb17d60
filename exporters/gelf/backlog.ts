/**
 * Datagrams wait here between the socket and the decoder. libuv reads at most 32 datagrams each time the
 * socket is readable, so decoding them all at once leaves the socket unread while a burst fills its kernel
 * buffer (which net.core.rmem_max caps, often at a few MB) and the kernel drops the rest. Instead the
 * 'message' handler only queues, and the queue is decoded in slices of about a millisecond between reads:
 * a burst waits here, bounded by bytes, and only what exceeds the bound is dropped (and counted).
 */
export interface Queued {
  buf: Buffer;
  source: string;
  /** When it arrived (chunk expiry is measured from arrival, not from decoding). */
  at: number;
}

const SLICE_MS = 0.25;

export class DatagramBacklog {
  private queue: Queued[] = [];
  private head = 0;
  private bytes = 0;
  private scheduled?: NodeJS.Immediate;
  dropped = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly handle: (item: Queued) => void,
  ) {}

  get queuedBytes(): number {
    return this.bytes;
  }

  push(buf: Buffer, source: string): void {
    if (this.bytes + buf.length > this.maxBytes) {
      this.dropped++;
      return;
    }
    this.queue.push({ buf, source, at: Date.now() });
    this.bytes += buf.length;
    this.scheduled ??= setImmediate(() => this.drain());
  }

  /** Decodes for about SLICE_MS, then yields to the event loop so the socket is read again. */
  drain(): void {
    this.scheduled = undefined;
    const until = performance.now() + SLICE_MS;
    do {
      const item = this.queue[this.head++];
      this.bytes -= item.buf.length;
      this.handle(item);
    } while (this.head < this.queue.length && performance.now() < until);
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else {
      if (this.head > 4096) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.scheduled = setImmediate(() => this.drain());
    }
  }

  /** Decodes everything still queued (stop), or drops it (clear). */
  flush(): void {
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.head < this.queue.length) {
      const item = this.queue[this.head++];
      this.handle(item);
    }
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
  }
}
