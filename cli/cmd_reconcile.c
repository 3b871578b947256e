/*
 * cmd_reconcile.c - `vem reconcile`: resolve the source, load and apply
 * without asking, every --every (plus up to --jitter percent), one line per
 * round:
 *
 *   2026-11-25T04:19:00Z round 3: rev 1a2b3c4d5e6f: converged, 2 actions, 1.3s
 *
 * Each round resolves the source again, so a git push or a changed file is
 * picked up by the next round. SIGTERM or SIGINT stop it between actions
 * (exec_options.stop) and end the loop; a second signal exits at once.
 * Exit status: that of the last round with --once, else 0 after a signal.
 */
#include "cli.h"
#include "cmd_reconcile.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int stop_flag;

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

static void sleep_interruptible(int64_t ms)
{
	int64_t end = time_mono_ms() + ms;
	while (!stop_flag && time_mono_ms() < end) {
		int64_t left = end - time_mono_ms();
		struct timespec ts;
		if (left > 200)
			left = 200;
		if (left <= 0)
			break;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);   /* EINTR on a signal: the loop checks stop_flag */
	}
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

int cmd_reconcile(int argc, char **argv)
{
	struct apply_args a;
	struct cli_opts o;
	struct sigaction sa;
	int rc = cli_parse(argc, argv, cli_find("reconcile"), &a, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.argc > 0) {
		fprintf(stderr, "vem reconcile: unexpected argument '%s'\n", o.argv[0]);
		return VEM_EXIT_USAGE;
	}
	if (o.every < 1000 && !o.once) {
		fprintf(stderr, "vem reconcile: --every must be at least 1s\n");
		return VEM_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	a.execute = true;
	a.yes = true;
	a.exec.stop = &stop_flag;
	srand((unsigned)(time_now_ms() ^ getpid()));

	for (int round = 1; !stop_flag; round++) {
		struct apply_report rep;
		int64_t t0 = time_mono_ms();
		char tb[32], db[32], fb[48] = "";
		int saved = vem_verbosity;

		memset(&rep, 0, sizeof(rep));
		if (vem_verbosity < 2)
			vem_verbosity = 0;   /* one line per round unless -v */
		rc = apply_run(&a, &rep);
		vem_verbosity = saved;
		if (rep.failed)
			snprintf(fb, sizeof(fb), " (%zu failed)", rep.failed);
		printf("%s round %d: %s%.*s: %s, %zu action%s%s, %s\n",
		       format_time_utc(time_now_ms(), tb), round, rep.revision ? "rev " : "",
		       rep.revision && str_starts_with(rep.revision, "sha256:") ? 19 : 12,
		       rep.revision ? rep.revision : "no revision", round_result(rc, &rep),
		       rep.actions, rep.actions == 1 ? "" : "s",
		       fb,
		       format_duration(time_mono_ms() - t0, db));
		fflush(stdout);
		free(rep.revision);
		if (o.once)
			return rc;
		sleep_interruptible(next_wait(o.every, o.jitter_pct));
	}
	{
		char tb[32];
		printf("%s vem reconcile: stopped by signal\n", format_time_utc(time_now_ms(), tb));
	}
	fflush(stdout);
	return 0;
}
