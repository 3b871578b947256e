/*
 * watch.c - the reconcile loop's surroundings: kept connections and libvirt
 * events (--watch), metrics and structured events (see watch.h).
 */
#include "cli.h"
#include "watch.h"
#include "hv/events.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct watch_host {
	char *name;
	bool dropped;                /* connection lost or never made */
	int64_t retry_at;            /* monotonic ms */
	int64_t backoff;
};

struct watch {
	struct watch_options opt;
	struct metrics *metrics;
	struct metrics_server *server;
	struct eventlog *log;
	char identity[300];          /* "hostname pid N": the lease holder when it is us */

	pthread_mutex_t lock;        /* what the event thread touches: below */
	pthread_cond_t cond;
	size_t pending;              /* events since the last round */
	bool heavy;                  /* ... some of them not a state change */
	int64_t first_event, last_event;
	struct watch_host *hosts;
	size_t n_hosts;

	/* the kept session (--watch), used by the main thread only */
	struct hv_session *s;
	struct hv_events *ev;
	char *sig;                   /* hosts and sampling window it was opened for */
	struct hv_options hv;
	bool balancing;
	bool reopen;                 /* SIGHUP: connect anew */
	int64_t last_full;           /* monotonic ms of the last full observation */
	bool light;                  /* the round to start may look light */
	bool looked_light;           /* the last round did (hv_observe_light) */
	struct strbuf held;          /* held-back changes reported last ("vm\twhy\n"...) */
};

const char *watch_trigger_name(enum watch_trigger t)
{
	static const char *const names[] = { "stop", "timer", "event", "reload", "reconnect",
					      "start" };
	return (size_t)t < ARRAY_SIZE(names) ? names[t] : "?";
}

struct metrics *watch_metrics(struct watch *w)
{
	return w->metrics;
}

struct watch *watch_new(const struct watch_options *opt, struct errbuf *err)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	pthread_condattr_t ca;
	char hn[256] = "";

	w->opt = *opt;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	strbuf_init(&w->held);
	gethostname(hn, sizeof(hn) - 1);
	snprintf(w->identity, sizeof(w->identity), "%s pid %d", hn, (int)getpid());
	w->metrics = metrics_new();
	/* text: one line per round, as ever; -v adds the events */
	w->log = eventlog_new(opt->log_format,
			      opt->log_format == LOG_JSON || vem_verbosity >= 2 ? stdout : NULL,
			      opt->webhook, err);
	if (!w->log)
		goto fail;
	if (opt->metrics_listen) {
		w->server = metrics_server_start(w->metrics, opt->metrics_listen, err);
		if (!w->server)
			goto fail;
	}
	return w;
fail:
	watch_free(w);
	return NULL;
}

static void hosts_clear(struct watch *w)
{
	for (size_t i = 0; i < w->n_hosts; i++)
		free(w->hosts[i].name);
	free(w->hosts);
	w->hosts = NULL;
	w->n_hosts = 0;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	metrics_server_stop(w->server);
	hv_events_stop(w->ev);
	hv_session_free(w->s);
	eventlog_free(w->log);
	metrics_free(w->metrics);
	hosts_clear(w);
	free(w->sig);
	strbuf_release(&w->held);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* ---- events (libvirt's event-loop thread) ---- */

static void on_event(void *arg, const struct hv_event *ev)
{
	struct watch *w = arg;
	int64_t now = time_mono_ms();
	char *host = NULL;

	metrics_event(w->metrics, hv_event_kind_name(ev->kind));
	pthread_mutex_lock(&w->lock);
	if (ev->host < w->n_hosts) {
		struct watch_host *h = &w->hosts[ev->host];
		host = xstrdup(h->name);
		if (ev->kind == HV_EV_CLOSED && !h->dropped) {
			h->dropped = true;
			h->backoff = WATCH_BACKOFF_MIN_MS;
			h->retry_at = now + h->backoff;
		}
	}
	if (ev->kind != HV_EV_LIFECYCLE || !ev->state_change)
		w->heavy = true;
	if (!w->pending++)
		w->first_event = now;
	w->last_event = now;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);

	if (ev->kind == HV_EV_CLOSED) {
		char *msg = xasprintf("host %s: connection lost (%s)", host ? host : "?", ev->what);
		eventlog_emit(w->log, 4, "host", msg, "VEM_HOST", host, "VEM_STATE", "down",
			      "VEM_REASON", ev->what, NULL);
		free(msg);
	} else if (ev->state_change || ev->kind == HV_EV_LIFECYCLE) {
		char *msg = xasprintf("domain %s on %s: %s", ev->domain ? ev->domain : "?",
				      host ? host : "?", ev->what);
		eventlog_emit(w->log, 5, "state", msg, "VEM_DOMAIN", ev->domain, "VEM_HOST", host,
			      "VEM_STATE", ev->what, NULL);
		free(msg);
	}
	free(host);
}

/* ---- the kept session (main thread) ---- */

static char *session_sig(const struct cluster *c, const struct hv_options *hv)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "sample=%lld\n", (long long)hv->sample_window);
	for (size_t i = 0; i < c->n_hosts; i++)
		strbuf_addf(&sb, "%s\t%s\n", c->hosts[i].name, c->hosts[i].uri);
	return strbuf_detach(&sb, NULL);
}

