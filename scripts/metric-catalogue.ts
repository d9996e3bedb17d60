/**
 * Every metric this repository exposes, read from the real registries: each exporter is created with its
 * default flags (nothing is started) and each plugin registers its metrics on a fresh Registry.
 * docs/metrics.md is generated from it, and the rule and dashboard tests check metric names against it.
 */
import { Registry } from 'prom-client';
import { exporters } from '../exporters/index';
import { parseFlags } from '../exporters/kit/flags';
import { silentLogger } from '../exporters/kit/log';
import { commonFlags, registerKitMetrics } from '../exporters/kit/run';
import { registerMetrics as registerHarakaMetrics } from '../plugins/haraka/src/index';
import { registerMetrics as registerZonemtaMetrics } from '../plugins/zonemta/src/index';

export interface CatalogueEntry {
  component: string;
  name: string;
  type: string;
  help: string;
  labels: string[];
}

/** Plugins: a component name and a function registering the plugin's metrics on a registry. */
const plugins: { component: string; register: (registry: Registry) => void }[] = [
  { component: 'Haraka plugin (haraka-plugin-tinomail)', register: registerHarakaMetrics },
  { component: 'ZoneMTA plugin (zonemta-tinomail)', register: registerZonemtaMetrics },
];

function entries(component: string, registry: Registry): CatalogueEntry[] {
  return registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; help: string; type: string; labelNames?: string[] };
    return { component, name: metric.name, type: String(metric.type), help: metric.help, labels: [...(metric.labelNames ?? [])] };
  });
}

export function metricCatalogue(): CatalogueEntry[] {
  const all: CatalogueEntry[] = [];
  for (const def of exporters) {
    const registry = new Registry();
    registerKitMetrics(def.name, registry);
    const { values } = parseFlags([], [...commonFlags(def.defaultPort), ...def.flags], {});
    def.create({ registry, flags: values, log: silentLogger });
    all.push(...entries(`${def.name} exporter`, registry));
  }
  for (const plugin of plugins) {
    const registry = new Registry();
    plugin.register(registry);
    all.push(...entries(plugin.component, registry));
  }
  return all;
}

/** The series names a metric exposes: histograms and summaries add _bucket/_sum/_count. */
export function seriesNames(entry: CatalogueEntry): string[] {
  if (entry.type === 'histogram') return [`${entry.name}_bucket`, `${entry.name}_sum`, `${entry.name}_count`];
  if (entry.type === 'summary') return [entry.name, `${entry.name}_sum`, `${entry.name}_count`];
  return [entry.name];
}

/** docs/metrics.md */
export function renderMetricsDoc(catalogue: CatalogueEntry[]): string {
  const out = [
    '# Metrics',
    '',
    'Every metric this repository exposes, generated from the registries by `npm run docs:metrics`',
    '(`test/docs/metrics-doc.test.ts` fails when this file is out of date). What feeds each metric is in the',
    "component's own page. Labels are bounded and never carry an address, user name, user id or IP.",
    '',
  ];
  const components = [...new Set(catalogue.map((e) => e.component))];
  for (const component of components) {
    out.push(`## ${component}`, '', '| metric | type | labels | help |', '|---|---|---|---|');
    for (const e of catalogue.filter((x) => x.component === component)) {
      out.push(`| \`${e.name}\` | ${e.type} | ${e.labels.map((l) => `\`${l}\``).join(', ')} | ${e.help.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

if (require.main === module) {
  const { writeFileSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  writeFileSync(join(__dirname, '..', 'docs', 'metrics.md'), renderMetricsDoc(metricCatalogue()));
  process.stdout.write('wrote docs/metrics.md\n');
}
