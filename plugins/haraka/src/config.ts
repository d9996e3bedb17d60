/** config/tinomail.ini: defaults in one object, values read from the ini (haraka-config gives strings). */
import { parseAddress } from '../../../exporters/kit/flags';

export interface TinomailConfig {
  /** host:port of the /metrics listener; ':9746' is every interface. */
  listen: string;
  /** Web config file (exporter-toolkit format: TLS, client certificates, basic auth); '' for none. */
  webConfigFile: string;
  /** Seconds the cluster master waits for each worker's metrics before using its last answer. */
  workerTimeoutSeconds: number;
  /** Distinct local ports kept as label values per process before `other`. */
  maxPorts: number;
  /** Distinct plugin names kept as label values per process before `other`. */
  maxPlugins: number;
}

export const DEFAULTS: Readonly<TinomailConfig> = {
  listen: '127.0.0.1:9746',
  webConfigFile: '',
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
    webConfigFile: typeof server.web_config_file === 'string' ? server.web_config_file.trim() : DEFAULTS.webConfigFile,
    workerTimeoutSeconds: positive(server.timeout, DEFAULTS.workerTimeoutSeconds),
    maxPorts: Math.floor(positive(labels.max_ports, DEFAULTS.maxPorts)),
    maxPlugins: Math.floor(positive(labels.max_plugins, DEFAULTS.maxPlugins)),
  };
}

/** '127.0.0.1:9746', '[::1]:9746', ':9746' (all interfaces) or '9746', by the kit's parser. Throws on anything else. */
export function parseListen(listen: string): { host: string; port: number } {
  try {
    return parseAddress(listen.trim());
  } catch {
    throw new Error(`tinomail.ini [server] listen: cannot parse '${listen}'`);
  }
}
