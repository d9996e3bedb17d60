/**
 * Prometheus-style flags (`--web.listen-address=host:port`), each also read from an environment variable.
 * Precedence: command line, then environment, then default. A wrong flag is a FlagError (exit code 2).
 */
import { redactUrl } from './log';

export type FlagType = 'string' | 'int' | 'number' | 'duration' | 'bool' | 'address' | 'list' | 'enum';
export type FlagValue = string | number | boolean | string[];
export type FlagValues = Record<string, FlagValue>;

export interface FlagSpec {
  /** Full name without dashes: 'web.listen-address', 'gelf.listen-address'. */
  name: string;
  type: FlagType;
  help: string;
  /** Default in the flag's string form ('' for none): '0.0.0.0:9742', '5m', 'false', 'a,b'. */
  default: string;
  /** Allowed values for type 'enum'. */
  choices?: string[];
  /** Mask the value in logs and --help (tokens, URIs with passwords). */
  secret?: boolean;
}

export class FlagError extends Error {
  readonly exitCode = 2;
}

export const ENV_PREFIX = 'TINOMAIL_';

/** `gelf.listen-address` -> `TINOMAIL_GELF_LISTEN_ADDRESS`. */
export function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replace(/[.-]/g, '_');
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Prometheus durations: '500ms', '30s', '5m', '1h30m'. Returns milliseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length) throw new Error(`not a duration (use e.g. 500ms, 30s, 5m, 1h)`);
  return total;
}

/** 'host:port', ':port', '[::1]:port' or a bare port; no host is every interface. */
export function parseAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(/^\d+$/.test(text) ? `:${text}` : text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error('not an address (use host:port, :port or [::1]:port)');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function convert(spec: FlagSpec, raw: string): FlagValue {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new Error('not an integer');
      return Number(raw);
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new Error('not a number');
      return n;
    }
    case 'duration':
      return parseDuration(raw);
    case 'bool':
      if (['true', '1', 'yes', ''].includes(raw)) return true;
      if (['false', '0', 'no'].includes(raw)) return false;
      throw new Error('not a boolean (true or false)');
    case 'address':
      if (raw === '') return raw; // optional addresses (forwarding) are off when empty
      parseAddress(raw);
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'enum':
      if (!spec.choices?.includes(raw)) throw new Error(`must be one of ${spec.choices?.join(', ')}`);
      return raw;
  }
}

function convertOrFail(spec: FlagSpec, raw: string, source: string): FlagValue {
  try {
    return convert(spec, raw);
  } catch (err) {
    const shown = spec.secret ? '<secret>' : JSON.stringify(raw);
    throw new FlagError(`invalid value ${shown} for ${source}: ${(err as Error).message}`);
  }
}

/**
 * Parses argv against the specs. Returns the values and any positional arguments.
 * Throws FlagError naming the flag for unknown flags, missing values and bad values.
 */
export function parseFlags(
  argv: string[],
  specs: FlagSpec[],
  env: NodeJS.ProcessEnv = process.env,
): { values: FlagValues; positional: string[] } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: FlagValues = {};
  const positional: string[] = [];
  for (const spec of specs) {
    const fromEnv = env[envName(spec.name)];
    values[spec.name] =
      fromEnv !== undefined
        ? convertOrFail(spec, fromEnv, `environment variable ${envName(spec.name)}`)
        : convertOrFail(spec, spec.default, `the default of --${spec.name}`);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    let raw: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool' && raw === undefined) {
      name = name.slice(3);
      spec = byName.get(name);
      raw = 'false';
    }
    if (!spec) throw new FlagError(`unknown flag --${name} (see --help)`);
    if (raw === undefined) {
      if (spec.type === 'bool') raw = 'true';
      else if (i + 1 < argv.length) raw = argv[++i];
      else throw new FlagError(`flag --${name} needs a value`);
    }
    values[name] = convertOrFail(spec, raw, `--${name}`);
  }
  return { values, positional };
}

/** The --help text: every flag with its default and its environment variable. */
export function formatHelp(specs: FlagSpec[]): string {
  return specs
    .map((s) => {
      // A secret default is shown only when it is a URL whose password can be masked.
      const def = !s.secret || !s.default ? s.default : s.default.includes('://') ? redactUrl(s.default) : '<secret>';
      const choices = s.choices ? ` (${s.choices.join('|')})` : '';
      return `  --${s.name}${s.type === 'bool' ? '' : '=<' + s.type + '>'}\n      ${s.help}${choices}\n      default: ${JSON.stringify(def)}  env: ${envName(s.name)}`;
    })
    .join('\n');
}

/** The value of a numeric flag that must be greater than 0 (sizes, counts, intervals); a FlagError naming it otherwise. */
export function positiveFlag(flags: FlagValues, name: string): number {
  const value = flags[name] as number;
  if (!(value > 0)) throw new FlagError(`--${name} must be greater than 0`);
  return value;
}
