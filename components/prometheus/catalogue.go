package prometheus

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/aurigraph/infra/components/backupjob"
	"github.com/aurigraph/infra/components/host"
)

// Scrape jobs besides AppJob: the names rules and dashboards select on
// (job="..."), the scrape configuration declares, and Catalogue keys.
const (
	JobPrometheus = "prometheus"
	JobNode       = "node"      // node exporter on every host, textfile metrics included
	JobDocker     = "docker"    // dockerd's metrics-addr on every host
	JobCadvisor   = "cadvisor"  // cAdvisor where the distribution packages it
	JobPostgres   = "postgres"  // postgres_exporter beside PostgreSQL
	JobRedis      = "redis"     // redis_exporter beside Redis
	JobPgBouncer  = "pgbouncer" // pgbouncer_exporter beside PgBouncer
	JobGrafana    = "grafana"
	JobJaeger     = "jaeger" // Jaeger's admin port
	JobVault      = "vault"
)

// AnyJob keys the series Prometheus adds to every target it scrapes.
const AnyJob = "*"

// Exported is what one scrape job's targets export.
type Exported struct {
	Job    string
	Source string // the program and version the names were read from
	// Metrics are full series names as Prometheus stores them: a histogram
	// is listed by its _bucket, _sum and _count series (see Histogram).
	Metrics []string
}

// Histogram lists the three series of a Prometheus histogram.
func Histogram(name string) []string {
	return []string{name + "_bucket", name + "_sum", name + "_count"}
}

// Summary lists the two series of a summary (its quantiles share the name).
func Summary(name string) []string { return []string{name, name + "_sum", name + "_count"} }

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// goProcess are the Go client library's runtime and process series, served
// by every exporter written in Go.
var goProcess = []string{
	"go_goroutines", "go_threads", "go_info", "go_memstats_alloc_bytes", "go_memstats_heap_inuse_bytes",
	"go_memstats_sys_bytes", "go_gc_duration_seconds", "go_gc_duration_seconds_sum", "go_gc_duration_seconds_count",
	"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
	"process_open_fds", "process_max_fds", "process_start_time_seconds",
}

