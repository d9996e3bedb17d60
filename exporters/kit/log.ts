/**
 * Structured logs on stderr: logfmt (default) or JSON, one line per event, with a level filter.
 * Never log secrets: pass URLs through redactUrl() and tokens not at all.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'logfmt' | 'json';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function logfmtValue(v: unknown): string {
  const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s ?? '') ? s : JSON.stringify(s ?? '');
}

export function createLogger(
  opts: { level?: LogLevel; format?: LogFormat; write?: (line: string) => void; fields?: LogFields } = {},
): Logger {
  const min = LEVELS[opts.level ?? 'info'];
  const format = opts.format ?? 'logfmt';
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = opts.fields ?? {};
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[level] < min) return;
    const record: LogFields = { ts: new Date().toISOString(), level, msg, ...base, ...fields };
    if (format === 'json') {
      write(JSON.stringify(record, (_k, v) => (v instanceof Error ? v.message : v)));
    } else {
      write(
        Object.entries(record)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${logfmtValue(v)}`)
          .join(' '),
      );
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = createLogger({ write: () => undefined });

/** 'mongodb://user:pass@host/db?authSource=x' -> 'mongodb://user:xxxxx@host/db?authSource=x' */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1xxxxx@');
}
