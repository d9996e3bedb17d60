/**
 * GELF over TCP: uncompressed JSON frames, each ending in a \0 byte. Splits a byte stream into frames,
 * holding at most `maxFrameBytes` of an unfinished frame; a longer frame is skipped up to its \0 and reported once.
 */
export class FrameSplitter {
  private parts: Buffer[] = [];
  private length = 0;
  /** Bytes of an oversized frame being skipped, or -1 when not skipping. */
  private skipped = -1;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onTooLarge: (byteLength: number) => void,
  ) {}

  push(data: Buffer): void {
    let start = 0;
    for (;;) {
      const end = data.indexOf(0, start);
      if (end === -1) {
        this.append(data.subarray(start));
        return;
      }
      this.append(data.subarray(start, end));
      this.finish();
      start = end + 1;
    }
  }

  /** The connection ended: a last frame without its \0 still counts. */
  end(): void {
    if (this.length > 0 || this.skipped >= 0) this.finish();
  }

  /** Bytes held for the unfinished frame. */
  get buffered(): number {
    return this.length;
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipped >= 0) {
      this.skipped += piece.length;
    } else if (this.length + piece.length > this.maxFrameBytes) {
      this.skipped = this.length + piece.length;
      this.parts = [];
      this.length = 0;
    } else {
      this.parts.push(piece);
      this.length += piece.length;
    }
  }

  private finish(): void {
    if (this.skipped >= 0) {
      const skipped = this.skipped;
      this.skipped = -1;
      this.onTooLarge(skipped);
      return;
    }
    const frame = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    this.onFrame(frame);
  }
}
