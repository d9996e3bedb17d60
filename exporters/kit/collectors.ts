/**
 * Runs an exporter's collectors in parallel at scrape time, each inside its own deadline, and reports
 * `<prefix>_scrape_collector_success{collector}` and `<prefix>_scrape_collector_duration_seconds{collector}`
 * (node_exporter's shape). One slow or failing collector never takes the others or the scrape down.
 */
import { Gauge, type Registry } from 'prom-client';
import type { ScrapeContext } from './exporter';
import type { Logger } from './log';

export interface Collector {
  name: string;
  /** Fetch once, fill gauges. Honour ctx.signal; throw on failure. */
  collect(ctx: ScrapeContext): Promise<void>;
}

export class CollectorTimeoutError extends Error {}

/**
 * Collectors end a little before the scrape's deadline, so their failures are reported in the same scrape
 * instead of the kit's deadline answering `up 0` first.
 */
export function collectorBudgetMs(remainingMs: number): number {
  return remainingMs - Math.min(100, remainingMs / 10);
}

/** Runs fn with a deadline; rejects with CollectorTimeoutError when it passes. */
export async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Reject before aborting: work that ends on abort must not win the race and look successful.
      reject(new CollectorTimeoutError(`timed out after ${ms} ms`));
      controller.abort();
    }, Math.max(1, ms));
  });
  try {
    return await Promise.race([fn(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class CollectorRunner {
  private readonly success: Gauge<'collector'>;
  private readonly duration: Gauge<'collector'>;

  constructor(
    prefix: string,
    registry: Registry,
    private readonly collectors: Collector[],
    private readonly log: Logger,
  ) {
    this.success = new Gauge({
      name: `${prefix}_scrape_collector_success`,
      help: `Whether the ${prefix} collector succeeded in the last scrape (1) or failed or timed out (0).`,
      labelNames: ['collector'],
      registers: [registry],
    });
    this.duration = new Gauge({
      name: `${prefix}_scrape_collector_duration_seconds`,
      help: `Time the ${prefix} collector took in the last scrape, in seconds.`,
      labelNames: ['collector'],
      registers: [registry],
    });
  }

  /** Runs every collector (each gets the scrape's remaining time); resolves to the names that failed. */
  async run(ctx: ScrapeContext): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all(
      this.collectors.map(async (c) => {
        const started = performance.now();
        try {
          await withDeadline(collectorBudgetMs(ctx.deadline - Date.now()), (signal) =>
            c.collect({ ...ctx, signal: AbortSignal.any([signal, ctx.signal]) }),
          );
          this.success.set({ collector: c.name }, 1);
        } catch (err) {
          failed.push(c.name);
          this.success.set({ collector: c.name }, 0);
          this.log.warn('collector failed', { collector: c.name, err: (err as Error).message });
        } finally {
          this.duration.set({ collector: c.name }, (performance.now() - started) / 1000);
        }
      }),
    );
    return failed;
  }
}
