/*
 * reconcile.c - `vem reconcile`: resolve the source, load and apply
 * without asking, every --every (plus up to --jitter percent), one line per
 * round:
 *
 *   2026-11-25T04:19:00Z round 3: rev 1a2b3c4d5e6f: converged, 2 actions, 1.3s
 *
 * Each round resolves the source again, so a git push or a changed file is
 * picked up by the next round. SIGTERM or SIGINT stop it between actions
 * (exec_options.stop) and end the loop; a second signal exits at once.
 * SIGHUP starts a round at once, reading the source again (with --watch,
 * over new connections).
 *
 * --watch (cli/watch.h) makes the loop event-driven: rounds start on
 * libvirt's domain events and --every is the safety net. Metrics and
 * structured events (--metrics-listen, --metrics-file, --log-format,
 * --webhook) work in every mode, --once included (--metrics-listen
 * excepted: nothing would be left to scrape).
 * Exit status: that of the last round with --once, else 0 after a signal.
 */
#include "cli.h"
#include "watch.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int stop_flag;
static volatile int reload_flag;

static void on_hup(int sig)
{
	(void)sig;
	reload_flag = 1;
}

static void on_signal(int sig)
{
	if (stop_flag) {
		/* second signal: the user really means it */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_flag = 1;
}

static const char *round_result(int rc, const struct apply_report *rep)
{
	if (stop_flag && rc != VEM_EXIT_OK)
		return "stopped";
	if (rep->held && !rep->failed && (rc == VEM_EXIT_ERROR || rc == VEM_EXIT_PARTIAL))
		return "not converged (changes held back)";
	switch (rc) {
	case VEM_EXIT_OK:
		return "converged";
	case VEM_EXIT_PARTIAL:
		return "partial (hosts unreachable)";
	case VEM_EXIT_LOCKED:
		return "lease busy";
	default:
		return rep->revision ? "failed" : "source or cluster file failed";
	}
}

/* The next sleep: every plus a random share of jitter_pct percent of it. */
static int64_t next_wait(int64_t every, int jitter_pct)
{
	double r = (double)rand() / ((double)RAND_MAX + 1.0);
	if (jitter_pct <= 0)
		return every;
	return every + (int64_t)((double)every * jitter_pct / 100.0 * r);
}

int cmd_reconcile(struct apply_args *a, struct cli_opts *o)
{
	struct sigaction sa;
	struct watch_options wo;
	struct watch *w;
	struct errbuf err = ERRBUF_INIT;
	enum watch_trigger why = WATCH_START;
	int rc = 0;

	if (o->argc > 0) {
		fprintf(stderr, "vem reconcile: unexpected argument '%s'\n", o->argv[0]);
		return VEM_EXIT_USAGE;
	}
	if (o->every < 1000 && !o->once) {
		fprintf(stderr, "vem reconcile: --every must be at least 1s\n");
		return VEM_EXIT_USAGE;
	}
	if (o->once && (o->watch || o->metrics_listen)) {
		fprintf(stderr, "vem reconcile: --%s needs the long-running mode; it cannot be "
			"used with --once (--metrics-file writes metrics for a timer)\n",
			o->watch ? "watch" : "metrics-listen");
		return VEM_EXIT_USAGE;
	}
	if (o->log_format && strcmp(o->log_format, "json") && strcmp(o->log_format, "text")) {
		fprintf(stderr, "vem reconcile: option '--log-format': expected 'text' or 'json', "
			"found '%s'\n", o->log_format);
		return VEM_EXIT_USAGE;
	}
	memset(&wo, 0, sizeof(wo));
	wo.events = o->watch;
	wo.metrics_listen = o->metrics_listen;
	wo.metrics_file = o->metrics_file;
	wo.log_format = o->log_format && !strcmp(o->log_format, "json") ? LOG_JSON : LOG_TEXT;
	wo.webhook = o->webhook;
	w = watch_new(&wo, &err);
	if (!w) {
		err_print(&err, stderr, "vem reconcile");
		errbuf_release(&err);
		return VEM_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	a->execute = true;
	a->yes = true;
	a->exec.stop = &stop_flag;
	watch_attach(w, a);
	srand((unsigned)(time_now_ms() ^ getpid()));

	for (int round = 1; !stop_flag; round++) {
		struct apply_report rep;
		int64_t t0 = time_mono_ms(), ms;
		char tb[32], db[32], fb[48] = "", trig[32] = "";
		int saved = vem_verbosity;

		memset(&rep, 0, sizeof(rep));
		if (vem_verbosity < 2)
			vem_verbosity = 0;   /* one line per round unless -v */
		watch_round_start(w, a, why);
		rc = apply_run(a, &rep);
		vem_verbosity = saved;
		ms = time_mono_ms() - t0;
		if (rep.failed)
			snprintf(fb, sizeof(fb), " (%zu failed)", rep.failed);
		if (o->watch)
			snprintf(trig, sizeof(trig), " [%s%s]", watch_trigger_name(why),
				 a->precheck_light ? ", light" : "");
		watch_round_done(w, round, why, rc, &rep, ms, round_result(rc, &rep));
		if (wo.log_format == LOG_TEXT) {
			printf("%s round %d: %s%.*s: %s, %zu action%s%s, %s%s\n",
			       format_time_utc(time_now_ms(), tb), round, rep.revision ? "rev " : "",
			       rep.revision && str_starts_with(rep.revision, "sha256:") ? 19 : 12,
			       rep.revision ? rep.revision : "no revision", round_result(rc, &rep),
			       rep.actions, rep.actions == 1 ? "" : "s",
			       fb, format_duration(ms, db), trig);
			fflush(stdout);
		}
		free(rep.revision);
		if (o->once) {
			watch_free(w);
			return rc;
		}
		why = watch_wait(w, next_wait(o->every, o->jitter_pct), &stop_flag, &reload_flag);
	}
	watch_free(w);
	{
		char tb[32];
		if (wo.log_format == LOG_TEXT)
			printf("%s vem reconcile: stopped by signal\n", format_time_utc(time_now_ms(), tb));
	}
	fflush(stdout);
	return 0;
}
