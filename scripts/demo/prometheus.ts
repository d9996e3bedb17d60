/**
 * Prometheus for the demo: the shipped prometheus/prometheus.yml and rules, with the targets files rewritten to
 * what the demo runs (jobs with nothing behind them get no targets) and a shorter scrape interval.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import yaml from 'js-yaml';
import { type Child, httpOk, startChild, waitFor } from './processes';

const REPO = join(__dirname, '..', '..');

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  file_sd_configs?: { files: string[] }[];
}
interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  alerting?: { alertmanagers: { file_sd_configs?: { files: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}

/** Jobs of the shipped config, each with the targets files it reads. */
export function shippedJobs(): string[] {
  const config = yaml.load(readFileSync(join(REPO, 'prometheus', 'prometheus.yml'), 'utf8')) as PrometheusConfig;
  return config.scrape_configs.map((j) => j.job_name);
}

/**
 * Writes the demo's Prometheus folder into `dir`: prometheus.yml (every scrape at `interval`), the rule files,
 * and one targets file per job with the addresses in `targets` (empty for the others).
 */
export function writePrometheusConfig(
  dir: string,
  targets: Record<string, string[]>,
  interval: string,
  more: { alertmanagers?: string[]; ruleFiles?: string[]; jobIntervals?: Record<string, { interval: string; timeout: string }> } = {},
): string {
  const config = yaml.load(readFileSync(join(REPO, 'prometheus', 'prometheus.yml'), 'utf8')) as PrometheusConfig;
  const unknown = Object.keys(targets).filter((job) => !config.scrape_configs.some((j) => j.job_name === job));
  if (unknown.length) throw new Error(`prometheus/prometheus.yml has no job ${unknown.join(', ')}`);
  config.global = { ...config.global, scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval };
  mkdirSync(join(dir, 'targets'), { recursive: true });
  mkdirSync(join(dir, 'rules'), { recursive: true });
  const ruleFiles = more.ruleFiles ?? readdirSync(join(REPO, 'prometheus', 'rules')).map((f) => join(REPO, 'prometheus', 'rules', f));
  for (const file of ruleFiles) copyFileSync(file, join(dir, 'rules', basename(file)));
  const writeTargets = (file: string, addresses: string[]) =>
    writeFileSync(join(dir, file), yaml.dump(addresses.length ? [{ targets: addresses }] : []));
  for (const job of config.scrape_configs) {
    delete job.scrape_interval; // the job-level intervals of the shipped file would outlast a demo
    delete job.scrape_timeout;
    const own = more.jobIntervals?.[job.job_name];
    if (own) [job.scrape_interval, job.scrape_timeout] = [own.interval, own.timeout];
    for (const sd of job.file_sd_configs ?? []) for (const file of sd.files) writeTargets(file, targets[job.job_name] ?? []);
  }
  for (const am of config.alerting?.alertmanagers ?? []) for (const sd of am.file_sd_configs ?? []) for (const file of sd.files) writeTargets(file, more.alertmanagers ?? []);
  const path = join(dir, 'prometheus.yml');
  writeFileSync(path, yaml.dump(config, { noRefs: true }));
  return path;
}

export interface RunningPrometheus {
  url: string;
  child: Child;
}

/**
 * Starts /usr/bin/prometheus on the written config and waits until it has scraped each of `targetCount` targets
 * once (service discovery hands new targets over in batches every 5 seconds).
 */
export async function startPrometheus(binary: string, dir: string, port: number, targetCount: number): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${port}`;
  const child = startChild('prometheus', binary, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  try {
    await waitFor(child, 'ready answer', () => httpOk(`${url}/-/ready`));
    await waitFor(child, `first scrape of ${targetCount} targets`, async () => {
      const res = (await (await fetch(`${url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { health: string }[] } };
      const targets = res.data.activeTargets;
      return targets.length === targetCount && targets.every((t) => t.health !== 'unknown');
    });
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { url, child };
}
