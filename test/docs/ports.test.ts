/** The defaults in code and the README follow docs/ports.md (prometheus.yml: test/prometheus/scrape-config.test.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exporters } from '../../exporters/index';
import { parseAddress } from '../../exporters/kit/flags';
import { DEFAULTS as HARAKA_DEFAULTS, parseListen } from '../../plugins/haraka/src/config';
import { DEFAULTS as ZONEMTA_DEFAULTS } from '../../plugins/zonemta/src/config';
import { documentedPort, ourPorts } from '../helpers/ports';

const ROOT = join(__dirname, '../..');

describe('default ports', () => {
  test.each(exporters.map((e) => [e.name, e.defaultPort]))('the %s exporter listens on its documented port', (name, port) => {
    expect(port).toBe(documentedPort(`${name} exporter`));
  });

  test('GELF input, Haraka plugin and ZoneMTA plugin defaults', () => {
    const gelf = exporters.find((e) => e.name === 'gelf')!.flags.find((f) => f.name === 'gelf.listen-address')!;
    expect(parseAddress(gelf.default).port).toBe(documentedPort('GELF input'));
    expect(parseListen(HARAKA_DEFAULTS.listen).port).toBe(documentedPort('Haraka plugin'));
    expect(readFileSync(join(ROOT, 'plugins/haraka/config/tinomail.ini'), 'utf8')).toContain(`;listen=${HARAKA_DEFAULTS.listen}`);
    expect(ZONEMTA_DEFAULTS.listen.port).toBe(documentedPort('ZoneMTA plugin `/metrics`'));
    expect(ZONEMTA_DEFAULTS.logListen.port).toBe(documentedPort('ZoneMTA plugin log receiver'));
  });

  test('the README shows every one of our ports (docker-compose.yml: test/deploy/compose.test.ts)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const port of ourPorts()) expect(readme).toContain(`:${port}`);
  });

  test('no two of our components share a port', () => {
    const ports = ourPorts();
    expect(ports.length).toBeGreaterThanOrEqual(9);
    expect(new Set(ports).size).toBe(ports.length);
  });
});
