/*
 * apply.c - validate, plan, apply: source -> desired state -> plan -> act.
 */
#include "cli.h"
#include "saved_plan.h"
#include "schema/check.h"
#include "reconciler/rollout.h"
#include "reconciler/ha.h"
#include "hv/image.h"
#include "schema/load.h"
#include "util/json.h"
#include "util/uri.h"
#include "source/source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void apply_args_default(struct apply_args *a)
{
	memset(a, 0, sizeof(*a));
	a->source = "cluster.yaml";
	plan_options_default(&a->plan);
	a->plan.check_images = image_check_default;   /* plan = apply: images reachable */
	exec_options_default(&a->exec);
	hv_options_default(&a->hv);
	a->hv.sample_window = -1;          /* the cluster's balance.sample-window */
	lease_options_default(&a->lease);
	a->exec.plan = a->plan;
}

struct cluster *cli_load_cluster(const struct apply_args *a)
{
	return cli_load_cluster_err(a, NULL);
}

struct cluster *cli_load_cluster_err(const struct apply_args *a, struct errbuf *errors)
{
	struct errbuf err = ERRBUF_INIT;
	struct source_options sopt;
	struct source src;
	struct cluster *c = NULL;

	memset(&sopt, 0, sizeof(sopt));
	sopt.require_signed_by = a->require_signed_by;
	if (source_resolve(a->source, &sopt, &src, &err)) {
		if (errors)
			*errors = err;
		else
			err_print(&err, stderr, "vem");
		if (!errors)
			errbuf_release(&err);
		return NULL;
	}
	/* trust follows the source: git and https may not reach outside their tree */
	{
		struct load_options lo = { .untrusted = src.untrusted, .root = src.root };
		c = cfg_load_opts(src.local_path, &lo, &err);
	}
	if (!c && errors) {
		*errors = err;
		errbuf_init(&err);
	} else if (!c) {
		err_print(&err, stderr, "vem");
		if (err.nr > 1)
			fprintf(stderr, "vem: %zu problems in '%s'; nothing was changed\n",
				err.nr, src.display ? src.display : a->source);
	} else {
		free(c->source);
		c->source = xstrdup(src.display ? src.display : a->source);
		free(c->revision);
		c->revision = xstrdup(src.revision);
	}
	source_release(&src);
	errbuf_release(&err);
	return c;
}

#define HA_FENCE_TIMEOUT 60000   /* ms one fence agent action may take */

static bool any_offline(const struct observed *o)
{
	for (size_t i = 0; i < o->n_hosts; i++)
		if (!o->hosts[i].online)
			return true;
	return false;
}

static void report_offline(const struct observed *o)
{
	for (size_t i = 0; i < o->n_hosts; i++)
		if (!o->hosts[i].online)
			fprintf(stderr, "vem: host '%s' is unreachable: %s\n", o->hosts[i].name,
				o->hosts[i].error ? o->hosts[i].error : "unknown error");
}

static bool confirm(void)
{
	char line[64];
	if (!isatty(STDIN_FILENO))
		return false;
	fputs("Apply these changes? Only 'yes' or 'y' is accepted: ", stdout);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return !strcmp(line, "yes") || !strcmp(line, "y");
}

/* Fill a's sampling window from the cluster when the user gave none. */
void apply_resolve_sampling(struct hv_options *hv, const struct cluster *c,
			    bool balancing)
{
	if (hv->sample_window >= 0)
		return;
	hv->sample_window = (balancing && c->balance.enabled) ? c->balance.sample_window : 0;
}

static void print_plan(const struct apply_args *a, const struct cluster *c,
		       const struct plan *p, const struct observed *o)
{
	if (a->json) {
		struct strbuf sb = STRBUF_INIT;
		plan_write_json(p, c, o, &sb);
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
	} else if (vem_verbosity > 0) {
		plan_print(p, o, stdout);
	} else {
		for (size_t i = 0; i < p->n_notes; i++)
			fprintf(stderr, "note: %s\n", p->notes[i]);
	}
	fflush(stdout);
}