// Catalogue is the one list of metric names the scrape targets export, by
// job. Every dashboard query and alert rule may name only these (tests in
// components/grafana and components/prometheus enforce it), so a panel
// that would stay empty fails a test instead. Node exporter's textfile
// metrics are not listed here: the host scripts that write them are their
// owner, and TextfileMetrics reads them from the scripts.
//
// To add a metric: add it to its job's list, with the exporter version it
// was read from in Source when that changes.
var Catalogue = []Exported{
	{Job: AnyJob, Source: "Prometheus, per scrape and per rule evaluation", Metrics: []string{
		"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
		"scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
	}},
	{Job: JobPrometheus, Source: "prom/prometheus v2.55", Metrics: join(goProcess, []string{
		"prometheus_build_info", "prometheus_ready",
		"prometheus_config_last_reload_successful", "prometheus_config_last_reload_success_timestamp_seconds",
		"prometheus_notifications_sent_total", "prometheus_notifications_errors_total",
		"prometheus_notifications_dropped_total", "prometheus_notifications_queue_length",
		"prometheus_notifications_queue_capacity", "prometheus_notifications_alertmanagers_discovered",
		"prometheus_rule_evaluation_failures_total", "prometheus_rule_evaluations_total",
		"prometheus_rule_group_iterations_missed_total", "prometheus_rule_group_last_duration_seconds",
		"prometheus_rule_group_interval_seconds",
		"prometheus_tsdb_head_series", "prometheus_tsdb_head_samples_appended_total",
		"prometheus_tsdb_compactions_failed_total", "prometheus_tsdb_reloads_failures_total",
		"prometheus_tsdb_wal_corruptions_total", "prometheus_tsdb_storage_blocks_bytes",
		"prometheus_tsdb_retention_limit_bytes", "prometheus_target_scrapes_exceeded_sample_limit_total",
		"prometheus_sd_discovered_targets", "prometheus_http_requests_total",
	}, Summary("prometheus_target_interval_length_seconds"))},
	{Job: AppJob, Source: "Quarkus + Micrometer registry Prometheus (/q/metrics) and the application's own meters", Metrics: join(
		// HTTP server (percentiles-histogram on for http.server.requests).
		Histogram("http_server_requests_seconds"), []string{"http_server_requests_seconds_max"},
		// JVM: memory, GC, threads, classes.
		[]string{
			"jvm_memory_used_bytes", "jvm_memory_committed_bytes", "jvm_memory_max_bytes",
			"jvm_memory_usage_after_gc_percent", "jvm_buffer_memory_used_bytes", "jvm_buffer_count_buffers",
			"jvm_gc_pause_seconds_count", "jvm_gc_pause_seconds_sum", "jvm_gc_pause_seconds_max",
			"jvm_gc_memory_allocated_bytes_total", "jvm_gc_memory_promoted_bytes_total",
			"jvm_gc_live_data_size_bytes", "jvm_gc_max_data_size_bytes", "jvm_gc_overhead",
			"jvm_threads_live_threads", "jvm_threads_daemon_threads", "jvm_threads_peak_threads",
			"jvm_threads_states_threads", "jvm_classes_loaded_classes",
			"process_cpu_usage", "process_uptime_seconds", "process_start_time_seconds",
			"process_files_open_files", "process_files_max_files",
			"system_cpu_usage", "system_cpu_count", "system_load_average_1m",
		},
		// Agroal JDBC pool.
		[]string{
			"agroal_active_count", "agroal_available_count", "agroal_awaiting_count", "agroal_max_used_count",
			"agroal_acquire_count_total", "agroal_creation_count_total", "agroal_destroy_count_total",
			"agroal_flush_count_total", "agroal_invalid_count_total", "agroal_leak_detection_count_total",
			"agroal_reap_count_total", "agroal_blocking_time_average_milliseconds",
			"agroal_blocking_time_max_milliseconds", "agroal_blocking_time_total_milliseconds",
			"agroal_creation_time_average_milliseconds", "agroal_creation_time_max_milliseconds",
		},
		// Caffeine caches.
		[]string{"cache_gets_total", "cache_puts_total", "cache_evictions_total", "cache_size"},
		// The application's own meters (its contract with the dashboards and rules).
		[]string{
			"aurigraph_transactions_total", "aurigraph_blocks_total", "aurigraph_block_height",
			"aurigraph_active_validators", "aurigraph_pending_transactions",
			"aurigraph_consensus_leader_elections_total",
		},
		Histogram("aurigraph_consensus_round_seconds"), Histogram("aurigraph_db_query_seconds"),
	)},
	{Job: JobNode, Source: "prometheus-node-exporter 1.5 (Debian 12), default collectors", Metrics: join(goProcess, []string{
		"node_exporter_build_info", "node_uname_info", "node_os_info", "node_boot_time_seconds", "node_time_seconds",
		"node_cpu_seconds_total", "node_load1", "node_load5", "node_load15",
		"node_context_switches_total", "node_intr_total", "node_forks_total", "node_procs_running", "node_procs_blocked",
		"node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes", "node_memory_MemFree_bytes",
		"node_memory_Buffers_bytes", "node_memory_Cached_bytes", "node_memory_SwapTotal_bytes",
		"node_memory_SwapFree_bytes", "node_vmstat_oom_kill", "node_vmstat_pgmajfault",
		"node_pressure_cpu_waiting_seconds_total", "node_pressure_memory_waiting_seconds_total",
		"node_pressure_memory_stalled_seconds_total", "node_pressure_io_waiting_seconds_total",
		"node_pressure_io_stalled_seconds_total",
		"node_filesystem_size_bytes", "node_filesystem_avail_bytes", "node_filesystem_free_bytes",
		"node_filesystem_files", "node_filesystem_files_free", "node_filesystem_readonly",
		"node_filesystem_device_error",
		"node_disk_read_bytes_total", "node_disk_written_bytes_total", "node_disk_reads_completed_total",
		"node_disk_writes_completed_total", "node_disk_read_time_seconds_total", "node_disk_write_time_seconds_total",
		"node_disk_io_time_seconds_total", "node_disk_io_time_weighted_seconds_total", "node_disk_io_now",
		"node_network_receive_bytes_total", "node_network_transmit_bytes_total",
		"node_network_receive_errs_total", "node_network_transmit_errs_total",
		"node_network_receive_drop_total", "node_network_transmit_drop_total", "node_network_up",
		"node_timex_offset_seconds", "node_timex_sync_status", "node_timex_maxerror_seconds",
		"node_filefd_allocated", "node_filefd_maximum", "node_entropy_available_bits",
		"node_nf_conntrack_entries", "node_nf_conntrack_entries_limit",
		"node_textfile_scrape_error", "node_textfile_mtime_seconds",
	})},
	{Job: JobDocker, Source: "Docker Engine metrics-addr (moby 20.10+)", Metrics: join(goProcess, []string{
		"engine_daemon_engine_info", "engine_daemon_engine_cpus_cpus", "engine_daemon_engine_memory_bytes",
		"engine_daemon_container_states_containers", "engine_daemon_events_total",
		"engine_daemon_health_checks_total", "engine_daemon_health_checks_failed_total",
		"builder_builds_failed_total",
	}, Histogram("engine_daemon_container_actions_seconds"), Histogram("engine_daemon_network_actions_seconds"))},
	{Job: JobCadvisor, Source: "cAdvisor", Metrics: []string{
		"container_cpu_usage_seconds_total", "container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
		"container_memory_working_set_bytes", "container_memory_usage_bytes", "container_memory_rss",
		"container_memory_cache", "container_spec_memory_limit_bytes", "container_spec_cpu_quota",
		"container_spec_cpu_period", "container_oom_events_total", "container_last_seen",
		"container_start_time_seconds", "container_network_receive_bytes_total",
		"container_network_transmit_bytes_total", "container_fs_usage_bytes", "container_fs_limit_bytes",
		"container_fs_reads_bytes_total", "container_fs_writes_bytes_total", "machine_cpu_cores", "machine_memory_bytes",
	}},
	{Job: JobPostgres, Source: "postgres_exporter v0.16, default collectors", Metrics: join(goProcess, []string{
		"pg_up", "pg_static", "pg_postmaster_start_time_seconds", "pg_exporter_last_scrape_error",
		"pg_stat_database_numbackends", "pg_stat_database_xact_commit", "pg_stat_database_xact_rollback",
		"pg_stat_database_blks_read", "pg_stat_database_blks_hit", "pg_stat_database_tup_returned",
		"pg_stat_database_tup_fetched", "pg_stat_database_tup_inserted", "pg_stat_database_tup_updated",
		"pg_stat_database_tup_deleted", "pg_stat_database_conflicts", "pg_stat_database_deadlocks",
		"pg_stat_database_temp_bytes", "pg_settings_max_connections", "pg_database_size_bytes",
		"pg_locks_count", "pg_replication_lag_seconds", "pg_replication_is_replica",
		"pg_stat_replication_pg_wal_lsn_diff", "pg_stat_replication_pg_current_wal_lsn_bytes",
		"pg_stat_archiver_archived_count", "pg_stat_archiver_failed_count", "pg_stat_archiver_last_archive_age",
		"pg_stat_bgwriter_checkpoints_timed_total", "pg_stat_bgwriter_checkpoints_req_total",
	})},
	{Job: JobPgBouncer, Source: "pgbouncer_exporter v0.12 (collector.go metric maps)", Metrics: join(goProcess, []string{
		"pgbouncer_up", "pgbouncer_version_info", "pgbouncer_config_max_client_connections", "pgbouncer_config_max_user_connections",
		"pgbouncer_pools_client_active_connections", "pgbouncer_pools_client_waiting_connections",
		"pgbouncer_pools_server_active_connections", "pgbouncer_pools_server_idle_connections",
		"pgbouncer_pools_server_used_connections", "pgbouncer_pools_server_login_connections",
		"pgbouncer_pools_client_maxwait_seconds", "pgbouncer_databases_pool_size", "pgbouncer_databases_reserve_pool",
		"pgbouncer_databases_max_connections", "pgbouncer_databases_current_connections",
		"pgbouncer_stats_sql_transactions_pooled_total", "pgbouncer_stats_queries_pooled_total",
		"pgbouncer_stats_client_wait_seconds_total", "pgbouncer_stats_server_in_transaction_seconds_total",
	})},
	{Job: JobRedis, Source: "redis_exporter v1.66", Metrics: join(goProcess, []string{
		"redis_up", "redis_uptime_in_seconds", "redis_connected_clients", "redis_blocked_clients",
		"redis_rejected_connections_total", "redis_memory_used_bytes", "redis_memory_max_bytes",
		"redis_keyspace_hits_total", "redis_keyspace_misses_total", "redis_commands_processed_total",
		"redis_commands_total", "redis_commands_duration_seconds_total", "redis_evicted_keys_total",
		"redis_expired_keys_total", "redis_db_keys", "redis_connected_slaves",
		"redis_rdb_last_bgsave_status", "redis_rdb_changes_since_last_save", "redis_rdb_last_save_timestamp_seconds",
		"redis_aof_last_bgrewrite_status", "redis_instantaneous_ops_per_sec",
	})},
	{Job: JobGrafana, Source: "grafana/grafana 11", Metrics: join(goProcess, []string{
		"grafana_build_info", "grafana_stat_totals_dashboard", "grafana_datasource_request_total",
		"grafana_http_request_duration_seconds_bucket", "grafana_http_request_duration_seconds_sum",
		"grafana_http_request_duration_seconds_count",
	})},
	{Job: JobJaeger, Source: "jaegertracing/all-in-one 1.62 (admin port /metrics)", Metrics: join(goProcess, []string{
		"jaeger_collector_spans_received_total", "jaeger_collector_spans_rejected_total",
		"jaeger_collector_spans_dropped_total", "jaeger_collector_spans_saved_by_svc_total",
		"jaeger_collector_traces_received_total", "jaeger_collector_traces_rejected_total",
		"jaeger_collector_traces_saved_by_svc_total", "jaeger_collector_queue_length",
		"jaeger_collector_queue_capacity",
	}, Histogram("jaeger_collector_save_latency"), Histogram("jaeger_collector_in_queue_latency"))},
	{Job: JobVault, Source: "hashicorp/vault 1.18 telemetry (/v1/sys/metrics?format=prometheus)", Metrics: join([]string{
		"vault_core_unsealed", "vault_core_active", "vault_core_in_flight_requests",
		"vault_audit_log_request_failure", "vault_audit_log_response_failure",
		"vault_expire_num_leases", "vault_token_count", "vault_runtime_alloc_bytes",
		"vault_runtime_sys_bytes", "vault_runtime_num_goroutines",
	}, Summary("vault_core_handle_request"))},
}

