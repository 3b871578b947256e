/*
 * exec.c - carry out a plan: actions in parallel across hosts, limits per
 * host and on migrations, one line per finished action.
 *
 * Phases keep a host's capacity right: on a host, removals and stops finish
 * before updates, starts and creates begin, and those before migrations
 * that touch the host. Every action is safe to interrupt (see hv/ops.c).
 */
#include "exec.h"
#include "rollout.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void exec_options_default(struct exec_options *o)
{
	memset(o, 0, sizeof(*o));
	o->per_host = 2;
	o->max_rounds = 5;
	plan_options_default(&o->plan);
}

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct job {
	const struct plan_action *a;
	enum job_state state;
	int phase;
};

struct run {
	struct hv_session *s;
	const struct cluster *c;
	const struct observed *o;
	const struct plan *p;
	const struct exec_options *opt;
	struct job *jobs;
	size_t n;
	int *busy;              /* running actions per host */
	bool *migrating;        /* a migration touches the host */
	int migrations;
	int max_migrations;
	size_t done, failed, removals;
	bool guard_failed;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t print_lock;
};

static int phase_of(enum act_kind k)
{
	switch (k) {
	case ACT_REMOVE:
	case ACT_STOP:
		return 0;
	case ACT_MIGRATE:
		return 2;
	default:
		return 1;
	}
}

static bool touches(const struct plan_action *a, size_t host)
{
	return a->host == host || (a->kind == ACT_MIGRATE && a->dest == host);
}

static bool stop_requested(const struct run *r)
{
	return (r->opt->stop && *r->opt->stop) || r->guard_failed;
}

/* Record p's held-back changes in res (held, held_what). */
static void record_held(struct exec_result *res, const struct plan *p)
{
	struct strbuf sb = STRBUF_INIT;
	res->held = plan_held(p);
	plan_held_describe(p, &sb);
	snprintf(res->held_what, sizeof(res->held_what), "%s", sb.buf);
	strbuf_release(&sb);
}

/* Whether a is guarded (see exec_options.guard). */
static bool action_guarded(const struct plan_action *a)
{
	/* a stop can neither lose data nor run a VM twice; everything else can
	 * when another vem holds the cluster meanwhile (two creates of one VM) */
	return a->kind != ACT_STOP;
}

/* Whether job i may start now (lock held). */
static bool runnable(struct run *r, size_t i)
{
	const struct job *j = &r->jobs[i];
	const struct plan_action *a = j->a;

	if (j->state != JOB_PENDING)
		return false;
	if (a->after >= 0 && (size_t)a->after < r->n && r->jobs[a->after].state < JOB_DONE)
		return false;
	for (size_t k = 0; k < r->n; k++) {
		const struct job *o = &r->jobs[k];
		if (o->phase < j->phase && o->state < JOB_DONE &&
		    (touches(o->a, a->host) || (a->kind == ACT_MIGRATE && touches(o->a, a->dest))))
			return false;
	}
	if (r->busy[a->host] >= r->opt->per_host)
		return false;
	if (a->kind == ACT_MIGRATE) {
		if (r->migrations >= r->max_migrations || r->migrating[a->host] || r->migrating[a->dest])
			return false;
		if (r->busy[a->dest] >= r->opt->per_host)
			return false;
	}
	return true;
}

struct progress_ctx {
	struct run *r;
	const struct plan_action *a;
	int64_t last;
};

static void migrate_progress(void *opaque, const struct hv_migrate_progress *p)
{
	struct progress_ctx *pc = opaque;
	struct run *r = pc->r;
	int64_t now = time_mono_ms();
	FILE *f = r->opt->progress;
	bool tty;

	if (!f || !p->total)
		return;
	tty = isatty(fileno(f));
	if (now - pc->last < (tty ? 500 : 5000))
		return;
	pc->last = now;
	pthread_mutex_lock(&r->print_lock);
	fprintf(f, "  migrate %s %s -> %s: %3.0f%% %.1f MiB/s\n", pc->a->vm,
		r->o->hosts[pc->a->host].name, r->o->hosts[pc->a->dest].name,
		100.0 * (double)(p->total - p->remaining) / (double)p->total, p->rate / (1024 * 1024));
	fflush(f);
	pthread_mutex_unlock(&r->print_lock);
}

static int run_action_hv(struct run *r, const struct plan_action *a, struct errbuf *err);

/* After an action that (re)started its VM: it is done when the VM is ready. */
static bool starts_vm(const struct plan_action *a)
{
	switch (a->kind) {
	case ACT_CREATE:
	case ACT_START:
		return true;
	case ACT_UPDATE:
		return a->impact != IMPACT_LIVE;
	default:
		return false;
	}
}

