/** Hosts and processes: the machines (node_exporter), the mail processes (system exporter), probes and targets. */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';

const H = HOST;
const RI = '$__rate_interval';
/** Filesystems that hold data (not memory-backed or container layers), as the disk alerts choose them. */
const DATA_FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs"';

export const hosts: DashboardSpec = {
  uid: 'tinomail-hosts',
  title: 'Mail / Hosts and processes',
  description:
    'The machines of the mail system: CPU, memory, disks and network, the mail processes and their ports (system exporter), disks as node_exporter sees them (the disk alert), TLS probes of the mail ports (blackbox_exporter), and every scrape target with its exporter\'s health.',
  variables: [...hostVariables('up')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'Targets down',
          description: 'Scrape targets on the chosen hosts that did not answer their last scrape.',
          unit: 'short',
          criticalAt: 1,
          alerts: ['TinomailMailServiceDown', 'TinomailExporterDown'],
          queries: [{ expr: `count(up{${H}} == 0) or vector(0)` }],
        }),
        stat({
          title: 'Probes failing',
          description: 'Mail ports (SMTP 25/587/465, IMAPS 993, POP3S 995) whose blackbox probe (banner and TLS handshake) fails now.',
          unit: 'short',
          criticalAt: 1,
          alerts: ['TinomailProbeFailed'],
          queries: [{ expr: `count(probe_success{${H}, route=""} == 0) or vector(0)` }],
        }),
        stat({
          title: 'First certificate to expire',
          description: 'Days until the earliest TLS certificate seen by the probes expires. Renewal usually happens 30 days before.',
          unit: 'd',
          criticalBelow: 3,
          warnBelow: 14,
          alerts: ['TinomailTLSCertificateExpiring'],
          queries: [{ expr: `min((probe_ssl_earliest_cert_expiry{${H}} - time()) / 86400)` }],
        }),
        stat({
          title: 'Fullest filesystem',
          description: 'Used share of the fullest data filesystem on the chosen hosts (MongoDB, mail queues and logs live there).',
          unit: 'percentunit',
          warnAt: 0.8,
          criticalAt: 0.9,
          alerts: ['TinomailDiskFillingUp', 'TinomailDiskAlmostFull'],
          queries: [{ expr: `max(1 - node_filesystem_avail_bytes{${DATA_FS}, ${H}} / node_filesystem_size_bytes{${DATA_FS}, ${H}})` }],
        }),
      ],
    },
    {
      title: 'Machines (system exporter)',
      panels: [
        timeseries({
          title: 'CPU busy',
          description: 'Share of CPU time not idle, per host (/proc/stat).',
          unit: 'percentunit',
          min: 0,
          max: 1,
          queries: [
            {
              expr: `1 - sum by (host) (rate(system_cpu_seconds_total{mode="idle", ${H}}[${RI}])) / sum by (host) (rate(system_cpu_seconds_total{${H}}[${RI}]))`,
              legend: '{{host}}',
            },
          ],
        }),
        timeseries({
          title: 'Memory available',
          description: 'Memory available for new work without swapping (MemAvailable), per host, as a share of all memory.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          queries: [{ expr: `system_memory_available_bytes{${H}} / system_memory_total_bytes{${H}}`, legend: '{{host}}' }],
        }),
        timeseries({
          title: 'Load per CPU',
          description: 'One-minute load average divided by the number of CPUs. Above 1 work waits for a CPU.',
          unit: 'short',
          queries: [{ expr: `system_load_average{period="1m", ${H}} / on (host, instance) system_cpus{${H}}`, legend: '{{host}}' }],
        }),
        timeseries({
          title: 'Filesystems used',
          description: 'Used share of each mounted filesystem. MongoDB, the mail queue and the logs live on these.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          queries: [{ expr: `system_filesystem_used_bytes{${H}} / (system_filesystem_size_bytes{${H}} > 0)`, legend: '{{host}} {{mountpoint}}' }],
        }),
        timeseries({
          title: 'Disk throughput',
          description: 'Bytes read from and written to all disks per second, per host.',
          unit: 'Bps',
          queries: [
            { expr: `sum by (host) (rate(system_disk_read_bytes_total{${H}}[${RI}]))`, legend: '{{host}} read' },
            { expr: `sum by (host) (rate(system_disk_written_bytes_total{${H}}[${RI}]))`, legend: '{{host}} written' },
          ],
        }),
        timeseries({
          title: 'Network traffic',
          description: 'Bytes received and sent per second per host, loopback excluded.',
          unit: 'Bps',
          queries: [
            { expr: `sum by (host) (rate(system_network_receive_bytes_total{device!="lo", ${H}}[${RI}]))`, legend: '{{host}} in' },
            { expr: `sum by (host) (rate(system_network_transmit_bytes_total{device!="lo", ${H}}[${RI}]))`, legend: '{{host}} out' },
          ],
        }),
      ],
    },
    {
      title: 'Mail processes (system exporter)',
      panels: [
        timeseries({
          title: 'Processes per service',
          description: 'Running processes of each mail service (haraka, zone-mta, wildduck, rspamd, mongod, redis-server by command line). 0 means the service is not running on that host.',
          unit: 'short',
          alerts: ['TinomailMailProcessNotRunning'],
          queries: [{ expr: `max by (host, service) (system_service_processes{${H}})`, legend: '{{host}} {{service}}' }],
        }),
        timeseries({
          title: 'CPU per service',
          description: 'CPU used by the processes of each mail service, in CPUs (1 = one core busy).',
          unit: 'short',
          queries: [{ expr: `sum by (host, service) (rate(system_service_cpu_seconds_total{${H}}[${RI}]))`, legend: '{{host}} {{service}}' }],
        }),
        timeseries({
          title: 'Memory per service',
          description: 'Resident memory of the processes of each mail service. Steady growth until a restart is a leak.',
          unit: 'bytes',
          queries: [{ expr: `sum by (host, service) (system_service_resident_memory_bytes{${H}})`, legend: '{{host}} {{service}}' }],
        }),
        timeseries({
          title: 'Time since start per service',
          description: 'How long the oldest process of each mail service has been running. A saw-tooth near zero is a crash loop.',
          unit: 's',
          queries: [{ expr: `time() - max by (host, service) (system_service_start_time_seconds{${H}})`, legend: '{{host}} {{service}}' }],
        }),
        table({
          title: 'Mail ports listening',
          description: 'Whether something listens on each expected TCP port of the host (25, 587, 465, 993, 995, the APIs, MongoDB, Redis): 0 means clients cannot connect.',
          unit: 'bool',
          queries: [{ expr: `max by (host, port) (system_port_listening{${H}})` }],
        }),
      ],
    },
    {
      title: 'Disks (node_exporter)',
      panels: [
        timeseries({
          title: 'Filesystem space used',
          description: 'Used share of each data filesystem as node_exporter sees it. One disk alert fires when the trend of the last 6 hours fills it within a day, another above 90% and 95% used whatever the trend.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          alerts: ['TinomailDiskFillingUp', 'TinomailDiskAlmostFull'],
          queries: [
            {
              expr: `1 - node_filesystem_avail_bytes{${DATA_FS}, ${H}} / node_filesystem_size_bytes{${DATA_FS}, ${H}}`,
              legend: '{{host}} {{mountpoint}}',
            },
          ],
        }),
        timeseries({
          title: 'Inodes used',
          description: 'Used share of the inodes of each data filesystem. When none are left no file can be created, whatever the free space.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          alerts: ['TinomailDiskInodesRunningOut'],
          queries: [
            {
              expr: `1 - node_filesystem_files_free{${DATA_FS}, ${H}} / node_filesystem_files{${DATA_FS}, ${H}}`,
              legend: '{{host}} {{mountpoint}}',
            },
          ],
        }),
        table({
          title: 'Read-only and failing filesystems',
          description: 'Filesystems mounted read-only (1; the kernel remounts a disk read-only after I/O errors) and those node_exporter cannot read (device error 1). Normally empty.',
          unit: 'short',
          height: 6,
          alerts: ['TinomailFilesystemReadOnly', 'TinomailFilesystemDeviceError'],
          queries: [
            { expr: `max by (host, mountpoint, device) (node_filesystem_readonly{fstype=~"ext[234]|xfs|btrfs|zfs|f2fs|jfs|reiserfs", ${H}}) == 1` },
            { expr: `max by (host, mountpoint, device) (node_filesystem_device_error{${H}}) == 1` },
          ],
        }),
        timeseries({
          title: 'Memory available and OOM kills',
          description: 'Share of memory available (node_exporter MemAvailable; the alert fires under 10%) and processes the kernel killed for lack of memory in the interval.',
          unit: 'percentunit',
          min: 0,
          alerts: ['TinomailHostMemoryLow', 'TinomailHostOOMKill'],
          queries: [
            { expr: `node_memory_MemAvailable_bytes{${H}} / node_memory_MemTotal_bytes{${H}}`, legend: '{{host}} available' },
            { expr: `increase(node_vmstat_oom_kill{${H}}[${RI}])`, legend: '{{host}} OOM kills' },
          ],
        }),
        timeseries({
          title: 'Clock offset',
          description: 'Offset of each host clock as its time daemon estimates it (node_exporter timex), and whether it is synchronised. Over 50 ms, or not synchronised, breaks TLS, DKIM and TOTP sooner or later.',
          unit: 's',
          alerts: ['TinomailHostClockSkew'],
          queries: [
            { expr: `node_timex_offset_seconds{${H}}`, legend: '{{host}} offset' },
            { expr: `node_timex_sync_status{${H}}`, legend: '{{host}} synchronised' },
          ],
        }),
        timeseries({
          title: 'Disk time busy',
          description: 'Share of time each disk was busy with I/O. Near 100% the disk is the bottleneck (MongoDB slows down, queues grow).',
          unit: 'percentunit',
          min: 0,
          queries: [{ expr: `rate(node_disk_io_time_seconds_total{${H}}[${RI}])`, legend: '{{host}} {{device}}' }],
        }),
      ],
    },
    {
      title: 'Mail ports (blackbox_exporter)',
      panels: [
        table({
          title: 'Probes',
          description: 'Each probed mail port: whether the banner and TLS handshake succeeded (1), how long the probe took, and days until its certificate expires.',
          unit: 'short',
          alerts: ['TinomailProbeFailed', 'TinomailTLSCertificateExpiring'],
          queries: [
            { expr: `max by (host, instance, module) (probe_success{${H}, route=""})` },
            { expr: `max by (host, instance, module) (probe_duration_seconds{${H}})` },
            { expr: `min by (host, instance, module) ((probe_ssl_earliest_cert_expiry{${H}} - time()) / 86400)` },
          ],
        }),
        timeseries({
          title: 'Probe duration',
          description: 'Time each probe took from connection to QUIT. A slow banner often means the daemon is overloaded or does reverse DNS lookups that time out.',
          unit: 's',
          queries: [{ expr: `max by (instance, module) (probe_duration_seconds{${H}})`, legend: '{{instance}} {{module}}' }],
        }),
      ],
    },
    {
      title: 'Targets and exporters',
      panels: [
        table({
          title: 'Scrape targets',
          description: 'Every scrape target on the chosen hosts by job: 1 answered its last scrape. A plugin or native target at 0 means the mail daemon itself is down.',
          unit: 'bool',
          alerts: ['TinomailMailServiceDown', 'TinomailExporterDown'],
          queries: [{ expr: `max by (job, host, instance) (up{${H}})` }],
        }),
        timeseries({
          title: 'Exporters reaching their service',
          description: "Each tinomail exporter's <name>_up: 1 when it reached the service it watches (WildDuck API, MongoDB, Redis) at the last scrape. The exporter answers even when its service is down.",
          unit: 'bool',
          queries: [{ expr: `max by (__name__, host) ({__name__=~"wildduck_up|mongodb_up|redis_up|gelf_up|system_up", ${H}})`, legend: '{{__name__}} {{host}}' }],
        }),
        timeseries({
          title: 'Exporter collectors',
          description: 'Collectors of the exporters that failed or timed out at the last scrape (0); their panels stay empty until they recover.',
          unit: 'bool',
          alerts: ['TinomailCollectorFailing'],
          queries: [{ expr: `min by (__name__, collector) ({__name__=~".+_scrape_collector_success", ${H}})`, legend: '{{__name__}} {{collector}}' }],
        }),
        timeseries({
          title: 'Scrape duration',
          description: 'How long each target took to answer Prometheus. Close to the scrape timeout (10 s, 25 s for the wildduck and mongodb exporters) means scrapes will start failing.',
          unit: 's',
          queries: [{ expr: `max by (job, instance) (scrape_duration_seconds{${H}})`, legend: '{{job}} {{instance}}' }],
        }),
      ],
    },
  ],
};
