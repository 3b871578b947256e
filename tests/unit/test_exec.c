/*
 * Unit tests: the executor and the reconcile loop (reconciler/exec.h) on
 * libvirt's test driver (no root). Each test's host is test://NODEFILE: a
 * node file gives every connection a state of its own, so each session
 * starts from an empty host.
 *
 * What the test driver cannot stand in for: live migration
 * (virDomainMigrate3 is "not supported"), so migrate actions, the limits on
 * parallel migrations and migration progress are left to the lab (e2e
 * t0200, t0400); guests do not boot, so readiness probes are not waited on
 * here; disks and images are not copied.
 */
#include "test.h"
#include "fixtures.h"
#include "reconciler/exec.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <unistd.h>

static char node_file[] = "/tmp/vem-test-exec.XXXXXX";

/* cluster 'ex' on one empty test-driver host, then vms. */
static struct cluster *cl(const char *vms)
{
	char *head = xasprintf("cluster: ex\nhosts:\n  - {name: h1, uri: 'test://%s'}\n"
			       "templates:\n  - {name: tiny, vcpus: 1, memory: 64MiB, kernel: /k}\n",
			       node_file);
	struct cluster *c = load_yaml_parts(head, vms);
	free(head);
	return c;
}

/* One run of the loop on a fresh host: the cluster, the session, the
 * executor's options with this file's hooks, what they saw, the result. */
struct fx {
	struct cluster *c;
	struct hv_session *s;
	struct exec_options eo;
	struct exec_result res;
	struct errbuf err;
	int observed[8], planned[8];      /* round numbers, in call order */
	size_t changes[8];                /* plan_changes() per planned round */
	int n_observed, n_planned;
	int end_at;                       /* planned returns END at this round (0: never) */
};

/* The observe hook observes the session's hosts, as the CLI's does. */
static int hook_observe(void *arg, int round, struct observed *o, struct errbuf *err)
{
	struct fx *f = arg;
	if (f->n_observed < 8)
		f->observed[f->n_observed++] = round;
	return hv_observe(f->s, o, err);
}

static int hook_planned(void *arg, int round, const struct observed *o, const struct plan *p,
			struct errbuf *err)
{
	struct fx *f = arg;
	(void)o;
	(void)err;
	if (f->n_planned < 8) {
		f->changes[f->n_planned] = plan_changes(p);
		f->planned[f->n_planned++] = round;
	}
	return round == f->end_at ? EXEC_ROUND_END : EXEC_ROUND_ACT;
}

/* A fresh host (test://NODEFILE: a new connection, an empty state) for
 * cluster 'ex' with vms. */
static void fx_open(struct fx *f, const char *vms)
{
	struct hv_options ho;

	memset(f, 0, sizeof(*f));
	f->c = cl(vms);
	hv_options_default(&ho);
	ho.sample_window = 0;
	ho.cache_dir = "/nonexistent/vem-test-cache";
	f->s = hv_session_open(f->c, &ho);
	if (!hv_host_online(f->s, 0)) {
		fprintf(stderr, "test://%s did not open\n", node_file);
		abort();
	}
	exec_options_default(&f->eo);
	plan_options_fixture(&f->eo.plan);
	f->eo.observe = hook_observe;
	f->eo.planned = hook_planned;
	f->eo.round_arg = f;
}

/* Run the loop for cluster c (NULL: the fixture's) and return its result. */
static int fx_converge(struct fx *f, const struct cluster *c)
{
	int rc;

	memset(&f->res, 0, sizeof(f->res));
	f->n_observed = f->n_planned = 0;
	rc = exec_converge(f->s, c ? c : f->c, &f->eo, &f->res, &f->err);
	if (f->err.nr)
		err_print(&f->err, stderr, "converge");
	errbuf_release(&f->err);
	return rc;
}

static void fx_close(struct fx *f)
{
	hv_session_free(f->s);
	cluster_free(f->c);
}

/* The state of domain name on the fixture's host, or -1 when it is absent. */
static int dom_state(struct fx *f, const char *name)
{
	struct observed o;
	struct errbuf err = ERRBUF_INIT;
	int st = -1;

	if (hv_observe(f->s, &o, &err)) {
		err_print(&err, stderr, "observe");
		abort();
	}
	for (size_t i = 0; i < o.n_domains; i++)
		if (!strcmp(o.domains[i].name, name))
			st = (int)o.domains[i].state;
	observed_release(&o);
	errbuf_release(&err);
	return st;
}

static size_t count_owned(struct fx *f)
{
	struct observed o;
	struct errbuf err = ERRBUF_INIT;
	size_t n = 0;

	if (hv_observe(f->s, &o, &err))
		abort();
	for (size_t i = 0; i < o.n_domains; i++)
		n += o.domains[i].owned;
	observed_release(&o);
	errbuf_release(&err);
	return n;
}

