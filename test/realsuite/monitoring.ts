/** Prometheus and Alertmanager of the real suite: the shipped configuration, rules and routing, on free ports. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writePrometheusConfig } from '../../scripts/demo/prometheus';
import { type Receiver, startAlertmanager, startReceiver, testAlertmanagerConfig } from '../prometheus/support';
import { Daemon, freePort, httpStatus } from './daemon';

export interface SuiteAlertmanager {
  url: string;
  /** Where Alertmanager's receivers post: /pager (critical), /ticket (warning), as alertmanager.yml routes them. */
  receiver: Receiver;
  stop(): Promise<void>;
}

export async function startSuiteAlertmanager(dir: string): Promise<SuiteAlertmanager> {
  const receiver = await startReceiver();
  const amDir = join(dir, 'alertmanager');
  mkdirSync(amDir, { recursive: true });
  try {
    const am = await startAlertmanager(amDir, testAlertmanagerConfig(amDir, receiver.url));
    return {
      url: am.url,
      receiver,
      stop: async () => {
        await am.stop();
        await receiver.close();
      },
    };
  } catch (err) {
    await receiver.close();
    throw err;
  }
}

/** Prometheus with prometheus/prometheus.yml, its targets files rewritten to the suite's addresses. */
export async function startSuitePrometheus(
  dir: string,
  targets: Record<string, string[]>,
  interval: string,
  alertmanagerUrl?: string,
  ruleFiles?: string[],
  jobIntervals?: Record<string, { interval: string; timeout: string }>,
): Promise<{ url: string; stop(): Promise<void> }> {
  const promDir = join(dir, 'prometheus');
  writePrometheusConfig(promDir, targets, interval, { alertmanagers: alertmanagerUrl ? [new URL(alertmanagerUrl).host] : [], ruleFiles, jobIntervals });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const daemon = new Daemon('prometheus', 'prometheus', [
    `--config.file=${join(promDir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(promDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { cwd: promDir, logFile: join(dir, 'prometheus.log') });
  try {
    await daemon.waitFor('/-/ready', async () => (await httpStatus(`${url}/-/ready`)) === 200, 60_000);
    const count = Object.values(targets).flat().length;
    await daemon.waitFor(`a first scrape of all ${count} targets`, async () => {
      const res = (await (await fetch(`${url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { health: string }[] } };
      return res.data.activeTargets.length >= count && res.data.activeTargets.every((t) => t.health !== 'unknown');
    }, 60_000);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return { url, stop: () => daemon.stop() };
}
