/**
 * Sender and receiver processes have no /metrics of their own: what only they can see travels to the
 * master's log receiver as small msgpack datagrams on loopback, the same way ZoneMTA's log.remote does.
 * One socket per process (ZoneMTA opens one per entry), unref'd so it never keeps a process alive.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import * as msgpack from 'msgpack-js';
import type { Address } from './config';

export class EventForwarder {
  private socket: Socket | undefined;

  constructor(private readonly target: Address) {}

  send(event: Record<string, unknown>): void {
    let payload: Buffer;
    try {
      payload = msgpack.encode(event);
    } catch {
      return; // an entry msgpack-js cannot encode is one ZoneMTA could not have sent either
    }
    if (!this.socket) {
      this.socket = createSocket(isIP(this.target.host) === 6 ? 'udp6' : 'udp4');
      // a missing receiver (master restarting) must not throw in a sender: datagrams are simply lost
      this.socket.on('error', () => undefined);
      this.socket.unref();
    }
    this.socket.send(payload, this.target.port, this.target.host || '127.0.0.1');
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}
