/**
 * A Prometheus counter for the per-message hot path. prom-client's Counter.inc() hashes and validates the
 * label object on every call, about as costly as decoding a small message; here an increment is a Map update,
 * and the totals are handed to prom-client when it renders a scrape.
 */
import { Counter, type Registry } from 'prom-client';

interface Series<L extends string> {
  labels: Record<L, string>;
  value: number;
}

export class Tally<L extends string = never> {
  private readonly series = new Map<string, Series<L>>();

  constructor(opts: { name: string; help: string; labelNames?: L[]; registry: Registry }) {
    const series = this.series;
    new Counter<L>({
      name: opts.name,
      help: opts.help,
      labelNames: opts.labelNames ?? [],
      registers: [opts.registry],
      collect() {
        this.reset();
        for (const s of series.values()) this.inc(s.labels, s.value);
      },
    });
    if (!opts.labelNames?.length) this.inc(undefined, 0);
  }

  /** Adds `by` (default 1) to the series of these labels; 0 makes a series visible before its first event. */
  inc(labels: Record<L, string> = {} as Record<L, string>, by = 1): void {
    let key = '';
    for (const name in labels) key += labels[name] + '\u0000';
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }
}
