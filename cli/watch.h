/*
 * watch.h - what `vem reconcile` does around its rounds: the event-driven
 * long-running mode (--watch), metrics (--metrics-listen, --metrics-file)
 * and structured events (--log-format, --webhook).
 *
 * With --watch, one hv_session is kept across rounds and subscribed to
 * libvirt's domain events on every host (hv/events.h). A round runs as soon
 * as an event arrives and the events have been quiet for WATCH_DEBOUNCE_MS
 * (at most WATCH_DEBOUNCE_MAX_MS after the first), when --every expires
 * (the safety net: every round re-reads every host), on SIGHUP (the source
 * and cluster file are read again and every connection is made anew), and
 * when a dropped host is due for reconnection (backoff from 1 s, doubling,
 * up to 60 s). Rounds look before they take the lease (apply_args.precheck),
 * so a round without drift costs one bulk call per host. That call is
 * light (hv_observe_light: the state, and the CPU time when balancing
 * samples the load, at its sample-window as ever; no per-guest monitor
 * statistics) for rounds started by the timer or by state changes; it is
 * full for the first round, reloads, reconnects, other events (balloon,
 * metadata, definition, migration), and when the last full one is older
 * than WATCH_FULL_EVERY_MS. A changed hosts:
 * section (names, URIs, sampling window) opens a new session.
 *
 * Without --watch, each round connects and disconnects as before; metrics
 * and events work the same.
 *
 * Ownership: the caller owns the struct watch; apply_args hooks point into
 * it, so it outlives every apply_run() that uses them.
 */
#ifndef VEM_CLI_WATCH_H
#define VEM_CLI_WATCH_H

#include "util/eventlog.h"
#include "reconciler/metrics.h"

#define WATCH_DEBOUNCE_MS 300
#define WATCH_DEBOUNCE_MAX_MS 2000
#define WATCH_BACKOFF_MIN_MS 1000
#define WATCH_BACKOFF_MAX_MS 60000
#define WATCH_FULL_EVERY_MS (10 * 60 * 1000)

struct watch_options {
	bool events;                 /* --watch */
	const char *metrics_listen;  /* ADDR:PORT or NULL */
	const char *metrics_file;    /* PATH or NULL */
	enum log_format log_format;
	const char *webhook;         /* URL or NULL */
};

struct watch;

/* NULL with err when the metrics address cannot be bound or the webhook
 * URL is bad. */
struct watch *watch_new(const struct watch_options *opt, struct errbuf *err);
void watch_free(struct watch *w);
/* Point a's hooks at w (on_action, on_plan; with events also session_for
 * and precheck). */
void watch_attach(struct watch *w, struct apply_args *a);

/* Why watch_wait() returned. */
enum watch_trigger { WATCH_STOP, WATCH_TIMER, WATCH_EVENT, WATCH_RELOAD, WATCH_RECONNECT, WATCH_START };
const char *watch_trigger_name(enum watch_trigger t);
/*
 * Wait for the next round: up to timer_ms, or less when events (with
 * --watch), a reload (*reload set by SIGHUP; cleared here) or a host due
 * for reconnection come first. *stop ends the wait at once.
 */
enum watch_trigger watch_wait(struct watch *w, int64_t timer_ms, volatile int *stop,
			      volatile int *reload);
/* A round is about to start for why: light or full look (see above). */
void watch_round_start(struct watch *w, struct apply_args *a, enum watch_trigger why);
/* A round ended: metrics, the metrics file, the round's line or event. */
void watch_round_done(struct watch *w, int round, enum watch_trigger why, int rc,
		      const struct apply_report *rep, int64_t ms, const char *result);
/* The metrics (for tests). */
struct metrics *watch_metrics(struct watch *w);

#endif
