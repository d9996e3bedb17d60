import type { Collector } from '../kit/collectors';

/** A scrape-time collector that can also drop its series (target down, or its own fetch failed). */
export interface MongoCollector extends Collector {
  /** Removes every series it owns: stale figures from an earlier scrape are worse than none. */
  clear(): void;
}
