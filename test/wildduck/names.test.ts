/**
 * The exporter's metric names must never clash with WildDuck's own /metrics, which Prometheus scrapes too.
 * NATIVE is the list of the 31 names registered in WildDuck 1.50.0 lib/metrics.js.
 */
import { Registry } from 'prom-client';
import { parseFlags } from '../../exporters/kit/flags';
import { silentLogger } from '../../exporters/kit/log';
import { registerKitMetrics } from '../../exporters/kit/run';
import { definition } from '../../exporters/wildduck';

const NATIVE = [
  'wildduck_info', 'wildduck_service_up', 'wildduck_api_requests_total', 'wildduck_api_request_duration_seconds',
  'wildduck_api_errors_total', 'wildduck_auth_attempts_total', 'wildduck_connections', 'wildduck_connections_total',
  'wildduck_imap_commands_total', 'wildduck_imap_command_duration_seconds', 'wildduck_pop3_commands_total',
  'wildduck_pop3_command_duration_seconds', 'wildduck_lmtp_recipients_total', 'wildduck_lmtp_messages_total',
  'wildduck_lmtp_message_size_bytes', 'wildduck_message_operations_total', 'wildduck_message_operation_duration_seconds',
  'wildduck_message_size_bytes', 'wildduck_journal_entries_total', 'wildduck_notifications_published_total',
  'wildduck_imap_notification_users', 'wildduck_imap_notification_listeners', 'wildduck_events_published_total',
  'wildduck_tasks', 'wildduck_tasks_processed_total', 'wildduck_task_duration_seconds', 'wildduck_bullmq_jobs',
  'wildduck_bullmq_jobs_processed_total', 'wildduck_webhook_posts_total', 'wildduck_search_indexer_lock_owner',
  'wildduck_search_indexer_changes_total',
];

function ourNames(): string[] {
  const registry = new Registry();
  registerKitMetrics(definition.name, registry);
  definition.create({ registry, flags: parseFlags([], definition.flags, {}).values, log: silentLogger });
  return registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name);
}

test('no metric name or subsystem of the exporter is one of WildDuck native /metrics', () => {
  expect(NATIVE).toHaveLength(31);
  // Subsystems WildDuck uses (wildduck_<subsystem>_...): a name of ours in one of them could collide later.
  const nativeSubsystems = new Set(NATIVE.map((n) => n.split('_')[1]));
  const names = ourNames();
  expect(names.length).toBeGreaterThan(20);
  for (const name of names) {
    expect(NATIVE).not.toContain(name);
    expect(nativeSubsystems.has(name.split('_')[1])).toBe(false);
  }
});