/* The saved plan still holds: same hosts and domains, same actions. */
static int check_saved(const struct saved_plan *sp, const struct observed *o,
		       const struct plan *p)
{
	char od[65], ad[65];

	plan_observed_digest(o, od);
	if (strcmp(od, sp->observed_digest)) {
		fprintf(stderr, "vem: the saved plan is stale: the hosts changed since it was made "
			"(domains, their states or sizes); nothing was changed (make a new plan "
			"with 'vem plan --out')\n");
		return -1;
	}
	plan_digest(p, o, ad);
	if (strcmp(ad, sp->actions_digest)) {
		fprintf(stderr, "vem: the saved plan is stale: planning again gives different "
			"actions (%zu now, %zu saved); nothing was changed (make a new plan with "
			"'vem plan --out')\n", plan_changes(p), sp->changes);
		return -1;
	}
	return 0;
}

static void report_held(const char *what)
{
	fprintf(stderr, "vem: not converged: %s (see the notes above)\n", what);
}

int apply_exit_code(const struct errbuf *err)
{
	switch (err_kind(err)) {
	case ERR_LEASE_HELD:
		return VEM_EXIT_LOCKED;
	case ERR_GENERIC:
	case ERR_LEASE_LOST:
		break;
	}
	return VEM_EXIT_ERROR;
}

/* -v -v: how long each phase took */
static void phase(const char *what, int64_t *t)
{
	int64_t now = time_mono_ms();
	if (vem_verbosity >= 2)
		fprintf(stderr, "vem: %s in %lld ms\n", what, (long long)(now - *t));
	*t = now;
}

/*
 * The host records (reconciler/ha.h): read them; a run holding the lease
 * adds this observation, fences the hosts that are down and writes them
 * back. Hosts that are not up are reported. -1 when a down host could not
 * be fenced (its VMs are not recovered).
 */
static int ha_update(struct hv_session *s, const struct cluster *c, const struct observed *o,
		     struct ha_state *ha, bool writer)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	ha_state_read(s, c, ha, &err);
	if (writer) {
		ha_observe(ha, c, o, time_now_ms());
		if (ha_fence_down(ha, c, HA_FENCE_TIMEOUT, vem_verbosity > 0 ? stdout : NULL))
			ret = -1;
		if (ha->changed && ha_state_write(s, c, ha, &err)) {
			err_print(&err, stderr, "vem");
			ret = -1;
		}
	}
	ha_describe(ha, &sb);
	for (char *line = sb.buf, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		fprintf(stderr, "vem: %s\n", line);
	}
	strbuf_release(&sb);
	errbuf_release(&err);
	return ret;
}

/* One run of apply_run, for the hooks of its rounds (exec_converge). */
struct apply_ctx {
	const struct apply_args *a;
	const struct cluster *c;
	struct hv_session *s;
	struct lease *lease;
	struct ha_state *ha;
	struct apply_report *rep;
	FILE *progress;               /* the executor's progress stream */
	int64_t *t;                   /* phase() clock */
	int last_round;               /* the last round that began */
	bool ended;                   /* round 1 ended the run ... */
	int rc;                       /* ... with this exit code */
};

static int end_run(struct apply_ctx *x, int rc)
{
	x->ended = true;
	x->rc = rc;
	return EXEC_ROUND_END;
}

/* Round 1 looks at the snapshot (plan --observed) or the hosts, and updates
 * the host records; later rounds look at the hosts again. */
static int round_observe(void *arg, int round, struct observed *o, struct errbuf *err)
{
	struct apply_ctx *x = arg;
	const struct apply_args *a = x->a;

	x->last_round = round;
	if (round > 1) {
		if (round == 2)
			phase("executed the plan", x->t);
		return hv_observe(x->s, o, err);
	}
	if (a->observed) {
		if (observed_read_json(a->observed, o, err))
			return -1;
		observed_apply_cluster(o, x->c);
	} else {
		if (hv_observe(x->s, o, err))
			return -1;
		phase("observed", x->t);
		ha_update(x->s, x->c, o, x->ha, x->lease != NULL);
		phase("updated the host records", x->t);
	}
	if (any_offline(o))
		report_offline(o);
	if (!a->json && vem_verbosity > 0 && x->c->revision)
		printf("cluster '%s' from %s (revision %.12s)\n", x->c->name, x->c->source,
		       x->c->revision);
	return 0;
}

/* Later rounds: their plan on the progress stream. */
static void print_round(const struct apply_ctx *x, int round, const struct observed *o,
			const struct plan *p)
{
	FILE *f = x->progress;

	if (!f)
		return;
	if (!plan_changes(p) || p->refused) {
		for (size_t i = 0; i < p->n_notes; i++)
			fprintf(f, "note: %s\n", p->notes[i]);
		return;
	}
	fprintf(f, "round %d: %zu action%s\n", round, p->n, p->n == 1 ? "" : "s");
	plan_print(p, o, f);
}

