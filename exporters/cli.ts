#!/usr/bin/env node
/**
 * `tinomail-monitor <exporter> [flags]` runs one exporter; `tinomail-monitor all` runs every exporter at
 * once, each on its default port. A wrong flag or value, or no subcommand, exits 2 with a message naming it.
 * SIGTERM and SIGINT stop cleanly (exit 0) at any time, during start-up too.
 */
import type { ExporterDefinition } from './kit/exporter';
import { envName, FlagError, type FlagSpec, type FlagValues, formatHelp, parseFlags } from './kit/flags';
import { createLogger, type Logger } from './kit/log';
import type { RunningExporter } from './kit/run';

// The exporters load prom-client, the MongoDB driver, ioredis, systeminformation...: required on
// first use, so the signal handlers are in place within milliseconds of the process starting.
/* eslint-disable @typescript-eslint/no-require-imports */
const kit = (): typeof import('./kit/run') => require('./kit/run');
const allExporters = (): ExporterDefinition[] => (require('./index') as typeof import('./index')).exporters;
/* eslint-enable @typescript-eslint/no-require-imports */

function usage(defs: ExporterDefinition[]): string {
  return `Usage: tinomail-monitor <exporter> [flags]
       tinomail-monitor all [flags]
       tinomail-monitor <exporter> --help

Exporters:
${defs.map((e) => `  ${e.name.padEnd(10)} ${e.description} (default :${e.defaultPort})`).join('\n')}
  ${'all'.padEnd(10)} every exporter above in one process, each on its own port
`;
}

/** Flags of `all`: everyone's own flags, plus `--<name>.web.listen-address` per exporter. */
export function allFlags(defs: ExporterDefinition[]): FlagSpec[] {
  return [
    { name: 'exporters', type: 'list', default: defs.map((d) => d.name).join(','), help: 'Exporters to run.' },
    { name: 'web.config.file', type: 'string', default: '', help: 'Web config file (TLS, basic auth) used by every exporter.' },
    ...kit().logFlags(),
    ...defs.flatMap((d) => [
      { name: `${d.name}.web.listen-address`, type: 'address' as const, default: kit().defaultListenAddress(d.defaultPort), help: `Address of the ${d.name} exporter's web interface.` },
      ...d.flags,
    ]),
  ];
}

async function startAll(defs: ExporterDefinition[], values: FlagValues, log: Logger): Promise<RunningExporter[]> {
  const wanted = values.exporters as string[];
  const unknown = wanted.filter((n) => !defs.some((e) => e.name === n));
  if (unknown.length) throw new FlagError(`invalid value for --exporters: unknown exporter ${unknown.join(', ')}`);
  const running: RunningExporter[] = [];
  try {
    for (const def of defs.filter((e) => wanted.includes(e.name))) {
      const own: FlagValues = { ...values, 'web.listen-address': values[`${def.name}.web.listen-address`] };
      running.push(await kit().startExporter(def, own, log));
    }
  } catch (err) {
    await Promise.allSettled(running.map((r) => r.stop()));
    throw err;
  }
  return running;
}

/** Flags and nothing else: a stray word after the subcommand is an error too. */
function parseOnlyFlags(argv: string[], specs: FlagSpec[], env: NodeJS.ProcessEnv): FlagValues {
  const { values, positional } = parseFlags(argv, specs, env);
  if (positional.length) throw new FlagError(`unexpected argument ${JSON.stringify(positional[0])}`);
  return values;
}

/**
 * The common web flags of a single exporter mean nothing to `all` (every exporter has its own address), so
 * their environment variables are refused rather than ignored; the per-exporter ones are honoured.
 */
const NOT_FOR_ALL = ['web.listen-address'];

function refuseSingleExporterEnv(env: NodeJS.ProcessEnv, defs: ExporterDefinition[]): void {
  for (const flag of NOT_FOR_ALL) {
    const name = envName(flag);
    if (env[name] === undefined) continue;
    const example = defs.map((d) => envName(`${d.name}.${flag}`));
    throw new FlagError(
      `environment variable ${name} is not used by "all", which runs each exporter on its own address: set ${example.join(', ')} (or --<exporter>.${flag}) instead`,
    );
  }
}