static bool reconnect_due(struct watch *w)
{
	int64_t now = time_mono_ms();
	bool due = false;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->n_hosts; i++)
		due |= w->hosts[i].dropped && now >= w->hosts[i].retry_at;
	pthread_mutex_unlock(&w->lock);
	return due;
}

static struct hv_session *session_for(void *arg, const struct cluster *c)
{
	struct watch *w = arg;
	struct hv_options hv = w->hv;
	struct hv_session *s;
	char *sig;
	struct watch_host *old;
	size_t n_old;
	int64_t now;

	apply_resolve_sampling(&hv, c, w->balancing);
	sig = session_sig(c, &hv);
	if (w->s && !w->reopen && str_eq(sig, w->sig) && !reconnect_due(w) &&
	    !hv_session_rebind(w->s, c)) {
		free(sig);
		return w->s;
	}
	/* connect (again): a new session, then let go of the old one */
	s = hv_session_open(c, &hv);
	hv_events_stop(w->ev);
	w->ev = NULL;
	hv_session_free(w->s);
	w->s = s;
	free(w->sig);
	w->sig = sig;
	w->reopen = false;

	pthread_mutex_lock(&w->lock);
	old = w->hosts;
	n_old = w->n_hosts;
	w->hosts = xcalloc(c->n_hosts + 1, sizeof(*w->hosts));
	w->n_hosts = c->n_hosts;
	now = time_mono_ms();
	for (size_t i = 0; i < c->n_hosts; i++) {
		struct watch_host *h = &w->hosts[i];
		const struct watch_host *was = NULL;
		h->name = xstrdup(c->hosts[i].name);
		for (size_t k = 0; k < n_old && !was; k++)
			if (str_eq(old[k].name, h->name))
				was = &old[k];
		if (hv_host_online(s, i)) {
			if (was && was->dropped) {
				char *msg = xasprintf("host %s: connected again", h->name);
				metrics_reconnect(w->metrics, h->name);
				eventlog_emit(w->log, 5, "host", msg, "VEM_HOST", h->name,
					      "VEM_STATE", "up", NULL);
				free(msg);
			}
			continue;
		}
		h->dropped = true;
		h->backoff = was && was->dropped ? was->backoff * 2 : WATCH_BACKOFF_MIN_MS;
		if (h->backoff > WATCH_BACKOFF_MAX_MS)
			h->backoff = WATCH_BACKOFF_MAX_MS;
		h->retry_at = now + h->backoff;
		if (!was || !was->dropped) {
			char *msg = xasprintf("host %s: unreachable: %s", h->name,
					      hv_host_error(s, i));
			eventlog_emit(w->log, 4, "host", msg, "VEM_HOST", h->name, "VEM_STATE", "down",
				      "VEM_REASON", hv_host_error(s, i), NULL);
			free(msg);
		}
	}
	for (size_t k = 0; k < n_old; k++)
		free(old[k].name);
	free(old);
	pthread_mutex_unlock(&w->lock);
	/* events from here on; a drift that happened in between is seen by the
	 * full observation of the round that is about to run */
	w->ev = hv_events_start(s, on_event, w);
	return s;
}

