#!/usr/bin/env node
/**
 * `tinomail-monitor <exporter> [flags]` runs one exporter; `tinomail-monitor all` runs every exporter at
 * once, each on its default port. A wrong flag or value exits 2 with a message naming it.
 */
import type { ExporterDefinition } from './kit/exporter';
import { FlagError, type FlagSpec, type FlagValues, formatHelp, parseFlags } from './kit/flags';
import type { Logger } from './kit/log';
import { commonFlags, defaultListenAddress, logFlags, loggerFromFlags, type RunningExporter, startExporter, VERSION } from './kit/run';
import { exporters } from './index';

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
    ...logFlags(),
    ...defs.flatMap((d) => [
      { name: `${d.name}.web.listen-address`, type: 'address' as const, default: defaultListenAddress(d.defaultPort), help: `Address of the ${d.name} exporter's web interface.` },
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
      running.push(await startExporter(def, own, log));
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

/** Runs the command line; resolves to the started exporters (none for --help). `defs` is for tests. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, defs: ExporterDefinition[] = exporters): Promise<RunningExporter[]> {
  const [command, ...rest] = argv;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage(defs));
    return [];
  }
  if (command === '--version') {
    process.stdout.write(`tinomail-monitor ${VERSION}\n`);
    return [];
  }
  if (command === 'all') {
    const specs = allFlags(defs);
    if (wantsHelp) {
      process.stdout.write(`Usage: tinomail-monitor all [flags]\n\nFlags:\n${formatHelp(specs)}\n`);
      return [];
    }
    const values = parseOnlyFlags(rest, specs, env);
    return startAll(defs, values, loggerFromFlags(values));
  }
  const def = defs.find((e) => e.name === command);
  if (!def) throw new FlagError(`unknown exporter ${JSON.stringify(command)} (one of: ${defs.map((e) => e.name).join(', ')}, all)`);
  const specs = [...commonFlags(def.defaultPort), ...def.flags];
  if (wantsHelp) {
    process.stdout.write(`Usage: tinomail-monitor ${def.name} [flags]\n\n${def.description}\n\nFlags:\n${formatHelp(specs)}\n`);
    return [];
  }
  const values = parseOnlyFlags(rest, specs, env);
  return [await startExporter(def, values, loggerFromFlags(values))];
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (running) => {
      if (running.length === 0) return;
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) process.exit(1); // a second signal: stop waiting
        stopping = true;
        for (const r of running) r.log.info('shutting down', { signal });
        Promise.allSettled(running.map((r) => r.stop())).then(() => process.exit(0));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    },
    (err: Error) => {
      process.stderr.write(`tinomail-monitor: ${err.message}\n`);
      process.exit(err instanceof FlagError ? 2 : 1);
    },
  );
}
