/**
 * Small helpers shared by the MongoDB collectors: numbers out of BSON values, time left in a scrape,
 * and counters that mirror a total the server already keeps.
 */
import type { Counter, Gauge } from 'prom-client';
import type { ScrapeContext } from '../kit/exporter';

/** A BSON number (double, int32, Long, Decimal128, Timestamp) or a Date as a JavaScript number; NaN otherwise. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  if (value && typeof value === 'object' && 'toNumber' in value && typeof value.toNumber === 'function') {
    return Number(value.toNumber()); // Long
  }
  if (value && typeof value === 'object' && 'toString' in value) {
    const n = Number(String(value)); // Decimal128, Int32, Double wrappers
    return Number.isFinite(n) ? n : NaN;
  }
  return NaN;
}

/** Milliseconds left before the collector's deadline; sent as maxTimeMS so the server stops the work too. */
export function remainingMs(ctx: ScrapeContext): number {
  return Math.max(1, Math.floor(ctx.deadline - Date.now()));
}

/**
 * Sets a counter to the server's own running total. The counter must have been reset() at the start of the
 * fill (so series that vanished go away); a server restart shows as the usual counter reset.
 */
export function setTotal<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>, value: number): void {
  if (Number.isFinite(value) && value >= 0) counter.inc(labels, value);
}

/**
 * Drops every series of the given metrics. reset() alone leaves a 0 on metrics without labels, and a 0 would
 * read as a real value (an empty cache, no connections) while the server is down; remove({}) takes it away.
 */
export function clearMetrics(metrics: Array<Gauge<string> | Counter<string>>): void {
  for (const m of metrics) {
    m.reset();
    m.remove({});
  }
}
