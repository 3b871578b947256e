/*
 * apply.c - validate, plan, apply: source -> desired state -> plan -> act.
 */
#include "cli.h"
#include "../schema/check.h"
#include "../schema/load.h"
#include "../schema/source.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void apply_args_default(struct apply_args *a)
{
	memset(a, 0, sizeof(*a));
	a->source = "cluster.yaml";
	plan_options_default(&a->plan);
	exec_options_default(&a->exec);
	hv_options_default(&a->hv);
	a->hv.sample_window = -1;          /* the cluster's balance.sample-window */
	lease_options_default(&a->lease);
	a->exec.plan = a->plan;
}

struct cluster *cli_load_cluster(const struct apply_args *a)
{
	struct errbuf err = ERRBUF_INIT;
	struct source_options sopt;
	struct source src;
	struct cluster *c = NULL;

	memset(&sopt, 0, sizeof(sopt));
	sopt.require_signed_by = a->require_signed_by;
	if (source_resolve(a->source, &sopt, &src, &err)) {
		err_print(&err, stderr, "vem");
		errbuf_release(&err);
		return NULL;
	}
	c = cfg_load(src.local_path, &err);
	if (!c) {
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

static void print_plan(const struct apply_args *a, const struct plan *p,
		       const struct observed *o)
{
	if (a->json) {
		struct strbuf sb = STRBUF_INIT;
		plan_write_json(p, o, &sb);
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

/* -v -v: how long each phase took */
static void phase(const char *what, int64_t *t)
{
	int64_t now = time_mono_ms();
	if (vem_verbosity >= 2)
		fprintf(stderr, "vem: %s in %lld ms\n", what, (long long)(now - *t));
	*t = now;
}

int apply_run(const struct apply_args *a, struct apply_report *rep)
{
	int64_t t = time_mono_ms();
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	struct hv_session *s = NULL;
	struct lease *lease = NULL;
	struct observed obs;
	struct plan plan;
	struct hv_options hv = a->hv;
	struct exec_options eo = a->exec;
	struct exec_result res;
	int rc = VEM_EXIT_ERROR;
	bool partial;

	memset(rep, 0, sizeof(*rep));
	memset(&obs, 0, sizeof(obs));
	memset(&plan, 0, sizeof(plan));
	memset(&res, 0, sizeof(res));

	c = cli_load_cluster(a);
	if (!c)
		return VEM_EXIT_ERROR;
	rep->revision = xstrdup(c->revision);
	phase("loaded the cluster file", &t);

	if (a->observed) {
		if (a->execute) {
			fprintf(stderr, "vem: --observed plans offline; it cannot apply\n");
			rc = VEM_EXIT_USAGE;
			goto out;
		}
		if (observed_read_json(a->observed, &obs, &err))
			goto fail;
		observed_apply_cluster(&obs, c);
	} else {
		apply_resolve_sampling(&hv, c, a->plan.balance);
		s = hv_session_open(c, &hv);
		phase("connected", &t);
		if (a->execute) {
			lease = lease_acquire(s, c, &a->lease, &err);
			if (!lease) {
				err_print(&err, stderr, "vem");
				rc = strstr(err_msg(&err), "held by") ? VEM_EXIT_LOCKED : VEM_EXIT_ERROR;
				goto out;
			}
		}
		phase("took the lease", &t);
		if (hv_observe(s, &obs, &err))
			goto fail;
		phase("observed", &t);
	}
	partial = any_offline(&obs);
	if (partial)
		report_offline(&obs);
	if (!a->json && vem_verbosity > 0 && c->revision)
		printf("cluster '%s' from %s (revision %.12s)\n", c->name, c->source, c->revision);

	if (plan_build(c, &obs, &a->plan, &plan, &err))
		goto fail;
	phase("planned", &t);
	print_plan(a, &plan, &obs);
	if (plan.refused) {
		fprintf(stderr, "vem: the plan was refused; nothing was changed\n");
		goto out;
	}
	if (!a->execute) {
		if (a->detailed_exitcode && plan_changes(&plan))
			rc = VEM_EXIT_CHANGES;
		else
			rc = partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK;
		rep->converged = plan_changes(&plan) == 0;
		rep->partial = partial;
		goto out;
	}
	if (plan_changes(&plan) == 0) {
		rep->converged = true;
		rep->partial = partial;
		rc = partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK;
		goto out;
	}
	if (!a->yes && !confirm()) {
		if (!isatty(STDIN_FILENO))
			fprintf(stderr, "vem: not applying: standard input is not a terminal "
					"and --yes was not given\n");
		else
			fprintf(stderr, "vem: not applying\n");
		goto out;
	}

	eo.plan = a->plan;
	if (!eo.progress && vem_verbosity > 0)
		eo.progress = stdout;
	if (exec_plan(s, c, &obs, &plan, &eo, &res, &err))
		goto fail;
	phase("executed the plan", &t);
	rep->actions = res.done + res.failed;
	rep->failed = res.failed;
	rep->rounds = 1;
	if (!(eo.stop && *eo.stop) && eo.max_rounds > 1) {
		struct exec_result more;
		memset(&more, 0, sizeof(more));
		eo.max_rounds--;
		if (exec_converge(s, c, &eo, &more, &err))
			goto fail;
		rep->actions += more.done + more.failed;
		rep->failed += more.failed;
		rep->rounds += more.rounds;
		rep->converged = more.converged;
		partial = partial || more.partial;
		phase("observed again", &t);
	}
	rep->partial = partial;
	if (vem_verbosity > 0)
		printf("%zu action%s, %zu failed, %s after %d round%s\n", rep->actions,
		       rep->actions == 1 ? "" : "s", rep->failed,
		       rep->converged ? "converged" : "not converged", rep->rounds,
		       rep->rounds == 1 ? "" : "s");
	if (rep->failed || !rep->converged)
		rc = partial ? VEM_EXIT_PARTIAL : VEM_EXIT_ERROR;
	else
		rc = partial ? VEM_EXIT_PARTIAL : VEM_EXIT_OK;
	goto out;
fail:
	err_print(&err, stderr, "vem");
	rc = VEM_EXIT_ERROR;
out:
	lease_release(lease);
	plan_release(&plan);
	observed_release(&obs);
	hv_session_free(s);
	cluster_free(c);
	errbuf_release(&err);
	return rc;
}

int cmd_plan(int argc, char **argv)
{
	struct apply_args a;
	struct cli_opts o;
	struct apply_report rep;
	int rc = cli_parse(argc, argv, cli_find("plan"), &a, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	a.execute = false;
	rc = apply_run(&a, &rep);
	free(rep.revision);
	return rc;
}

int cmd_apply(int argc, char **argv)
{
	struct apply_args a;
	struct cli_opts o;
	struct apply_report rep;
	int rc = cli_parse(argc, argv, cli_find("apply"), &a, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	a.execute = true;
	rc = apply_run(&a, &rep);
	free(rep.revision);
	return rc;
}

int cmd_validate(int argc, char **argv)
{
	struct apply_args a;
	struct cli_opts o;
	struct cluster *c;
	struct errbuf warnings = ERRBUF_INIT;
	int rc = cli_parse(argc, argv, cli_find("validate"), &a, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	c = cli_load_cluster(&a);
	if (!c)
		return VEM_EXIT_ERROR;
	if (check_cluster(c, &warnings)) {
		err_print(&warnings, stderr, "vem");
		if (o.strict) {
			fprintf(stderr, "vem: %zu warning%s with --strict\n", warnings.nr,
				warnings.nr == 1 ? "" : "s");
			rc = VEM_EXIT_ERROR;
		}
	}
	errbuf_release(&warnings);
	if (rc) {
		/* --strict: no summary, no JSON for a file that will not run */
	} else if (a.json) {
		struct strbuf sb = STRBUF_INIT;
		cluster_write_json(c, &sb);
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
	} else if (vem_verbosity > 0) {
		printf("%s: valid: cluster '%s', %zu host%s, %zu template%s, %zu image%s, %zu vm%s\n",
		       c->source, c->name, c->n_hosts, c->n_hosts == 1 ? "" : "s",
		       c->n_templates, c->n_templates == 1 ? "" : "s",
		       c->n_images, c->n_images == 1 ? "" : "s", c->n_vms,
		       c->n_vms == 1 ? "" : "s");
	}
	cluster_free(c);
	return rc;
}

int cmd_schema(int argc, char **argv)
{
	struct apply_args a;
	struct cli_opts o;
	struct strbuf sb = STRBUF_INIT;
	int rc = cli_parse(argc, argv, cli_find("schema"), &a, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	cfg_write_json_schema(&sb);
	fputs(sb.buf, stdout);
	strbuf_release(&sb);
	return 0;
}
