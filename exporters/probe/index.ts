/**
 * `tinomail-monitor probe`: end-to-end mail probe. Sends a message along every route of --probe.config.file,
 * finds it in the mailbox, and reports whether and how fast it arrived, hop by hop, and in which folder.
 * Without a config file it runs with no routes and answers `probe_up 0` (so `all` never fails for it).
 * See docs/probe.md.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Exporter, ExporterContext, ExporterDefinition } from '../kit/exporter';
import { FlagError } from '../kit/flags';
import type { Logger } from '../kit/log';
import { ConfigError, parseConfig, type RouteConfig } from './config';
import { Ledger } from './ledger';
import { ProbeMetrics } from './metrics';
import { RouteProber } from './prober';

/** Reads and checks the config file; a file that cannot work is a flag error (exit 2) naming the flag. */
export function loadRoutes(path: string): RouteConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlagError(`invalid --probe.config.file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseConfig(text, dirname(resolve(path)));
  } catch (err) {
    if (err instanceof ConfigError) throw new FlagError(`invalid --probe.config.file ${path}: ${err.message}`);
    throw err;
  }
}

export class ProbeExporter implements Exporter {
  readonly routes: RouteConfig[];
  readonly probers: RouteProber[] = [];
  private readonly log: Logger;
  private readonly metrics: ProbeMetrics;
  private readonly statePath: string;
  private readonly autoStart: boolean;

  constructor(ctx: ExporterContext, opts: { autoStart?: boolean } = {}) {
    this.log = ctx.log;
    const file = String(ctx.flags['probe.config.file'] ?? '');
    this.routes = file ? loadRoutes(file) : [];
    this.statePath = String(ctx.flags['probe.state.file'] ?? '');
    this.metrics = new ProbeMetrics(ctx.registry);
    this.autoStart = opts.autoStart ?? true;
  }

  async start(): Promise<void> {
    if (this.routes.length === 0) {
      this.log.info('no --probe.config.file: no routes to probe, probe_up stays 0');
      return;
    }
    const ledger = new Ledger(this.statePath, this.log);
    ledger.keepRoutes(this.routes.map((r) => r.name));
    if (!this.statePath) this.log.warn('no --probe.state.file: a restart forgets the messages in flight (their mail is cleaned up next round)');
    for (const route of this.routes) this.probers.push(new RouteProber(route, ledger, this.metrics, this.log));
    if (this.autoStart) for (const p of this.probers) p.start();
    this.log.info('probing', { routes: this.routes.map((r) => r.name).join(',') });
  }

  /** Up while routes are configured: how the mail path fares is in probe_success and probe_failures_total. */
  async scrape(): Promise<boolean> {
    return this.probers.length > 0;
  }

  async stop(): Promise<void> {
    await Promise.all(this.probers.map((p) => p.stop()));
  }
}

export const definition: ExporterDefinition = {
  name: 'probe',
  description: 'End-to-end mail probe: sends mail along each route and times its arrival, hop by hop',
  defaultPort: 9749,
  flags: [
    { name: 'probe.config.file', type: 'string', default: '', help: 'YAML file of the routes to probe (docs/probe.md); none: no routes and probe_up 0.' },
    {
      name: 'probe.state.file',
      type: 'string',
      default: '',
      help: 'File keeping the messages in flight across restarts (e.g. /var/lib/tinomail/probe-state.json); none: kept in memory only.',
    },
  ],
  create: (ctx) => new ProbeExporter(ctx),
};
