/** Hosts and processes: placeholder until the system exporter lands. */
import { type DashboardSpec, HOST, hostVariable, timeseries } from '../lib';

export const hosts: DashboardSpec = {
  uid: 'tinomail-hosts',
  title: 'Mail / Hosts and processes',
  description: 'Hosts.',
  variables: [hostVariable('up')],
  rows: [{ title: 'Targets', panels: [timeseries({ title: 'Up', description: 'Targets.', unit: 'bool', queries: [{ expr: `up{${HOST}}` }] })] }],
};
