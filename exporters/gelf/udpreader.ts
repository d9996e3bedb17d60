/**
 * The GELF UDP socket is read in a worker thread that does nothing else, so the kernel's buffer (which
 * net.core.rmem_max caps, often at a few MB, about 10,000 small datagrams) is drained while the main thread
 * decodes, renders a scrape or collects garbage. Datagrams reach the main thread in batches; at most
 * `maxInFlightBytes` may be on their way (the main thread acknowledges what it took), beyond which the reader
 * drops them and says how many, so a main thread that stalls under a flood cannot make memory grow without bound.
 */
import { Worker } from 'node:worker_threads';

// Plain JavaScript: it runs the same from dist/ and under tsx.
const READER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { family, host, port, receiveBufferBytes, maxInFlightBytes } = workerData;
const udp = dgram.createSocket({ type: family, recvBufferSize: receiveBufferBytes });
let bufs = [], sources = [], bytes = 0, inFlight = 0, dropped = 0, scheduled = false;
function flush() {
  scheduled = false;
  if (bufs.length === 0 && dropped === 0) return;
  parentPort.postMessage({ type: 'data', bufs, sources, bytes, dropped });
  inFlight += bytes;
  bufs = []; sources = []; bytes = 0; dropped = 0;
}
udp.on('message', (buf, rinfo) => {
  if (inFlight + bytes + buf.length > maxInFlightBytes) { dropped++; return; }
  bufs.push(buf);
  // the sender's address matters only to reassemble chunks: no string for the others
  sources.push(buf[0] === 0x1e ? rinfo.address + ':' + rinfo.port : '');
  bytes += buf.length;
  if (bufs.length >= 512) flush();
  else if (!scheduled) { scheduled = true; setImmediate(flush); }
});
udp.once('error', (err) => parentPort.postMessage({ type: 'error', message: err.message, code: err.code }));
udp.bind(port, host, () => {
  udp.on('error', (err) => parentPort.postMessage({ type: 'warn', message: err.message }));
  parentPort.postMessage({ type: 'listening', port: udp.address().port, granted: udp.getRecvBufferSize() });
});
parentPort.on('message', (m) => {
  if (m.type === 'ack') inFlight -= m.bytes;
  else if (m.type === 'close') udp.close(() => parentPort.close());
});
`;

export interface UdpReaderOptions {
  family: 'udp4' | 'udp6';
  host: string;
  port: number;
  receiveBufferBytes: number;
  maxInFlightBytes: number;
  /** A batch of datagrams with their sources ('' unless a chunk), and how many the reader had to drop before it. */
  onDatagrams(bufs: Buffer[], sources: string[], dropped: number): void;
  onWarning(message: string): void;
  /** The reader thread died (it should not): it is started again on the same port. */
  onRestart(reason: string): void;
}

type FromReader =
  | { type: 'listening'; port: number; granted: number }
  | { type: 'error'; message: string; code?: string }
  | { type: 'warn'; message: string }
  | { type: 'data'; bufs: Uint8Array[]; sources: string[]; bytes: number; dropped: number };

export class UdpReader {
  port = 0;
  /** Receive buffer the kernel granted (Linux reports twice what was asked, up to twice net.core.rmem_max). */
  granted?: number;
  private worker?: Worker;

  constructor(private readonly opts: UdpReaderOptions) {}

  start(): Promise<void> {
    const { family, host, receiveBufferBytes, maxInFlightBytes } = this.opts;
    // After a restart, the port it had (the flag may say 0).
    const port = this.port || this.opts.port;
    const worker = new Worker(READER, { eval: true, workerData: { family, host, port, receiveBufferBytes, maxInFlightBytes } });
    this.worker = worker;
    let listening = false;
    worker.on('exit', (code) => {
      if (this.worker !== worker || !listening) return; // stopped, or failed to start (start() rejected)
      this.opts.onRestart(`exit code ${code}`);
      this.start().catch((err: Error) => this.opts.onRestart(`restart failed: ${err.message}`));
    });
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromReader) => {
        if (m.type === 'data') {
          // Structured clone turns Buffers into plain Uint8Arrays: view them as Buffers again, without a copy.
          this.opts.onDatagrams(m.bufs.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)), m.sources, m.dropped);
          worker.postMessage({ type: 'ack', bytes: m.bytes });
        } else if (m.type === 'listening') {
          listening = true;
          this.port = m.port;
          this.granted = m.granted;
          resolve();
        } else if (m.type === 'error') {
          const err = Object.assign(new Error(m.message), { code: m.code });
          void worker.terminate();
          reject(err);
        } else {
          this.opts.onWarning(m.message);
        }
      });
      // An uncaught error in the reader ends it: 'exit' follows and restarts it.
      worker.on('error', (err) => (listening ? this.opts.onRestart(err.message) : reject(err)));
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' });
    // The reader ends when its socket is closed; terminate if it does not within a second.
    const timer = setTimeout(() => void worker.terminate(), 1000);
    await exited;
    clearTimeout(timer);
  }
}
