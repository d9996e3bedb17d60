/** msgpack-js 0.3 (the encoder ZoneMTA's plugin loader uses for log.remote) ships no types. */
declare module 'msgpack-js' {
  export function encode(value: unknown): Buffer;
  /** Throws on unknown types and trailing bytes. */
  export function decode(buffer: Buffer): unknown;
}