/* ---- hooks ---- */

static void on_action(void *arg, const struct plan_action *a, const struct observed *o, int rc,
		      int64_t ms, const char *error)
{
	struct watch *w = arg;
	char db[32], msb[32];
	const char *host = a->host < o->n_hosts ? o->hosts[a->host].name : "?";
	const char *dest = a->kind == ACT_MIGRATE && a->dest < o->n_hosts ?
			   o->hosts[a->dest].name : NULL;
	char *msg;

	metrics_action(w->metrics, a->kind, rc == 0, a->bytes);
	format_duration(ms, db);
	snprintf(msb, sizeof(msb), "%lld", (long long)ms);
	if (dest)
		msg = xasprintf("migrate %s %s -> %s: %s%s (%s)", a->vm, host, dest,
				rc ? "failed: " : "ok", rc ? error : "", db);
	else
		msg = xasprintf("%s %s on %s: %s%s (%s)", act_kind_name(a->kind), a->vm, host,
				rc ? "failed: " : "ok", rc ? error : "", db);
	eventlog_emit(w->log, rc ? 3 : 6, "action", msg, "VEM_KIND", act_kind_name(a->kind),
		      "VEM_VM", a->vm, "VEM_HOST", host, "VEM_DEST", dest,
		      "VEM_RESULT", rc ? "failed" : "ok", "VEM_DURATION_MS", msb,
		      "VEM_ERROR", rc ? error : NULL, "VEM_REASON", a->reason, NULL);
	free(msg);
}

static void on_plan(void *arg, const struct cluster *c, const struct observed *o,
		    const struct plan *p)
{
	struct watch *w = arg;
	struct strbuf now = STRBUF_INIT;

	metrics_observed(w->metrics, c, o, p);
	/* refusals: each held-back change once, when it first appears */
	for (size_t i = 0; i < p->n_held; i++) {
		const struct plan_held *h = &p->held[i];
		size_t start = now.len;
		strbuf_addf(&now, "%s\t%s\n", h->vm ? h->vm : "", h->why ? h->why : "");
		if (!strstr(w->held.buf, now.buf + start)) {
			char *msg = xasprintf("held back: %s: %s", h->vm ? h->vm : "?",
					      h->why ? h->why : "?");
			eventlog_emit(w->log, 4, "refusal", msg, "VEM_VM", h->vm, "VEM_REASON", h->why,
				      NULL);
			free(msg);
		}
	}
	strbuf_release(&w->held);
	w->held = now;
}

void watch_attach(struct watch *w, struct apply_args *a)
{
	a->exec.on_action = on_action;
	a->exec.on_action_arg = w;
	a->on_plan = on_plan;
	a->hook_arg = w;
	if (w->opt.events) {
		w->hv = a->hv;
		w->balancing = a->plan.balance;
		a->session_for = session_for;
		a->precheck = true;
	}
}

/* ---- the wait between rounds ---- */

