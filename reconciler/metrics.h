/*
 * metrics.h - Prometheus metrics of the reconcile loop: kept in memory,
 * rendered in Prometheus' text exposition format (version 0.0.4), served
 * by a tiny HTTP/1.0 server thread (`--metrics-listen ADDR:PORT`) and/or
 * written atomically as a textfile for node_exporter's textfile collector
 * (`--metrics-file PATH`).
 *
 * Names follow Prometheus' conventions: a vem_ prefix, base units
 * (_seconds, _bytes, _ratio), _total for counters, _info for info-style
 * gauges (value 1, the facts in labels), HELP and TYPE for every family.
 *
 * Threads: every function may be called from any thread (one mutex); the
 * server renders under it. Ownership: metrics_new() returns what the caller
 * frees with metrics_free(), after metrics_server_stop().
 */
#ifndef VEM_METRICS_H
#define VEM_METRICS_H

#include "plan.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One finished reconcile round: its duration, its result ("converged",
 * "partial", "failed", ...); success sets the last-success timestamp. */
void metrics_round(struct metrics *m, double seconds, const char *result, bool success);
/* One finished action (kind: act_kind_name()); a successful migration
 * adds bytes to the bytes moved. */
void metrics_action(struct metrics *m, enum act_kind kind, bool ok, uint64_t bytes);
/* One libvirt event received, by kind ("lifecycle", "closed", ...). */
void metrics_event(struct metrics *m, const char *kind);
/* A host connection re-established after it dropped. */
void metrics_reconnect(struct metrics *m, const char *host);
/* What the last round observed and planned: drift, held-back changes, VMs
 * by state, per-host committed and measured utilisation, imbalance score,
 * cluster name and source revision. */
void metrics_observed(struct metrics *m, const struct cluster *c, const struct observed *o,
		      const struct plan *p);
/* Who holds the cluster's lease as far as this process knows. */
void metrics_lease(struct metrics *m, const char *holder);

/* The whole exposition, appended to out. */
void metrics_render(struct metrics *m, struct strbuf *out);
/* Render into path atomically (a temporary file beside it, then rename). */
int metrics_write_file(struct metrics *m, const char *path, struct errbuf *err);

/*
 * Serve GET /metrics on listen ("ADDR:PORT", "[ADDR6]:PORT" or ":PORT" for
 * all addresses) from a thread of its own: one connection at a time, a
 * request of at most 4 KiB read within 2 s; other paths get 404, other
 * methods 405. NULL with err when the address cannot be bound.
 */
struct metrics_server;
struct metrics_server *metrics_server_start(struct metrics *m, const char *listen,
					    struct errbuf *err);
/* The port it listens on (when listen asked for port 0). */
int metrics_server_port(const struct metrics_server *srv);
void metrics_server_stop(struct metrics_server *srv);

#endif
