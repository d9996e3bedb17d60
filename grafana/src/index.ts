/**
 * Every dashboard, built to the JSON that grafana/dashboards holds. `npm run dashboards` writes them;
 * test/grafana/dashboards.test.ts regenerates them and fails on any difference with the committed files.
 */
import { buildDashboard, type DashboardSpec } from './lib';
import { datastores } from './dashboards/datastores';
import { hosts } from './dashboards/hosts';
import { inbound } from './dashboards/inbound';
import { mailboxes } from './dashboards/mailboxes';
import { outbound } from './dashboards/outbound';
import { overview } from './dashboards/overview';
import { reports } from './dashboards/reports';
import { reputation } from './dashboards/reputation';

export const dashboardSpecs: DashboardSpec[] = [overview, inbound, outbound, mailboxes, datastores, hosts, reports, reputation];

/** File name (in grafana/dashboards) and JSON text of every dashboard. */
export function renderDashboards(specs: DashboardSpec[] = dashboardSpecs): { file: string; json: string }[] {
  return specs.map((spec) => ({ file: `${spec.uid}.json`, json: `${JSON.stringify(buildDashboard(spec), null, 2)}\n` }));
}
