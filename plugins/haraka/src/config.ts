/** config/tinomail.ini: defaults in one object, values read from the ini (haraka-config gives strings). */

export interface TinomailConfig {
  /** host:port of the /metrics listener; ':9746' is every interface. */
  listen: string;
  /** Seconds the cluster master waits for each worker's metrics before using its last answer. */
  workerTimeoutSeconds: number;
  /** Distinct local ports kept as label values per process before `other`. */
  maxPorts: number;
  /** Distinct plugin names kept as label values per process before `other`. */
  maxPlugins: number;
}

export const DEFAULTS: Readonly<TinomailConfig> = {
  listen: ':9746',
  workerTimeoutSeconds: 5,
  maxPorts: 10,
  maxPlugins: 50,
};

type Ini = Record<string, Record<string, unknown> | undefined>;

function positive(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export function parseConfig(ini: unknown): TinomailConfig {
  const cfg = (ini && typeof ini === 'object' ? ini : {}) as Ini;
  const server = cfg.server ?? {};
  const labels = cfg.labels ?? {};
  return {
    listen: typeof server.listen === 'string' && server.listen.trim() ? server.listen.trim() : DEFAULTS.listen,
    workerTimeoutSeconds: positive(server.timeout, DEFAULTS.workerTimeoutSeconds),
    maxPorts: Math.floor(positive(labels.max_ports, DEFAULTS.maxPorts)),
    maxPlugins: Math.floor(positive(labels.max_plugins, DEFAULTS.maxPlugins)),
  };
}

/** '127.0.0.1:9746', '[::1]:9746', ':9746' (all interfaces) or '9746'. Throws on anything else. */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`tinomail.ini [server] listen: cannot parse '${listen}'`);
  const host = m[1] ?? (m[2] || undefined);
  return { host, port };
}
