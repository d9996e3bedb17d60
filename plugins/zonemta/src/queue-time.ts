/**
 * Time in queue, measured in the sender process: `sender:fetch` sees the queue entry's `created` date,
 * the ACCEPTED/REJECTED log entry of the same id.seq (logged right after, in the same process) closes it.
 */
const MAX_TRACKED = 10000;

export class QueueTimeTracker {
  private readonly created = new Map<string, number>();

  /** `created` arrives from the master as msgpack-js turns a Date into: an ISO string (a Date or ms also work). */
  fetched(id: unknown, seq: unknown, created: unknown): void {
    const ms = created instanceof Date ? created.getTime() : typeof created === 'string' ? Date.parse(created) : Number(created);
    if (!id || !seq || !Number.isFinite(ms)) return;
    if (this.created.size >= MAX_TRACKED) {
      // deliveries that never logged an outcome (a crashed attempt) must not grow the map forever
      const oldest = this.created.keys().next().value;
      if (oldest !== undefined) this.created.delete(oldest);
    }
    this.created.set(`${String(id)}.${String(seq)}`, ms);
  }

  /** Seconds since creation for a finished attempt, or undefined when the fetch was not seen. */
  finished(id: unknown, seq: unknown, now = Date.now()): number | undefined {
    const key = `${String(id)}.${String(seq)}`;
    const ms = this.created.get(key);
    if (ms === undefined) return undefined;
    this.created.delete(key);
    return Math.max(0, (now - ms) / 1000);
  }

  get size(): number {
    return this.created.size;
  }
}