export interface MainHooks {
  /** Told the logger once the flags are parsed (the signal handlers log with it). */
  onLogger?(log: Logger): void;
}

/** Runs the command line; resolves to the started exporters (none for --help). `defs` is for tests. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  defs: ExporterDefinition[] = allExporters(),
  hooks: MainHooks = {},
): Promise<RunningExporter[]> {
  const { commonFlags, loggerFromFlags, startExporter, VERSION } = kit();
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage(defs));
    return [];
  }
  if (!command) throw new FlagError(`no exporter given (one of: ${defs.map((e) => e.name).join(', ')}, all); see tinomail-monitor --help`);
  if (command === '--version' || rest.includes('--version')) {
    process.stdout.write(`tinomail-monitor ${VERSION}\n`);
    return [];
  }
  if (command === 'all') {
    const specs = allFlags(defs);
    if (wantsHelp) {
      process.stdout.write(`Usage: tinomail-monitor all [flags]\n\nFlags:\n${formatHelp(specs)}\n`);
      return [];
    }
    refuseSingleExporterEnv(env, defs);
    const values = parseOnlyFlags(rest, specs, env);
    const log = loggerFromFlags(values);
    hooks.onLogger?.(log);
    return startAll(defs, values, log);
  }
  const def = defs.find((e) => e.name === command);
  if (!def) throw new FlagError(`unknown exporter ${JSON.stringify(command)} (one of: ${defs.map((e) => e.name).join(', ')}, all)`);
  const specs = [...commonFlags(def.defaultPort), ...def.flags];
  if (wantsHelp) {
    process.stdout.write(`Usage: tinomail-monitor ${def.name} [flags]\n\n${def.description}\n\nFlags:\n${formatHelp(specs)}\n`);
    return [];
  }
  const values = parseOnlyFlags(rest, specs, env);
  const log = loggerFromFlags(values);
  hooks.onLogger?.(log);
  return [await startExporter(def, values, log)];
}

/** How long a signal during start-up waits for the start to settle before the process exits anyway. */
const STARTUP_STOP_GRACE_MS = 3000;

/**
 * The process: signal handlers come first, so a SIGTERM during start-up (while a target is being connected)
 * is logged and ends in a clean exit 0 instead of Node's default death by signal.
 */
function runProcess(argv: string[]): void {
  let log: Logger = createLogger();
  let running: RunningExporter[] | undefined;
  let stopping: string | undefined;
  const stopAll = (list: RunningExporter[]) => Promise.allSettled(list.map((r) => r.stop())).then(() => process.exit(0));
  const onSignal = (signal: string) => {
    if (stopping) process.exit(1); // a second signal: stop waiting
    stopping = signal;
    if (running) {
      for (const r of running) r.log.info('shutting down', { signal });
      void stopAll(running);
      return;
    }
    log.info('shutting down during start-up', { signal });
    // start() may be waiting on a target: give it a moment to settle, then go regardless.
    setTimeout(() => {
      log.warn('start-up did not settle after a signal; exiting', { signal, waited_ms: STARTUP_STOP_GRACE_MS });
      process.exit(0);
    }, STARTUP_STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const onLogger = (l: Logger) => {
    log = l;
    // From here a signal is logged with the flags' logger; the start-up of the exporters follows.
    log.info('starting', { command: argv[0], version: kit().VERSION, pid: process.pid });
  };
  main(argv, process.env, undefined, { onLogger }).then(
    (started) => {
      running = started;
      if (stopping) {
        for (const r of started) r.log.info('stopping what start-up opened', { signal: stopping });
        void stopAll(started);
      }
    },
    (err: Error) => {
      if (stopping && !(err instanceof FlagError)) {
        log.info('start-up ended by the signal', { signal: stopping, err: err.message });
        process.exit(0);
      }
      process.stderr.write(`tinomail-monitor: ${err.message}\n`);
      process.exit(err instanceof FlagError ? 2 : 1);
    },
  );
}

if (require.main === module) runProcess(process.argv.slice(2));
