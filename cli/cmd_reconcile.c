/*
 * cmd_reconcile.c - `vem reconcile`: resolve the source, load and apply
 * without asking, every --every, one line per round. SIGTERM or SIGINT stop
 * it between actions.
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
	(void)sig;
	stop_flag = 1;
}

static void sleep_interruptible(int64_t ms)
{
	int64_t end = time_mono_ms() + ms;
	while (!stop_flag && time_mono_ms() < end) {
		int64_t left = end - time_mono_ms();
		usleep((useconds_t)(left > 200 ? 200 : left > 0 ? left : 0) * 1000);
	}
}

int cmd_reconcile(int argc, char **argv)
{
	struct apply_args a;
	struct cli_opts o;
	struct sigaction sa;
	int rc = cli_parse(argc, argv, OPT_SOURCE | OPT_PLAN | OPT_EXEC | OPT_HOSTS | OPT_EVERY,
			   cli_find("reconcile"), &a, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.every < 1000 && !o.once) {
		fprintf(stderr, "vem reconcile: --every must be at least 1s\n");
		return VEM_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	a.execute = true;
	a.yes = true;
	a.exec.stop = &stop_flag;
	srand((unsigned)(time_now_ms() ^ getpid()));

	for (int round = 1; !stop_flag; round++) {
		struct apply_report rep;
		int64_t t0 = time_mono_ms();
		char tb[32], db[32];
		int saved = vem_verbosity;

		if (vem_verbosity < 2)
			vem_verbosity = 0;   /* one line per round unless -v */
		rc = apply_run(&a, &rep);
		vem_verbosity = saved;
		printf("%s round %d: %s%.12s: %s, %zu action%s%s, %s\n",
		       format_time_utc(time_now_ms(), tb), round, rep.revision ? "rev " : "",
		       rep.revision ? rep.revision : "no source",
		       rc == VEM_EXIT_OK ? "converged" : rc == VEM_EXIT_PARTIAL ? "partial" :
		       rc == VEM_EXIT_LOCKED ? "lease busy" : "failed",
		       rep.actions, rep.actions == 1 ? "" : "s",
		       rep.failed ? " (some failed)" : "", format_duration(time_mono_ms() - t0, db));
		fflush(stdout);
		free(rep.revision);
		if (o.once)
			return rc;
		{
			int64_t wait = o.every;
			if (o.jitter_pct > 0)
				wait += (int64_t)((double)o.every * o.jitter_pct / 100.0 *
						  ((double)rand() / RAND_MAX));
			sleep_interruptible(wait);
		}
	}
	printf("%s stopped\n", "vem reconcile:");
	return 0;
}
