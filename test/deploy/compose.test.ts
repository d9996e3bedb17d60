/**
 * docker-compose.yml, .env.example and the Dockerfile. No Docker engine runs here: Debian's docker-compose 1.29
 * (`apt-get install docker-compose`) validates and resolves the file without one (`config`). The images are not
 * built or started; what they mount and which flags and variables they pass is checked against this repository.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { allFlags } from '../../exporters/cli';
import { exporters } from '../../exporters/index';
import { envName } from '../../exporters/kit/flags';
import { which } from '../../scripts/demo/processes';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  network_mode?: string;
}
interface Compose {
  services: Record<string, Service>;
}

/** `docker-compose config` with .env.example, in a clean environment plus `env`. */
async function composeConfig(env: Record<string, string>, ...args: string[]) {
  return run('docker-compose', ['--project-directory', ROOT, '-f', join(ROOT, 'docker-compose.yml'), '--env-file', join(ROOT, '.env.example'), 'config', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
  });
}

/** VAR=value lines of .env.example. */
function envExample(): Map<string, string> {
  const lines = readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n');
  return new Map(lines.filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** ${VAR:-default} and ${VAR:?message} references of docker-compose.yml. */
function composeVariables(): { name: string; fallback: string | null }[] {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  return [...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?::([-?])([^}]*))?\}/g)].map((m) => ({ name: m[1], fallback: m[2] === '-' ? m[3] : null }));
}