enum watch_trigger watch_wait(struct watch *w, int64_t timer_ms, volatile int *stop,
			      volatile int *reload)
{
	int64_t deadline = time_mono_ms() + timer_ms;
	enum watch_trigger why = WATCH_STOP;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		int64_t now = time_mono_ms(), wake = now + 200;
		struct timespec ts;

		if (*stop)
			break;
		if (reload && *reload) {
			*reload = 0;
			w->reopen = true;
			why = WATCH_RELOAD;
			break;
		}
		if (w->opt.events && w->pending) {
			int64_t due = w->last_event + WATCH_DEBOUNCE_MS;
			if (due > w->first_event + WATCH_DEBOUNCE_MAX_MS)
				due = w->first_event + WATCH_DEBOUNCE_MAX_MS;
			if (now >= due) {
				why = WATCH_EVENT;
				break;
			}
			if (due < wake)
				wake = due;
		}
		if (w->opt.events) {
			bool due = false;
			for (size_t i = 0; i < w->n_hosts; i++) {
				if (!w->hosts[i].dropped)
					continue;
				if (now >= w->hosts[i].retry_at)
					due = true;
				else if (w->hosts[i].retry_at < wake)
					wake = w->hosts[i].retry_at;
			}
			if (due) {
				why = WATCH_RECONNECT;
				break;
			}
		}
		if (now >= deadline) {
			why = WATCH_TIMER;
			break;
		}
		if (deadline < wake)
			wake = deadline;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (wake - now) / 1000;
		ts.tv_nsec += (long)((wake - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	/* the round about to run sees everything up to now */
	w->light = why == WATCH_EVENT && !w->heavy;
	w->pending = 0;
	w->heavy = false;
	pthread_mutex_unlock(&w->lock);
	return why;
}

void watch_round_start(struct watch *w, struct apply_args *a, enum watch_trigger why)
{
	int64_t now = time_mono_ms();

	/* full observations (per-guest statistics) at least every
	 * WATCH_FULL_EVERY_MS; a light one samples the CPU load when balancing */
	a->precheck_light = w->opt.events && w->last_full &&
			    now - w->last_full < WATCH_FULL_EVERY_MS &&
			    ((why == WATCH_EVENT && w->light) || why == WATCH_TIMER);
	if (!a->precheck_light)
		w->last_full = now;
	w->looked_light = a->precheck_light;
}

/* ---- after a round ---- */

void watch_round_done(struct watch *w, int round, enum watch_trigger why, int rc,
		      const struct apply_report *rep, int64_t ms, const char *result)
{
	struct errbuf err = ERRBUF_INIT;
	char db[32], rb[16], msb[24], ab[24];
	bool ok = rc == VEM_EXIT_OK;
	char *msg;

	/* the result as a label value: "not converged (...)" -> "not_converged" */
	{
		char key[48];
		size_t n = 0;
		for (const char *r = result; *r && *r != '(' && n + 1 < sizeof(key); r++)
			key[n++] = (*r >= 'a' && *r <= 'z') ? *r : '_';
		while (n && key[n - 1] == '_')
			n--;
		key[n] = '\0';
		metrics_round(w->metrics, (double)ms / 1000.0, key, ok);
	}
	/* the lease is taken by every round without --watch, and by rounds
	 * that act with it (a look without drift takes none) */
	if (rc == VEM_EXIT_LOCKED)
		metrics_lease(w->metrics, "another vem");
	else if (rep->revision && (!w->opt.events || rep->actions || !rep->converged))
		metrics_lease(w->metrics, w->identity);
	if (w->opt.metrics_file && metrics_write_file(w->metrics, w->opt.metrics_file, &err))
		err_print(&err, stderr, "vem");
	errbuf_release(&err);
	if (eventlog_format(w->log) != LOG_JSON)
		return;    /* the text line is printed by cmd_reconcile (reconcile.c) */
	snprintf(rb, sizeof(rb), "%d", round);
	snprintf(msb, sizeof(msb), "%lld", (long long)ms);
	snprintf(ab, sizeof(ab), "%zu", rep->actions);
	msg = xasprintf("round %d: %s, %zu action%s, %s", round, result, rep->actions,
			rep->actions == 1 ? "" : "s", format_duration(ms, db));
	eventlog_emit(w->log, ok ? 6 : rc == VEM_EXIT_PARTIAL || rc == VEM_EXIT_LOCKED ? 4 : 3,
		      "round", msg, "VEM_ROUND", rb, "VEM_TRIGGER", watch_trigger_name(why),
		      "VEM_RESULT", result, "VEM_REVISION", rep->revision, "VEM_ACTIONS", ab,
		      "VEM_DURATION_MS", msb,
		      "VEM_LOOK", w->opt.events ? (w->looked_light ? "light" : "full") : NULL, NULL);
	free(msg);
}