// typeLine is a Prometheus exposition "# TYPE name type" line, the way the
// textfile scripts declare each metric they write.
var typeLine = regexp.MustCompile(`#\s*TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(counter|gauge|histogram|summary|untyped)\b`)

// TextfileMetrics are the series a script writing node exporter textfile
// metrics produces: every metric it declares with a "# TYPE" line (as the
// exposition format requires), histograms and summaries with their series.
func TextfileMetrics(script string) []string {
	var out []string
	for _, m := range typeLine.FindAllStringSubmatch(script, -1) {
		switch m[2] {
		case "histogram":
			out = append(out, Histogram(m[1])...)
		case "summary":
			out = append(out, Summary(m[1])...)
		default:
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// Exporters maps each metric name to the jobs exporting it: the catalogue,
// plus extra names per job (the textfile scripts' metrics under JobNode,
// recording rules under AnyJob).
func Exporters(extra map[string][]string) map[string][]string {
	out := map[string][]string{}
	add := func(job string, names []string) {
		for _, n := range names {
			out[n] = append(out[n], job)
		}
	}
	for _, e := range Catalogue {
		add(e.Job, e.Metrics)
	}
	for _, job := range slices.Sorted(maps.Keys(extra)) {
		add(job, extra[job])
	}
	for n, jobs := range out {
		sort.Strings(jobs)
		out[n] = compact(jobs)
	}
	return out
}

// RuleGroups is the part of a rules file the checks read.
type RuleGroups struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ParseRules reads a rendered rules file.
func ParseRules(rendered string) (RuleGroups, error) {
	var g RuleGroups
	err := yaml.Unmarshal([]byte(rendered), &g)
	return g, err
}

// ExportersWith is Exporters with everything the stack adds to the
// catalogue: the textfile metrics of every script under components (node
// exporter serves them, job node) and the series the rendered rules record
// (Prometheus stores them, whatever the job).
func ExportersWith(components fs.FS, renderedRules string) (map[string][]string, error) {
	textfile, err := TextfileMetricsIn(components)
	if err != nil {
		return nil, err
	}
	// Scripts that take their metric names as template values declare them in Go.
	textfile = append(append(textfile, backupjob.Metrics()...), host.WatchdogMetrics()...)
	rules, err := ParseRules(renderedRules)
	if err != nil {
		return nil, err
	}
	var recorded []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded = append(recorded, r.Record)
			}
		}
	}
	return Exporters(map[string][]string{JobNode: textfile, AnyJob: recorded}), nil
}

func compact(xs []string) []string {
	var out []string
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// TextfileMetricsIn reads every shell script (and script template) under
// fsys, the components directory, and returns the textfile metrics they
// write: a script added anywhere declares its metrics with "# TYPE" lines,
// and the catalogue knows them without a second list.
func TextfileMetricsIn(fsys fs.FS) ([]string, error) {
	seen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".sh") || strings.HasSuffix(p, ".sh.tmpl")) {
			return err
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		for _, n := range TextfileMetrics(string(raw)) {
			seen[n] = true
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, err
}
