/** docs/metrics.md is generated from the real registries and must match them; every metric follows the naming rules. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricCatalogue, renderMetricsDoc } from '../../scripts/metric-catalogue';

const catalogue = metricCatalogue();

describe('metric catalogue', () => {
  test('docs/metrics.md is current (run `npm run docs:metrics`)', () => {
    const committed = readFileSync(join(__dirname, '../../docs/metrics.md'), 'utf8');
    expect(committed).toBe(renderMetricsDoc(catalogue));
  });

  test('names are unique per component', () => {
    const seen = new Set<string>();
    for (const e of catalogue) {
      const key = `${e.component}/${e.name}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  test.each(catalogue.map((e) => [e.name, e]))('%s follows the Prometheus naming rules', (_name, e) => {
    expect(e.help.trim().length).toBeGreaterThan(10);
    expect(e.name).toMatch(/^[a-z][a-z0-9_]*$/);
    if (e.type === 'counter') expect(e.name).toMatch(/_total$/);
    else expect(e.name).not.toMatch(/_total$/);
    // Labels that would carry personal data are never allowed.
    for (const label of e.labels) expect(label).not.toMatch(/^(user|username|user_?id|email|address|recipient|sender|ip|client_?ip|remote_?ip|login)$/);
  });
});