static int run_action(struct run *r, const struct plan_action *a, struct errbuf *err)
{
	int rc = run_action_hv(r, a, err);

	if (!rc && a->spec && starts_vm(a))
		rc = rollout_wait_ready(r->s, a->host, a->spec, r->opt->stop, err);
	return rc;
}

static int run_action_hv(struct run *r, const struct plan_action *a, struct errbuf *err)
{
	struct hv_session *s = r->s;

	if (action_guarded(a) && r->opt->guard && r->opt->guard(r->opt->guard_arg, a, err)) {
		pthread_mutex_lock(&r->lock);
		r->guard_failed = true;
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	switch (a->kind) {
	case ACT_CREATE:
		return hv_domain_create(s, a->host, a->spec, err);
	case ACT_START:
		return hv_domain_start(s, a->host, a->vm, err);
	case ACT_ADOPT:
		return hv_domain_adopt(s, a->host, a->spec, a->n_changes == 0, err);
	case ACT_STOP:
		return hv_domain_stop(s, a->host, a->vm, err);
	case ACT_REMOVE:
		return hv_domain_remove(s, a->host, a->vm, a->keep_disks, err);
	case ACT_UPDATE:
		if (a->impact == IMPACT_RECREATE)
			return hv_domain_remove(s, a->host, a->vm, a->keep_disks, err) ||
			       hv_domain_create(s, a->host, a->spec, err) ? -1 : 0;
		if (hv_domain_update(s, a->host, a->spec, a->impact == IMPACT_LIVE, err))
			return -1;
		if (a->impact == IMPACT_RESTART && a->spec->state == VM_RUNNING)
			return hv_domain_stop(s, a->host, a->vm, err) ||
			       hv_domain_start(s, a->host, a->vm, err) ? -1 : 0;
		return 0;
	case ACT_MIGRATE: {
		struct progress_ctx pc = { r, a, time_mono_ms() };
		const struct balance_spec *b = &r->c->balance;
		return hv_domain_migrate(s, a->host, a->dest, a->vm, b->bandwidth,
					 b->migration_timeout, migrate_progress, &pc, err);
	}
	}
	return err_set(err, "unknown action");
}

static void report(struct run *r, const struct plan_action *a, int rc, int64_t ms,
		   const struct errbuf *err)
{
	FILE *f = r->opt->progress;
	char b[32];

	if (!f && !rc)
		return;
	if (!f)
		f = stderr;
	pthread_mutex_lock(&r->print_lock);
	if (a->kind == ACT_MIGRATE)
		fprintf(f, "  migrate %s %s -> %s ... ", a->vm, r->o->hosts[a->host].name,
			r->o->hosts[a->dest].name);
	else
		fprintf(f, "  %s %s on %s ... ", act_kind_name(a->kind), a->vm, r->o->hosts[a->host].name);
	if (rc)
		fprintf(f, "failed: %s (%s)\n", err_msg(err), format_duration(ms, b));
	else
		fprintf(f, "ok (%s)\n", format_duration(ms, b));
	fflush(f);
	pthread_mutex_unlock(&r->print_lock);
}

static void *worker(void *arg)
{
	struct run *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		size_t pick = r->n;
		bool pending = false;
		for (size_t i = 0; i < r->n; i++) {
			if (r->jobs[i].state == JOB_PENDING)
				pending = true;
			if (pick == r->n && runnable(r, i))
				pick = i;
		}
		if (!pending || stop_requested(r))
			break;
		if (pick == r->n) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		{
			struct job *j = &r->jobs[pick];
			const struct plan_action *a = j->a;
			struct errbuf err = ERRBUF_INIT;
			int64_t t0 = time_mono_ms();
			int rc;

			j->state = JOB_RUNNING;
			r->busy[a->host]++;
			r->removals += a->kind == ACT_REMOVE ||
				       (a->kind == ACT_UPDATE && a->impact == IMPACT_RECREATE);
			if (a->kind == ACT_MIGRATE) {
				r->busy[a->dest]++;
				r->migrating[a->host] = r->migrating[a->dest] = true;
				r->migrations++;
			}
			pthread_mutex_unlock(&r->lock);
			rc = run_action(r, a, &err);
			report(r, a, rc, time_mono_ms() - t0, &err);
			if (r->opt->on_action)
				r->opt->on_action(r->opt->on_action_arg, a, r->o, rc,
						  time_mono_ms() - t0, rc ? err_msg(&err) : NULL);
			errbuf_release(&err);
			pthread_mutex_lock(&r->lock);
			j->state = rc ? JOB_FAILED : JOB_DONE;
			r->busy[a->host]--;
			if (a->kind == ACT_MIGRATE) {
				r->busy[a->dest]--;
				r->migrating[a->host] = r->migrating[a->dest] = false;
				r->migrations--;
			}
			if (rc)
				r->failed++;
			else
				r->done++;
			pthread_cond_broadcast(&r->cond);
		}
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int exec_plan(struct hv_session *s, const struct cluster *c, const struct observed *o,
	      const struct plan *p, const struct exec_options *opt, struct exec_result *res,
	      struct errbuf *err)
{
	struct run r;
	size_t nthreads;
	pthread_t *th;

	(void)err;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.c = c;
	r.o = o;
	r.p = p;
	r.opt = opt;
	r.n = p->n;
	r.jobs = xcalloc(p->n + 1, sizeof(*r.jobs));
	r.busy = xcalloc(o->n_hosts + 1, sizeof(*r.busy));
	r.migrating = xcalloc(o->n_hosts + 1, sizeof(*r.migrating));
	r.max_migrations = c->balance.max_parallel > 0 ? c->balance.max_parallel : 1;
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	pthread_mutex_init(&r.print_lock, NULL);
	for (size_t i = 0; i < p->n; i++) {
		r.jobs[i].a = &p->actions[i];
		r.jobs[i].phase = phase_of(p->actions[i].kind);
	}
	nthreads = (size_t)opt->per_host * (o->n_hosts ? o->n_hosts : 1);
	if (nthreads > p->n)
		nthreads = p->n;
	if (nthreads > 32)
		nthreads = 32;
	th = xcalloc(nthreads + 1, sizeof(*th));
	for (size_t i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, &r))
			th[i] = 0;
	for (size_t i = 0; i < nthreads; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	if (!nthreads && p->n)
		worker(&r);
	res->done += r.done;
	res->failed += r.failed;
	res->removals += r.removals;
	res->guard_failed |= r.guard_failed;
	res->stopped = stop_requested(&r);
	free(th);
	free(r.jobs);
	free(r.busy);
	free(r.migrating);
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.print_lock);
	return 0;
}

/*
 * One round of the loop: observe, plan, hand both to the caller, act.
 * 1: the run is over (converged, refused, or the caller ended it); 0:
 * another round may follow (*rolled: this one rolled a group on with no
 * failure); -1: error.
 */
static int converge_round(struct hv_session *s, const struct cluster *c,
			  const struct exec_options *opt, int round, struct exec_result *res,
			  bool *rolled, struct errbuf *err)
{
	struct observed o;
	struct plan p;
	struct plan_options po = opt->plan;
	size_t failed_before = res->failed;
	int ret = -1, verdict;

	memset(&o, 0, sizeof(o));
	memset(&p, 0, sizeof(p));
	if (opt->observe ? opt->observe(opt->round_arg, round, &o, err) : hv_observe(s, &o, err))
		goto out;
	for (size_t h = 0; h < o.n_hosts; h++)
		res->partial |= !o.hosts[h].online;
	po.now = time_now_ms();
	/* the removal budget is the run's, not the round's */
	if (po.max_removals >= 0)
		po.max_removals = res->removals >= (size_t)po.max_removals ? 0 :
				  po.max_removals - (int)res->removals;
	if (rollout_plan(s, c, &o, &po, &p, err))
		goto out;
	record_held(res, &p);
	verdict = opt->planned ? opt->planned(opt->round_arg, round, &o, &p, err) : EXEC_ROUND_ACT;
	if (verdict < 0)
		goto out;
	if (verdict == EXEC_ROUND_END || !plan_changes(&p) || p.refused) {
		if (verdict != EXEC_ROUND_END)
			res->converged = !p.refused && !res->held;
		ret = 1;
		goto out;
	}
	res->converged = false;
	res->rounds++;
	exec_plan(s, c, &o, &p, opt, res, err);
	*rolled = p.held_waiting && res->failed == failed_before;
	ret = 0;
out:
	plan_release(&p);
	observed_release(&o);
	return ret;
}

int exec_converge(struct hv_session *s, const struct cluster *c, const struct exec_options *opt,
		  struct exec_result *res, struct errbuf *err)
{
	/* a round that rolls a group on (changes waiting for it, none failed)
	 * does not count against max_rounds: a group of N rolls in N rounds
	 * (counted from round 2, as when round 1 ran in the CLI) */
	int extra = 0;

	for (int round = 1; round <= opt->max_rounds + extra; round++) {
		bool rolled = false;
		int r;

		if (round > 1 && ((opt->stop && *opt->stop) || res->guard_failed)) {
			res->stopped = true;
			return 0;
		}
		r = converge_round(s, c, opt, round, res, &rolled, err);
		if (r)
			return r < 0 ? -1 : 0;
		if (rolled && round > 1 && (size_t)extra < c->n_vms)
			extra++;
	}
	return 0;
}