/*
 * Round 1 shows its plan (saves it with plan --out) and is where a run
 * without changes, a plan that was refused, `vem plan` and a "no" end;
 * it asks before acting. Later rounds print their plan and act.
 */
static int round_planned(void *arg, int round, const struct observed *o, const struct plan *p,
			 struct errbuf *err)
{
	struct apply_ctx *x = arg;
	const struct apply_args *a = x->a;
	struct apply_report *rep = x->rep;
	bool partial = any_offline(o);

	if (round > 1) {
		print_round(x, round, o, p);
		return EXEC_ROUND_ACT;
	}
	phase("planned", x->t);
	if (a->on_plan)
		a->on_plan(a->hook_arg, x->c, o, p);
	if (a->saved && check_saved(a->saved, o, p))
		return end_run(x, VEM_EXIT_ERROR);
	print_plan(a, x->c, p, o);
	if (a->save_to) {
		if (saved_plan_write(a->save_to, a, x->c, o, p, err))
			return -1;
		if (!a->json && vem_verbosity > 0)
			printf("saved the plan to %s; 'vem apply %s' carries it out\n", a->save_to,
			       a->save_to);
	}
	if (p->refused) {
		fprintf(stderr, "vem: the plan was refused; nothing was changed\n");
		return end_run(x, VEM_EXIT_ERROR);
	}
	rep->held = plan_held(p);
	rep->partial = partial;
	if (!a->execute) {
		rep->converged = plan_changes(p) == 0 && !rep->held;
		if (a->detailed_exitcode && (plan_changes(p) || rep->held))
			return end_run(x, VEM_EXIT_CHANGES);
		return end_run(x, partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK);
	}
	if (plan_changes(p) == 0) {
		rep->converged = !rep->held;
		if (rep->held) {
			struct strbuf sb = STRBUF_INIT;
			plan_held_describe(p, &sb);
			report_held(sb.buf);
			strbuf_release(&sb);
			return end_run(x, partial ? VEM_EXIT_PARTIAL : VEM_EXIT_ERROR);
		}
		return end_run(x, partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK);
	}
	/* a saved plan was reviewed when it was made: that is the approval */
	if (!a->saved && !a->yes && !confirm()) {
		if (!isatty(STDIN_FILENO))
			fprintf(stderr, "vem: not applying: standard input is not a terminal "
					"and --yes was not given\n");
		else
			fprintf(stderr, "vem: not applying\n");
		return end_run(x, VEM_EXIT_ERROR);
	}
	return EXEC_ROUND_ACT;
}

/*
 * Look before taking the lease (apply_args.precheck): 1 when there is
 * nothing to do (the run is over: rep and *rc filled), 0 when the run goes
 * on, -1 on error.
 */
static int precheck(const struct apply_args *a, struct hv_session *s, const struct cluster *c,
		    struct apply_report *rep, int *rc, struct errbuf *err)
{
	struct observed obs;
	struct plan plan;
	struct plan_options po = a->plan;
	int ret = -1;

	memset(&obs, 0, sizeof(obs));
	memset(&plan, 0, sizeof(plan));
	po.now = time_now_ms();
	if ((a->precheck_light ? hv_observe_light(s, &obs, err) : hv_observe(s, &obs, err)) ||
	    plan_build(c, &obs, &po, &plan, err))
		goto out;
	ret = 0;
	if (!plan_changes(&plan) && !plan_held(&plan) && !plan.refused) {
		if (a->on_plan)
			a->on_plan(a->hook_arg, c, &obs, &plan);
		rep->converged = true;
		rep->partial = any_offline(&obs);
		if (rep->partial)
			report_offline(&obs);
		*rc = rep->partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK;
		ret = 1;
	}
out:
	plan_release(&plan);
	observed_release(&obs);
	return ret;
}

