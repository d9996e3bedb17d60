/** The probe's metrics (names from issue 14), on the exporter's registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Placement } from './check';
import { HOPS } from './received';

export const STAGES = ['submit', 'deliver', 'fetch', 'timeout', 'cleanup'] as const;
export type Stage = (typeof STAGES)[number];
export const PLACEMENTS: Placement[] = ['inbox', 'junk', 'other'];
export const REQUEST_TARGETS = ['submit', 'check', 'mta'] as const;
export type RequestTarget = (typeof REQUEST_TARGETS)[number];

// Round trips of a healthy suite take seconds; the top buckets tell a slow path from a stuck one.
const ROUNDTRIP_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];
// Received dates have one-second resolution: finer buckets than a second would mean nothing.
const HOP_BUCKETS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800];

export class ProbeMetrics {
  readonly success: Gauge<'route'>;
  readonly roundtrip: Histogram<'route'>;
  readonly lastSuccess: Gauge<'route'>;
  readonly hop: Histogram<'route' | 'hop'>;
  readonly placement: Counter<'route' | 'folder'>;
  readonly failures: Counter<'route' | 'stage'>;
  readonly late: Counter<'route'>;
  readonly inFlight: Gauge<'route'>;
  readonly requests: Counter<'route' | 'target'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.success = new Gauge({ name: 'probe_success', help: 'Whether the last decided round trip of the route completed within its timeout (1) or not (0).', labelNames: ['route'], registers });
    this.roundtrip = new Histogram({
      name: 'probe_roundtrip_seconds',
      help: 'Time from the start of submission until the probe message was seen in the mailbox, in seconds (late messages included).',
      labelNames: ['route'],
      buckets: ROUNDTRIP_BUCKETS,
      registers,
    });
    this.lastSuccess = new Gauge({ name: 'probe_last_success_timestamp_seconds', help: 'Unix time when a round trip of the route last succeeded within its timeout.', labelNames: ['route'], registers });
    this.hop = new Histogram({
      name: 'probe_hop_seconds',
      help: 'Time a probe message spent per hop (submission, mta, mx, store), from its Received headers, in seconds.',
      labelNames: ['route', 'hop'],
      buckets: HOP_BUCKETS,
      registers,
    });
    this.placement = new Counter({ name: 'probe_placement_total', help: 'Probe messages found, by the folder they landed in (inbox, junk or other).', labelNames: ['route', 'folder'], registers });
    this.failures = new Counter({
      name: 'probe_failures_total',
      help: 'Failed round trips by stage: submit (refused or unreachable), deliver (the MTA deferred it), fetch (the mailbox could not be read), timeout (not seen in time), cleanup (not deleted).',
      labelNames: ['route', 'stage'],
      registers,
    });
    this.late = new Counter({ name: 'probe_late_total', help: 'Probe messages that arrived after their timeout (late, not lost).', labelNames: ['route'], registers });
    this.inFlight = new Gauge({ name: 'probe_in_flight_messages', help: 'Probe messages sent and not yet found, deleted or given up on.', labelNames: ['route'], registers });
    this.requests = new Counter({ name: 'probe_requests_total', help: 'Requests the probe made, by target: submit (SMTP sessions, API posts), check (IMAP commands, API calls), mta (queue status).', labelNames: ['route', 'target'], registers });
  }

  /** Every series of a route at 0, so rate() and increase() see the first failure. */
  initRoute(route: string): void {
    for (const stage of STAGES) this.failures.inc({ route, stage }, 0);
    for (const folder of PLACEMENTS) this.placement.inc({ route, folder }, 0);
    for (const target of REQUEST_TARGETS) this.requests.inc({ route, target }, 0);
    this.late.inc({ route }, 0);
    this.inFlight.set({ route }, 0);
    this.roundtrip.zero({ route });
    for (const hop of HOPS) this.hop.zero({ route, hop });
  }
}
