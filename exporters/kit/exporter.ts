/**
 * The contract between the kit and every exporter.
 *
 * An exporter declares its name, default port and flags; the kit parses flags, creates a private
 * prom-client Registry, serves HTTP and calls the exporter's lifecycle. Exporters never touch express.
 */
import type { Registry } from 'prom-client';
import type { FlagSpec, FlagValues } from './flags';
import type { Logger } from './log';

export interface ScrapeContext {
  /** Time left for this scrape, from X-Prometheus-Scrape-Timeout-Seconds less a safety margin. */
  timeoutMs: number;
  /** Absolute deadline (Date.now() based). */
  deadline: number;
  /** Aborted when the deadline passes; pass it to fetches and queries. */
  signal: AbortSignal;
}

export interface ExporterContext {
  /** The exporter's own registry: register every metric here (prom-client `registers: [registry]`). */
  registry: Registry;
  /** Values of the exporter's own flags, keyed by full flag name without dashes, e.g. 'gelf.listen-address'. */
  flags: FlagValues;
  log: Logger;
}

export interface Exporter {
  /** Open sockets, connect, start background work. Rejects only for configuration that cannot work. */
  start?(): Promise<void>;
  /**
   * Called once per scrape before the registry renders (concurrent scrapes share one call).
   * Returns whether the monitored target is up; the kit sets `<name>_up` from it. A throw counts as down.
   * Exporters without a scrape-time target (gelf) may omit it: `<name>_up` is then 1 while running.
   */
  scrape?(ctx: ScrapeContext): Promise<boolean>;
  /** Whether /-/ready answers 200. Defaults to true once start() resolved. */
  ready?(): boolean;
  /** Close everything start() opened; must resolve even when the target is down. */
  stop?(): Promise<void>;
}

export interface ExporterDefinition {
  /** Subcommand and metric prefix: `tinomail-monitor <name>`, `<name>_up`. */
  name: string;
  /** One line for --help and the landing page. */
  description: string;
  /** Default port of its /metrics listener (see docs/ports.md). */
  defaultPort: number;
  /** Its own flags, each named `<name>.<setting>`. */
  flags: FlagSpec[];
  /** What it watches, for the landing page: a URL or address from its flags (the kit redacts passwords and tokens). */
  target?(flags: FlagValues): string;
  create(ctx: ExporterContext): Exporter;
}