/** Ports from the tables of docs/ports.md, by the first words of the component column. */
function documentedPort(component: RegExp): number {
  const row = readFileSync(join(ROOT, 'docs', 'ports.md'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('|') && component.test(l.split('|')[1]));
  if (!row) throw new Error(`docs/ports.md has no row for ${component}`);
  const cell = row.split('|')[2];
  return Number((/:(\d{2,5})`/.exec(cell) ?? /(\d{2,5})/.exec(cell))![1]); // `127.0.0.1:9741` or 9090
}

let resolved: Compose;
let withoutPassword: PromiseSettledResult<unknown>;
beforeAll(async () => {
  if (!which('docker-compose')) throw new Error('docker-compose is not installed: apt-get install docker-compose (Debian, version 1.29)');
  // docker-compose takes over a second to start: run both checks at once.
  const [valid, refused] = await Promise.allSettled([composeConfig({ GRAFANA_ADMIN_PASSWORD: 'test-password' }), composeConfig({})]);
  if (valid.status === 'rejected') throw valid.reason;
  resolved = yaml.load(valid.value.stdout) as Compose;
  withoutPassword = refused;
});

describe('docker-compose.yml', () => {
  test('is valid for docker-compose config with the defaults of .env.example', () => {
    expect(resolved.services.prometheus.image).toMatch(/^prom\/prometheus:v/);
  });

  test('refuses to run without a Grafana admin password, naming the variable', () => {
    expect(withoutPassword).toMatchObject({ status: 'rejected', reason: { stderr: expect.stringContaining('GRAFANA_ADMIN_PASSWORD') } });
  });

  test('runs the whole monitoring stack', () => {
    expect(Object.keys(resolved.services).sort()).toEqual(['alertmanager', 'blackbox-exporter', 'grafana', 'node-exporter', 'prometheus', 'tinomail-exporters']);
    expect(resolved.services['tinomail-exporters'].build).toBeDefined();
    expect(resolved.services['tinomail-exporters'].command).toEqual(['all']);
  });

  test('every setting has its default documented in .env.example, and .env.example documents nothing else', () => {
    const documented = envExample();
    const used = composeVariables();
    for (const v of used) {
      expect(documented.has(v.name) ? v.name : `${v.name} missing from .env.example`).toBe(v.name);
      if (v.fallback !== null) expect({ [v.name]: documented.get(v.name) }).toEqual({ [v.name]: v.fallback });
      else expect({ [v.name]: documented.get(v.name) }).toEqual({ [v.name]: '' }); // required: no default to leak
    }
    expect([...documented.keys()].filter((name) => !used.some((v) => v.name === name))).toEqual([]);
  });

  test('every file and folder it mounts from this repository exists', () => {
    const mounts = Object.values(resolved.services).flatMap((s) => s.volumes ?? []);
    const fromRepo = mounts.map((m) => m.split(':')[0]).filter((source) => source.startsWith(ROOT));
    expect(fromRepo.length).toBeGreaterThan(4);
    expect(fromRepo.filter((source) => !existsSync(source))).toEqual([]);
    // The files the services read from those mounts.
    for (const file of ['prometheus/prometheus.yml', 'prometheus/blackbox.yml', 'alertmanager/alertmanager.yml']) expect(existsSync(join(ROOT, file)) ? file : `missing ${file}`).toBe(file);
  });

  test('Grafana finds the provisioning, the dashboards and its home dashboard where the provisioning says', () => {
    const grafana = resolved.services.grafana;
    const mountOf = (target: string) => grafana.volumes!.find((v) => v.split(':')[1] === target)?.split(':')[0];
    expect(mountOf('/etc/grafana/provisioning')).toBe(join(ROOT, 'grafana', 'provisioning'));
    const provider = yaml.load(readFileSync(join(ROOT, 'grafana/provisioning/dashboards/tinomail.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
    const dashboardsDir = provider.providers[0].options.path;
    expect(mountOf(dashboardsDir)).toBe(join(ROOT, 'grafana', 'dashboards'));
    const home = grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(home.startsWith(`${dashboardsDir}/`)).toBe(true);
    expect(existsSync(join(ROOT, 'grafana', 'dashboards', home.slice(dashboardsDir.length + 1)))).toBe(true);
    // The datasource provisioning reads PROMETHEUS_URL, which must point at Prometheus' own listen port.
    expect(readFileSync(join(ROOT, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')).toContain('${PROMETHEUS_URL}');
    expect(grafana.environment!.PROMETHEUS_URL).toBe(`http://127.0.0.1:${documentedPort(/^ Prometheus/)}`);
  });

  test('listen addresses are the ports of docs/ports.md', () => {
    const flagOf = (service: string, flag: string) => resolved.services[service].command!.find((c) => c.startsWith(`${flag}=`))!.split('=')[1];
    const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
    expect(portOf(flagOf('prometheus', '--web.listen-address'))).toBe(documentedPort(/^ Prometheus/));
    expect(portOf(flagOf('alertmanager', '--web.listen-address'))).toBe(documentedPort(/^ Alertmanager/));
    expect(portOf(flagOf('node-exporter', '--web.listen-address'))).toBe(documentedPort(/^ node_exporter/));
    expect(portOf(flagOf('blackbox-exporter', '--web.listen-address'))).toBe(documentedPort(/^ blackbox_exporter/));
    expect(Number(resolved.services.grafana.environment!.GF_SERVER_HTTP_PORT)).toBe(documentedPort(/^ Grafana/));
    const env = resolved.services['tinomail-exporters'].environment!;
    for (const def of exporters) {
      expect({ [def.name]: portOf(env[envName(`${def.name}.web.listen-address`)]) }).toEqual({ [def.name]: documentedPort(new RegExp(`^ ${def.name} exporter`)) });
    }
    expect(portOf(env.TINOMAIL_GELF_LISTEN_ADDRESS)).toBe(documentedPort(/^ GELF input/));
  });

  test('the exporter container gets only variables that are flags of `tinomail-monitor all`', () => {
    expect(exporters.length).toBeGreaterThan(0);
    const flagVariables = new Set(allFlags(exporters).map((f) => envName(f.name)));
    const env = Object.keys(resolved.services['tinomail-exporters'].environment!);
    expect(env.filter((name) => !flagVariables.has(name))).toEqual([]);
    // Every exporter is started by default.
    expect(resolved.services['tinomail-exporters'].environment!.TINOMAIL_EXPORTERS.split(',').sort()).toEqual(exporters.map((e) => e.name).sort());
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  test('builds in two stages and runs every exporter by default, unprivileged', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/cli.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["all"\]$/m);
  });

  test('copies only files that exist', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(sources.length).toBeGreaterThan(3);
    expect(sources.filter((s) => !existsSync(join(ROOT, s)))).toEqual([]);
  });

  test('exposes the documented exporter ports and the GELF input', () => {
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1].split(/\s+/);
    const expected = [...exporters.map((e) => String(e.defaultPort)), `${documentedPort(/^ GELF input/)}/udp`, `${documentedPort(/^ GELF input/)}/tcp`];
    expect(exposed.sort()).toEqual(expected.sort());
  });
});
