/**
 * prometheus/prometheus.yml: promtool accepts it; a job for every exporter, plugin and native endpoint, each fed by
 * a file_sd file whose default target uses the port of docs/ports.md; intervals as promised; blackbox probes wired
 * to modules that exist in prometheus/blackbox.yml.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROMETHEUS_DIR, readYaml, ROOT, ruleFiles, tool } from './support';
import { documentedPort } from '../helpers/ports';

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  metrics_path?: string;
  params?: Record<string, string[]>;
  file_sd_configs?: { files: string[] }[];
  static_configs?: unknown;
  relabel_configs?: { source_labels?: string[]; target_label?: string; replacement?: string; regex?: string }[];
}
interface PrometheusConfig {
  global: { scrape_interval: string; evaluation_interval: string };
  rule_files: string[];
  alerting: { alertmanagers: { file_sd_configs: { files: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}
type TargetGroup = { targets: string[]; labels?: Record<string, string> };

const config = readYaml<PrometheusConfig>(join(PROMETHEUS_DIR, 'prometheus.yml'));
const jobs = new Map(config.scrape_configs.map((j) => [j.job_name, j]));
const targetsOf = (job: ScrapeConfig): TargetGroup[] =>
  (job.file_sd_configs ?? []).flatMap((sd) => sd.files.flatMap((f) => readYaml<TargetGroup[]>(join(PROMETHEUS_DIR, f)) ?? []));

// job -> the row of docs/ports.md that gives its default port
const DOCUMENTED: Record<string, string> = {
  'wildduck-exporter': 'wildduck exporter',
  'gelf-exporter': 'gelf exporter',
  'mongodb-exporter': 'mongodb exporter',
  'redis-exporter': 'redis exporter',
  'system-exporter': 'system exporter',
  'reports-exporter': 'reports exporter',
  'probe-exporter': 'probe exporter',
  'dns-exporter': 'dns exporter',
  haraka: 'Haraka plugin',
  'zonemta-tinomail': 'ZoneMTA plugin `/metrics`',
  zonemta: 'ZoneMTA API',
  wildduck: 'WildDuck API',
  rspamd: 'Rspamd controller',
  node: 'node_exporter',
  blackbox: 'blackbox_exporter',
  prometheus: 'Prometheus',
  alertmanager: 'Alertmanager',
};

test('promtool check config accepts prometheus.yml with every rule file', () => {
  const r = tool('promtool', ['check', 'config', 'prometheus/prometheus.yml']);
  expect(r.stdout + r.stderr).toContain(`SUCCESS: ${ruleFiles().length} rule files found`);
  expect(r.stdout + r.stderr).toContain('is valid prometheus config file syntax');
  expect(r.code).toBe(0);
});

test('every exporter, plugin and native endpoint has a job, every job reads its targets from file_sd', () => {
  expect([...jobs.keys()].sort()).toEqual(
    [...Object.keys(DOCUMENTED), 'blackbox-smtp-starttls', 'blackbox-smtp-tls', 'blackbox-imaps', 'blackbox-pop3s'].sort(),
  );
  for (const job of jobs.values()) {
    expect(job.static_configs).toBeUndefined();
    expect(job.file_sd_configs?.length).toBe(1);
    expect(targetsOf(job).flatMap((g) => g.targets).length).toBeGreaterThan(0);
  }
});

test.each(Object.entries(DOCUMENTED))('job %s defaults to the port of docs/ports.md (%s)', (job, component) => {
  const targets = targetsOf(jobs.get(job)!).flatMap((g) => g.targets);
  expect(targets).toEqual([`localhost:${documentedPort(component)}`]);
});

test('scrape every 15 s, every 30 s for the MongoDB and WildDuck aggregates; timeouts below the interval', () => {
  expect(config.global.scrape_interval).toBe('15s');
  expect(config.global.evaluation_interval).toBe('15s');
  for (const job of jobs.values()) {
    const expected = job.job_name === 'mongodb-exporter' || job.job_name === 'wildduck-exporter' ? '30s' : undefined;
    expect([job.job_name, job.scrape_interval]).toEqual([job.job_name, expected]);
    if (job.scrape_timeout) expect(parseInt(job.scrape_timeout, 10)).toBeLessThan(parseInt(job.scrape_interval ?? '15s', 10));
  }
});

test('alerts go to the Alertmanager of targets/alertmanager.yml, rules come from rules/', () => {
  expect(config.alerting.alertmanagers[0].file_sd_configs[0].files).toEqual(['targets/alertmanager.yml']);
  expect(config.rule_files).toEqual(['rules/*.yml']);
});

test('every job sets the host label from the target address unless the targets file sets it', () => {
  for (const job of jobs.values()) {
    const host = job.relabel_configs?.find((r) => r.target_label === 'host');
    expect(host?.source_labels).toEqual(['host', '__address__']);
    const re = new RegExp(`^(?:${host!.regex})$`);
    expect(';localhost:9746'.replace(re, '$1')).toBe('localhost');
    expect(';mx1.example.com:25'.replace(re, '$1')).toBe('mx1.example.com');
    expect(';[2001:db8::1]:9100'.replace(re, '$1')).toBe('2001:db8::1');
    expect(re.test('mail1;localhost:9746')).toBe(false); // an explicit host label is kept
  }
});

describe('blackbox probes', () => {
  const modules = readYaml<{ modules: Record<string, { prober: string; tcp?: { tls?: boolean; query_response?: Record<string, unknown>[] } }> }>(
    join(PROMETHEUS_DIR, 'blackbox.yml'),
  ).modules;
  const probes: [string, string, string[], boolean][] = [
    // job, module, default ports, STARTTLS (else implicit TLS)
    ['blackbox-smtp-starttls', 'smtp_starttls', ['25', '587'], true],
    ['blackbox-smtp-tls', 'smtp_tls', ['465'], false],
    ['blackbox-imaps', 'imap_tls', ['993'], false],
    ['blackbox-pop3s', 'pop3_tls', ['995'], false],
  ];

  test.each(probes)('%s probes %s on %j through the blackbox_exporter', (jobName, module, ports, starttls) => {
    const job = jobs.get(jobName)!;
    expect(job.metrics_path).toBe('/probe');
    expect(job.params).toEqual({ module: [module] });
    expect(targetsOf(job).flatMap((g) => g.targets.map((t) => t.split(':').pop()))).toEqual(ports);
    const relabel = job.relabel_configs ?? [];
    expect(relabel.find((r) => r.target_label === '__param_target')?.source_labels).toEqual(['__address__']);
    expect(relabel.find((r) => r.target_label === 'instance')?.source_labels).toEqual(['__address__']);
    expect(relabel.find((r) => r.target_label === '__address__')?.replacement).toBe(`127.0.0.1:${documentedPort('blackbox_exporter')}`);
    const m = modules[module];
    expect(m.prober).toBe('tcp');
    const steps = m.tcp?.query_response ?? [];
    if (starttls) {
      expect(m.tcp?.tls).toBeFalsy();
      expect(steps.some((s) => s.starttls === true)).toBe(true);
    } else {
      expect(m.tcp?.tls).toBe(true);
    }
  });
});
