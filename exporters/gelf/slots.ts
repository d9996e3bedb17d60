/**
 * Who gets a GELF TCP slot. One source (an IPv4 address, or an IPv6 /64: one host there owns the whole prefix)
 * may hold at most `perSource` connections, so it cannot lock out the others. When a source or the whole server
 * is at its cap, the connection idle longest (silent for at least `evictIdleMs`, no partial frame held) is
 * closed to make room; only when none is idle is the new connection refused.
 */
import net from 'node:net';

export interface Slot {
  source: string;
  /** Last time data arrived (or the connection opened), ms. */
  lastActive: number;
  /** Whether it holds part of a frame (closing it would lose data). */
  busy(): boolean;
}

export type Admission<S extends Slot> = { admit: true; evict?: S } | { admit: false; reason: 'max_connections' | 'source_limit' };

/** The source a connection counts against: the IPv4 address, or the /64 of an IPv6 address. */
export function sourceOf(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (!net.isIPv6(v4)) return v4;
  // Expand '::' so the first four groups are the prefix.
  const [head, tail = ''] = v4.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = v4.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':') + '::/64';
}

export class SlotTable<S extends Slot> {
  private readonly bySource = new Map<string, Set<S>>();
  private count = 0;

  constructor(
    private readonly max: number,
    private readonly perSource: number,
    private readonly evictIdleMs: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Whether a new connection from `source` may open now, and which idle one to close first. */
  admit(source: string, now: number): Admission<S> {
    const own = this.bySource.get(source);
    if (own && own.size >= this.perSource) {
      const evict = this.idlest(own, now);
      return evict ? { admit: true, evict } : { admit: false, reason: 'source_limit' };
    }
    if (this.count >= this.max) {
      let evict: S | undefined;
      for (const slots of this.bySource.values()) {
        const idle = this.idlest(slots, now);
        if (idle && (!evict || idle.lastActive < evict.lastActive)) evict = idle;
      }
      return evict ? { admit: true, evict } : { admit: false, reason: 'max_connections' };
    }
    return { admit: true };
  }

  add(slot: S): void {
    let own = this.bySource.get(slot.source);
    if (!own) this.bySource.set(slot.source, (own = new Set()));
    if (!own.has(slot)) {
      own.add(slot);
      this.count++;
    }
  }

  remove(slot: S): void {
    const own = this.bySource.get(slot.source);
    if (!own?.delete(slot)) return;
    this.count--;
    if (own.size === 0) this.bySource.delete(slot.source);
  }

  private idlest(slots: Set<S>, now: number): S | undefined {
    let best: S | undefined;
    for (const s of slots) {
      if (now - s.lastActive < this.evictIdleMs || s.busy()) continue;
      if (!best || s.lastActive < best.lastActive) best = s;
    }
    return best;
  }
}
