/**
 * The end-to-end probe on Overview (`tinomail-monitor probe`, docs/probe.md): is probe mail arriving on every
 * route, how long the round trip takes, and which hop (submission, mta, mx, store) the time goes to.
 */
import { HOST, type Row, stat, timeseries } from '../lib';

const H = HOST;
const R = `route!="", ${H}`;

export const mailArrivingRow: Row = {
  title: 'Mail is arriving (end-to-end probe)',
  panels: [
    stat({
      title: 'Probe routes failing',
      description:
        'Routes of the end-to-end probe whose last round trip did not arrive within its timeout (probe_success 0). The probe sends a message along each route (submission, MTA, MX, mailbox) every interval and looks for it over IMAP or the WildDuck API.',
      unit: 'short',
      criticalAt: 1,
      alerts: ['TinomailMailProbeFailing'],
      queries: [{ expr: `count(probe_success{${R}} == 0) or vector(0)` }],
    }),
    stat({
      title: 'Slowest route, round trip p90',
      description: '90th percentile of the probe round trips of the last 30 minutes, on the slowest route: from the start of submission until the message showed in the mailbox.',
      unit: 's',
      warnAt: 120,
      alerts: ['TinomailMailProbeSlow'],
      queries: [{ expr: `max(histogram_quantile(0.9, sum by (route, le) (rate(probe_roundtrip_seconds_bucket{${R}}[30m]))))` }],
    }),
    stat({
      title: 'Probe mail in Junk (1h)',
      description: 'Share of the probe messages of the last hour that landed in the Junk folder, on the worst route. Real mail of that path is likely filed as spam as well.',
      unit: 'percentunit',
      warnAt: 0.5,
      alerts: ['TinomailMailProbeInJunk'],
      queries: [
        {
          expr: `max(sum by (route) (increase(probe_placement_total{folder="junk", ${R}}[1h])) / sum by (route) (increase(probe_placement_total{${R}}[1h])))`,
        },
      ],
    }),
    stat({
      title: 'Probe mail late (1h)',
      description: 'Probe messages that arrived after their timeout in the last hour: late, not lost. Many late and few lost means mail is slow rather than dropped.',
      unit: 'short',
      warnAt: 1,
      queries: [{ expr: `sum(increase(probe_late_total{${R}}[1h]))` }],
    }),
    timeseries({
      title: 'Round trip by route',
      description: 'Median and 90th percentile of the probe round trip per route over 10 minutes (late messages included).',
      unit: 's',
      alerts: ['TinomailMailProbeSlow'],
      queries: [
        { expr: `histogram_quantile(0.5, sum by (route, le) (rate(probe_roundtrip_seconds_bucket{${R}}[10m])))`, legend: '{{route}} p50' },
        { expr: `histogram_quantile(0.9, sum by (route, le) (rate(probe_roundtrip_seconds_bucket{${R}}[10m])))`, legend: '{{route}} p90' },
      ],
    }),
    timeseries({
      title: 'Hop breakdown',
      description:
        'Average time per hop of probe mail over 30 minutes, from its Received headers: submission (to the submission server), mta (its queue and delivery to the MX), mx (the MX until the store, or until seen when the store adds no header), store. Dates in Received headers have one-second resolution.',
      unit: 's',
      stacked: true,
      queries: [
        {
          expr: `sum by (route, hop) (rate(probe_hop_seconds_sum{${R}}[30m])) / sum by (route, hop) (rate(probe_hop_seconds_count{${R}}[30m]))`,
          legend: '{{route}} {{hop}}',
        },
      ],
    }),
    timeseries({
      title: 'Probe failures by stage',
      description:
        'Failed probe round trips per hour by stage: submit (refused or unreachable), deliver (the MTA deferred it), fetch (the mailbox could not be read), timeout (not seen in time), cleanup (not deleted). docs/runbooks.md tells what each stage points at.',
      unit: 'short',
      width: 24,
      queries: [{ expr: `sum by (route, stage) (increase(probe_failures_total{${R}}[1h]))`, legend: '{{route}} {{stage}}' }],
    }),
  ],
};
