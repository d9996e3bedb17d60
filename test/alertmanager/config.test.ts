/**
 * alertmanager/alertmanager.yml as amtool sees it: valid, routes by severity, groups by alert and host, and holds no
 * secret: every credential is read from a file. That every alert of the rules reaches the receiver of its severity
 * is shown on a real Alertmanager (alertmanager.test.ts).
 */
import { join } from 'node:path';
import { ALERTMANAGER_DIR, readYaml, tool } from '../prometheus/support';

const CONFIG = join(ALERTMANAGER_DIR, 'alertmanager.yml');

/** The receiver amtool picks for a label set. */
function routeOf(labels: Record<string, string>): string {
  const r = tool('amtool', ['config', 'routes', 'test', `--config.file=${CONFIG}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

test('amtool check-config accepts it, with its templates', () => {
  const r = tool('amtool', ['check-config', CONFIG]);
  expect(r.stdout).toContain('SUCCESS');
  expect(r.stdout).toMatch(/- 4 receivers/);
  expect(r.stdout).toMatch(/- 1 templates/);
  expect(r.code).toBe(0);
});

test.each([
  [{ alertname: 'TinomailRedisDown', severity: 'critical', service: 'redis', host: 'mail1' }, 'oncall-pager'],
  [{ alertname: 'TinomailMXAcceptingNothing', severity: 'critical', service: 'haraka', host: 'mx1' }, 'oncall-pager'],
  [{ alertname: 'TinomailDiskFillingUp', severity: 'critical', host: 'db1', mountpoint: '/var/lib/mongodb' }, 'oncall-pager'],
  [{ alertname: 'TinomailDiskFillingUp', severity: 'warning', host: 'db1', mountpoint: '/var/lib/mongodb' }, 'team-ticket'],
  [{ alertname: 'TinomailSendingIPHighFailureRatio', severity: 'warning', zone: 'default', sending_ip: '192.0.2.10' }, 'team-ticket'],
  [{ alertname: 'SomethingInformational', severity: 'info', host: 'mail1' }, 'blackhole'],
  // the Watchdog only reaches the dead man's switch
  [{ alertname: 'TinomailWatchdog', severity: 'info', service: 'monitoring' }, 'deadmansswitch'],
  // an alert from elsewhere without a severity still reaches people
  [{ alertname: 'Watchdog' }, 'team-ticket'],
  [{ alertname: 'OddOne', severity: 'page' }, 'team-ticket'],
])('amtool config routes test %j -> %s', (labels, receiver) => {
  expect(routeOf(labels)).toBe(receiver);
});

test('notifications are grouped by alert and host', () => {
  const config = readYaml<{ route: { group_by: string[]; routes: { group_by?: string[] }[] } }>(CONFIG);
  expect(config.route.group_by).toEqual(['alertname', 'host']);
  for (const child of config.route.routes) expect(child.group_by).toBeUndefined(); // inherited
});

test('no secret is written in the file: credentials are *_file fields with absolute paths', () => {
  // A webhook URL may stand in the file only when it carries no secret: its credentials come from a file.
  const urlWithoutSecret = (node: Record<string, any>) => typeof node.http_config?.authorization?.credentials_file === 'string';
  const secretKeys = /^(routing_key|service_key|api_key|api_url|url|smtp_auth_password|auth_password|auth_secret|password|credentials|bot_token|token)$/;
  const files: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`));
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        const allowed = key === 'url' && urlWithoutSecret(node as Record<string, any>);
        expect([`${path}.${key}`, secretKeys.test(key) && !allowed]).toEqual([`${path}.${key}`, false]);
        if (key.endsWith('_file')) files.push(String(value));
        walk(value, `${path}.${key}`);
      }
    }
  };
  walk(readYaml(CONFIG), '');
  expect(files.length).toBeGreaterThanOrEqual(4); // pager key, chat webhook, smtp password, heartbeat key
  for (const f of files) expect(f).toMatch(/^\/etc\/alertmanager\/secrets\//);
});
