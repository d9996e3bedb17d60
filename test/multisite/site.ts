/**
 * One site's mail traffic for test/multisite: scripts/demo.ts (a real Haraka with haraka-plugin-tinomail, the ZoneMTA
 * plugin through ZoneMTA's own loader, every exporter, redis-server, synthetic GELF, SMTP and ZoneMTA log traffic)
 * on free ports, without its own Prometheus: the test runs each site's Prometheus. Its own process, because the
 * ZoneMTA plugin keeps module state, so two sites cannot share one. Prints its scrape targets as one JSON line, then
 * sends a round of traffic every `TRAFFIC_MS` until SIGTERM or until the test process is gone.
 */
import { silentLogger } from '../../exporters/kit/log';
import { startDemo } from '../../scripts/demo';

// The demo's traffic may still be sending a GELF line when stop() closes its socket: that late line is no error.
process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
  if (err.code === 'ERR_SOCKET_DGRAM_NOT_RUNNING') return;
  process.stderr.write(`site: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

startDemo({ ports: 'free', prometheus: false, trafficEveryMs: Number(process.env.TRAFFIC_MS ?? 500), log: silentLogger }).then(
  (demo) => {
    process.stdout.write(`${JSON.stringify({ targets: demo.targets, skipped: demo.skipped })}\n`);
    let stopping = false;
    const shutdown = () => {
      if (stopping) return;
      stopping = true;
      demo.stop().then(() => process.exit(0));
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    // the test process gone (its IPC channel closes) ends the site too
    process.on('disconnect', shutdown);
  },
  (err: Error) => {
    process.stderr.write(`site: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