/* Round 1 creates and starts; round 2 observes the result and converges. */
TEST(loop_creates_then_converges)
{
	struct fx f;

	fx_open(&f, "vms:\n  - {name: web, template: tiny, replicas: 2}\n"
		    "  - {name: db, template: tiny, state: stopped}\n");
	CHECK_INT(fx_converge(&f, NULL), 0);
	CHECK_INT(f.res.done, 3);
	CHECK_INT(f.res.failed, 0);
	CHECK_INT(f.res.rounds, 1);          /* rounds that acted */
	CHECK(f.res.converged && !f.res.partial && !f.res.stopped && !f.res.guard_failed);
	/* both hooks saw rounds 1 and 2, the second with nothing to change */
	CHECK(f.n_observed == 2 && f.observed[0] == 1 && f.observed[1] == 2);
	CHECK(f.n_planned == 2 && f.planned[0] == 1 && f.planned[1] == 2);
	CHECK(f.changes[0] == 3 && f.changes[1] == 0);
	CHECK_INT(dom_state(&f, "web-0"), DOM_RUNNING);
	CHECK_INT(dom_state(&f, "web-1"), DOM_RUNNING);
	CHECK_INT(dom_state(&f, "db"), DOM_STOPPED);
	fx_close(&f);
}

/* A hook that ends the run in round 1 (vem plan, a "no") changes nothing. */
TEST(hook_ends_run_before_acting)
{
	struct fx f;

	fx_open(&f, "vms:\n  - {name: web, template: tiny}\n");
	f.end_at = 1;
	CHECK_INT(fx_converge(&f, NULL), 0);
	CHECK(f.n_planned == 1 && f.changes[0] == 1);
	CHECK_INT(f.res.rounds, 0);
	CHECK_INT(f.res.done + f.res.failed, 0);
	CHECK(!f.res.converged);
	CHECK_INT(dom_state(&f, "web"), -1);
	fx_close(&f);
}

/*
 * The removal budget is the run's: with max-removals 2 and three VMs to
 * prune, round 1 removes two, and round 2 holds the third back instead of
 * spending a fresh budget of its own.
 */
TEST(removal_budget_holds_across_rounds)
{
	struct cluster *before = cl("vms:\n  - {name: old, template: tiny, replicas: 3}\n"
				    "  - {name: keep, template: tiny}\n");
	struct fx f;

	fx_open(&f, "vms:\n  - {name: keep, template: tiny}\n");
	/* the host as an earlier run left it: three old VMs and keep */
	CHECK_INT(fx_converge(&f, before), 0);
	CHECK(f.res.converged);
	CHECK_INT(count_owned(&f), 4);

	f.eo.plan.max_removals = 2;
	CHECK_INT(fx_converge(&f, NULL), 0);
	CHECK_INT(f.res.removals, 2);
	CHECK_INT(f.res.done, 2);
	CHECK_INT(f.res.rounds, 1);
	CHECK_INT(f.res.held, 1);
	CHECK(!f.res.converged);
	CHECK(strstr(f.res.held_what, "removal") != NULL);
	CHECK(f.n_planned == 2 && f.changes[0] == 2 && f.changes[1] == 0);
	CHECK_INT(count_owned(&f), 2);       /* keep and one old */
	CHECK_INT(dom_state(&f, "keep"), DOM_RUNNING);
	fx_close(&f);
	cluster_free(before);
}

static int refusals;

static int refuse(void *arg, const struct plan_action *a, struct errbuf *err)
{
	(void)arg;
	refusals++;
	return err_set_kind(err, ERR_LEASE_LOST, "lease of cluster 'ex' lost: refused for '%s'",
			    a->vm);
}

/*
 * The guard is asked before every action but a stop; a refusal fails that
 * action, stops the run (nothing else starts, no further round) and is
 * reported as guard_failed.
 */
TEST(guard_refusal_stops_the_run)
{
	struct cluster *before = cl("vms:\n  - {name: db, template: tiny}\n");
	struct fx f;

	fx_open(&f, "vms:\n  - {name: db, template: tiny, state: stopped}\n"
		    "  - {name: web, template: tiny}\n");
	CHECK_INT(fx_converge(&f, before), 0);
	CHECK_INT(dom_state(&f, "db"), DOM_RUNNING);

	f.eo.guard = refuse;
	refusals = 0;
	CHECK_INT(fx_converge(&f, NULL), 0);
	CHECK_INT(refusals, 1);              /* the create; the stop is not guarded */
	CHECK_INT(f.res.done, 1);
	CHECK_INT(f.res.failed, 1);
	CHECK(f.res.guard_failed && f.res.stopped && !f.res.converged);
	CHECK_INT(f.n_planned, 1);           /* no round 2 */
	CHECK_INT(dom_state(&f, "db"), DOM_STOPPED);
	CHECK_INT(dom_state(&f, "web"), -1);
	fx_close(&f);
	cluster_free(before);
}

/* A stop requested before the run: round 1 plans but starts nothing, and
 * no round follows. */
TEST(stop_flag_starts_nothing)
{
	volatile int stop = 1;
	struct fx f;

	fx_open(&f, "vms:\n  - {name: web, template: tiny}\n");
	f.eo.stop = &stop;
	CHECK_INT(fx_converge(&f, NULL), 0);
	CHECK_INT(f.res.done + f.res.failed, 0);
	CHECK(f.res.stopped && !f.res.converged);
	CHECK_INT(f.n_planned, 1);
	CHECK_INT(dom_state(&f, "web"), -1);
	fx_close(&f);
}

int main(void)
{
	int fd = mkstemp(node_file), rc;

	if (fd < 0 || write(fd, "<node>\n</node>\n", 15) != 15) {
		perror(node_file);
		return 1;
	}
	close(fd);
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(loop_creates_then_converges);
	RUN(hook_ends_run_before_acting);
	RUN(removal_budget_holds_across_rounds);
	RUN(guard_refusal_stops_the_run);
	RUN(stop_flag_starts_nothing);
	rc = test_done();
	unlink(node_file);
	return rc;
}
