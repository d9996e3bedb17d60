/** `npm run dashboards`: writes grafana/dashboards/*.json from the dashboards in code, removing stale files. */
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDashboards } from './index';

export const DASHBOARD_DIR = join(__dirname, '..', 'dashboards');

if (require.main === module) {
  const rendered = renderDashboards();
  const wanted = new Set(rendered.map((d) => d.file));
  for (const file of readdirSync(DASHBOARD_DIR)) {
    if (file.endsWith('.json') && !wanted.has(file)) unlinkSync(join(DASHBOARD_DIR, file));
  }
  for (const d of rendered) writeFileSync(join(DASHBOARD_DIR, d.file), d.json);
  process.stdout.write(`wrote ${rendered.length} dashboards to grafana/dashboards\n`);
}