int apply_run(const struct apply_args *a, struct apply_report *rep)
{
	int64_t t = time_mono_ms();
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	struct hv_session *s = NULL;
	struct lease *lease = NULL;
	struct hv_options hv = a->hv;
	struct exec_options eo = a->exec;
	struct exec_result res;
	struct ha_state ha;
	struct ha_guard_ctx hg;
	struct apply_ctx x;
	int rc = VEM_EXIT_ERROR;

	memset(rep, 0, sizeof(*rep));
	memset(&res, 0, sizeof(res));
	memset(&ha, 0, sizeof(ha));
	memset(&x, 0, sizeof(x));

	c = cli_load_cluster(a);
	if (!c)
		return VEM_EXIT_ERROR;
	rep->revision = xstrdup(c->revision);
	phase("loaded the cluster file", &t);
	if (a->saved && (!str_eq(a->saved->cluster, c->name) ||
			 !str_eq(a->saved->revision, c->revision))) {
		fprintf(stderr, "vem: the saved plan is stale: it was made for cluster '%s' at "
			"revision %.19s, the source is now cluster '%s' at revision %.19s; "
			"nothing was changed (make a new plan with 'vem plan --out')\n",
			a->saved->cluster, a->saved->revision, c->name, c->revision ? c->revision : "?");
		goto out;
	}

	eo.plan = a->plan;
	if (a->observed) {
		if (a->execute) {
			fprintf(stderr, "vem: --observed plans offline; it cannot apply\n");
			rc = VEM_EXIT_USAGE;
			goto out;
		}
	} else {
		apply_resolve_sampling(&hv, c, a->plan.balance);
		s = a->session_for ? a->session_for(a->hook_arg, c) : hv_session_open(c, &hv);
		phase("connected", &t);
		if (a->execute && a->precheck) {
			/* look first: no drift, no lease (and no second look) */
			int r = precheck(a, s, c, rep, &rc, &err);
			if (r < 0)
				goto fail;
			phase("looked for drift", &t);
			if (r > 0)
				goto out;
		}
		if (a->execute) {
			lease = lease_acquire(s, c, &a->lease, &err);
			if (!lease)
				goto fail;
		}
		phase("took the lease", &t);
		ha_state_init(&ha, c);
		eo.plan.ha = &ha;
		/* records a recovery before it runs; then the lease */
		hg.s = s;
		hg.c = c;
		hg.st = &ha;
		hg.lease = lease;
		eo.guard = ha_guard;
		eo.guard_arg = &hg;
	}
	if (!eo.progress && vem_verbosity > 0)
		eo.progress = stdout;
	x.a = a;
	x.c = c;
	x.s = s;
	x.lease = lease;
	x.ha = &ha;
	x.rep = rep;
	x.progress = eo.progress;
	x.t = &t;
	eo.observe = round_observe;
	eo.planned = round_planned;
	eo.round_arg = &x;
	if (exec_converge(s, c, &eo, &res, &err))
		goto fail;
	if (x.ended) {
		rc = x.rc;
		goto out;
	}
	phase(x.last_round > 1 ? "observed again" : "executed the plan", &t);
	/* a saved plan is carried out exactly, in one round (cmd_apply) */
	if (a->saved)
		res.converged = !res.failed && !res.held;
	rep->actions = res.done + res.failed;
	rep->failed = res.failed;
	rep->rounds = res.rounds;
	rep->converged = res.converged;
	rep->held = res.held;
	rep->partial = res.partial;
	if (vem_verbosity > 0) {
		/* nothing left to do on the hosts that answer is not converged
		 * while a host does not answer */
		printf("%zu action%s, %zu failed, %s after %d round%s\n", rep->actions,
		       rep->actions == 1 ? "" : "s", rep->failed,
		       !rep->converged ? "not converged" :
		       rep->partial ? "partial (hosts unreachable)" : "converged", rep->rounds,
		       rep->rounds == 1 ? "" : "s");
	}
	if (res.guard_failed)
		fprintf(stderr, "vem: stopped: %s\n", "the cluster's lease could not be confirmed; "
			"no further change was made");
	if (res.held)
		report_held(res.held_what);
	if (rep->failed || !rep->converged)
		rc = rep->partial ? VEM_EXIT_PARTIAL : VEM_EXIT_ERROR;
	else
		rc = rep->partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK;
	goto out;
fail:
	err_print(&err, stderr, "vem");
	rc = apply_exit_code(&err);
out:
	ha_state_release(&ha);
	lease_release(lease);
	if (!a->session_for)
		hv_session_free(s);
	cluster_free(c);
	errbuf_release(&err);
	return rc;
}

