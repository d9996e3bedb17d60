/**
 * What happens to every datagram or TCP frame, without the sockets: count it, reassemble chunks, decode,
 * count the message and its mail events. Every input ends in exactly one outcome: a message, a chunk waiting
 * for the rest of its message, or a `gelf_decode_errors_total` reason (chunked messages that never complete
 * are counted once, as chunk_expired or pending_limit, when they are dropped).
 */
import { Gauge, type Registry } from 'prom-client';
import { allowlisted } from '../kit/labels';
import { ChunkAssembler, isChunk } from './chunks';
import { DECODE_ERROR_REASONS, type DecodeErrorReason, decodePayload, type GelfMessage } from './decode';
import { MailEvents } from './events';
import { Tally } from './tally';

export type Protocol = 'udp' | 'tcp';
export type Outcome = 'message' | 'pending' | DecodeErrorReason;

export interface ReceiverOptions {
  registry: Registry;
  /** Components kept as labels (`_component`); others are `other`, none is `none`. */
  components: string[];
  zones: string[];
  rejectCodes: string[];
  maxMessageBytes: number;
  maxPendingMessages: number;
  maxPendingBytes: number;
}

export class GelfReceiver {
  readonly assembler: ChunkAssembler;
  private readonly events: MailEvents;
  private readonly components: Set<string>;
  private readonly maxMessageBytes: number;
  private readonly packets: Tally<'protocol'>;
  private readonly bytes: Tally<'protocol'>;
  private readonly messages: Tally<'component'>;
  private readonly errors: Tally<'reason'>;

  constructor(opts: ReceiverOptions) {
    const registry = opts.registry;
    const registers = [registry];
    this.packets = new Tally({ name: 'gelf_packets_total', help: 'GELF UDP datagrams (chunks included) and TCP frames received.', labelNames: ['protocol'], registry });
    this.bytes = new Tally({ name: 'gelf_received_bytes_total', help: 'Bytes of GELF UDP datagrams and TCP frames received.', labelNames: ['protocol'], registry });
    this.messages = new Tally({ name: 'gelf_messages_total', help: 'GELF messages decoded, by sending component (_component).', labelNames: ['component'], registry });
    this.errors = new Tally({ name: 'gelf_decode_errors_total', help: 'GELF datagrams, frames or chunked messages dropped, by reason.', labelNames: ['reason'], registry });
    for (const reason of DECODE_ERROR_REASONS) this.errors.inc({ reason }, 0);
    for (const protocol of ['udp', 'tcp'] as const) {
      this.packets.inc({ protocol }, 0);
      this.bytes.inc({ protocol }, 0);
    }

    this.assembler = new ChunkAssembler(opts, (reason) => this.errors.inc({ reason }));
    const assembler = this.assembler;
    new Gauge({
      name: 'gelf_pending_messages',
      help: 'Chunked GELF messages waiting for their remaining chunks.',
      registers,
      collect() {
        this.set(assembler.pendingMessages);
      },
    });
    new Gauge({
      name: 'gelf_pending_bytes',
      help: 'Bytes held by chunked GELF messages waiting for their remaining chunks.',
      registers,
      collect() {
        this.set(assembler.pendingBytes);
      },
    });

    this.components = new Set(opts.components);
    this.maxMessageBytes = opts.maxMessageBytes;
    this.events = new MailEvents(opts);
  }

  /** Handles one UDP datagram or one TCP frame (without its terminating \0) from `source` (ip:port). */
  receive(buf: Buffer, protocol: Protocol, source: string, now?: number): Outcome {
    this.packets.inc({ protocol });
    this.bytes.inc({ protocol }, buf.length);
    let payload = buf;
    if (isChunk(buf)) {
      const result = this.assembler.add(buf, source, now ?? Date.now());
      if (typeof result === 'string') return this.fail(result);
      payload = result;
    }
    const decoded = decodePayload(payload, this.maxMessageBytes);
    if (typeof decoded === 'string') return this.fail(decoded);
    this.count(decoded);
    return 'message';
  }

  /** Drops chunked messages older than 5 s; run it on a timer too, so expiry needs no new traffic. */
  expire(now = Date.now()): void {
    this.assembler.expire(now);
  }

  /** Counts a frame dropped before it could be decoded (a TCP frame over the size cap). */
  reject(protocol: Protocol, byteLength: number, reason: DecodeErrorReason): DecodeErrorReason {
    this.packets.inc({ protocol });
    this.bytes.inc({ protocol }, byteLength);
    return this.fail(reason);
  }

  private fail<R extends Outcome>(reason: R): R {
    if (reason !== 'pending') this.errors.inc({ reason });
    return reason;
  }

  private count(msg: GelfMessage): void {
    const component = allowlisted(msg._component, this.components);
    this.messages.inc({ component });
    this.events.observe(msg, component);
  }
}