int cmd_plan(struct apply_args *a, struct cli_opts *o)
{
	struct apply_report rep;
	int rc = 0;

	a->execute = false;
	a->save_to = o->out;
	if (a->save_to && a->observed) {
		fprintf(stderr, "vem plan: --out saves a plan of live hosts; it cannot be used with "
			"--observed\n");
		return VEM_EXIT_USAGE;
	}
	rc = apply_run(a, &rep);
	free(rep.revision);
	return rc;
}

int cmd_apply(struct apply_args *a, struct cli_opts *o)
{
	struct apply_report rep;
	struct saved_plan sp;
	struct errbuf err = ERRBUF_INIT;
	bool source_given;
	int rc = 0;

	a->execute = true;
	if (o->argc > 1) {
		fprintf(stderr, "vem apply: one saved plan at most, found '%s'\n", o->argv[1]);
		return VEM_EXIT_USAGE;
	}
	if (o->argc == 1) {
		source_given = o->source_given;
		if (o->plan_given) {
			fprintf(stderr, "vem apply: a saved plan carries its own planning options; "
				"give them to 'vem plan --out' instead\n");
			return VEM_EXIT_USAGE;
		}
		if (saved_plan_read(o->argv[0], &sp, &err)) {
			err_print(&err, stderr, "vem");
			errbuf_release(&err);
			return VEM_EXIT_ERROR;
		}
		if (!source_given)
			a->source = sp.source;
		saved_plan_options(&sp, a);
		a->saved = &sp;
		a->exec.max_rounds = 1;
		rc = apply_run(a, &rep);
		saved_plan_release(&sp);
		free(rep.revision);
		return rc;
	}
	rc = apply_run(a, &rep);
	free(rep.revision);
	return rc;
}

int cmd_validate(struct apply_args *a, struct cli_opts *o)
{
	struct cluster *c;
	struct errbuf warnings = ERRBUF_INIT;
	struct errbuf errors = ERRBUF_INIT;
	int rc = 0;

	c = cli_load_cluster_err(a, a->json ? &errors : NULL);
	if (!c && a->json) {
		/* machine output on bad input too: the problems, as data */
		struct strbuf sb = STRBUF_INIT;
		struct json_writer w;
		jw_init(&w, &sb, true);
		jw_object_begin(&w);
		jw_kv_int(&w, "format", VEM_JSON_FORMAT);
		jw_kv_bool(&w, "valid", false);
		{
			char *src = uri_mask(a->source);
			jw_kv_string(&w, "source", src);
			free(src);
		}
		jw_diagnostics(&w, "errors", &errors);
		jw_diagnostics(&w, "warnings", NULL);
		jw_object_end(&w);
		strbuf_addc(&sb, '\n');
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
		fprintf(stderr, "vem: %zu problem%s in '%s'; see the JSON on standard output\n",
			errors.nr, errors.nr == 1 ? "" : "s", a->source);
		errbuf_release(&errors);
		return VEM_EXIT_ERROR;
	}
	if (!c)
		return VEM_EXIT_ERROR;
	if (check_cluster(c, &warnings)) {
		err_print(&warnings, stderr, "vem");
		if (o->strict) {
			fprintf(stderr, "vem: %zu warning%s with --strict\n", warnings.nr,
				warnings.nr == 1 ? "" : "s");
			rc = VEM_EXIT_ERROR;
		}
	}
	if (rc) {
		/* --strict: no summary, no JSON for a file that will not run */
	} else if (a->json) {
		struct strbuf sb = STRBUF_INIT;
		cluster_write_json(c, &warnings, &sb);
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
	} else if (vem_verbosity > 0) {
		printf("%s: valid: cluster '%s', %zu host%s, %zu template%s, %zu image%s, %zu vm%s\n",
		       c->source, c->name, c->n_hosts, c->n_hosts == 1 ? "" : "s",
		       c->n_templates, c->n_templates == 1 ? "" : "s",
		       c->n_images, c->n_images == 1 ? "" : "s", c->n_vms,
		       c->n_vms == 1 ? "" : "s");
	}
	errbuf_release(&warnings);
	cluster_free(c);
	return rc;
}

int cmd_schema(struct apply_args *a, struct cli_opts *o)
{
	struct strbuf sb = STRBUF_INIT;

	cfg_write_json_schema(&sb);
	fputs(sb.buf, stdout);
	strbuf_release(&sb);
	return 0;
}
