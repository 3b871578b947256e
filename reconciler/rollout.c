/*
 * rollout.c - interrupting changes roll over each VM group (see rollout.h):
 * the plan's limit per group, the readiness probes asked before planning,
 * and the executor's wait for a VM to become ready.
 */
#include "rollout.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool rollout_interrupts(const struct cluster *c, const struct plan_action *a)
{
	switch (a->kind) {
	case ACT_UPDATE:
		return a->impact == IMPACT_RECREATE ||
		       (a->impact == IMPACT_RESTART && a->spec && a->spec->state == VM_RUNNING);
	case ACT_STOP:
		return true;
	case ACT_MIGRATE:
		return c->rollout.migrations;
	default:
		return false;
	}
}

static const char *group_of(const struct vm_spec *vm)
{
	return vm->group ? vm->group : vm->name;
}

struct cand {
	size_t idx;                    /* action index */
	const struct vm_spec *vm;
};

static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int r = strcmp(group_of(a->vm), group_of(b->vm));
	if (r)
		return r;
	if (a->vm->replica != b->vm->replica)
		return a->vm->replica < b->vm->replica ? -1 : 1;
	r = strcmp(a->vm->name, b->vm->name);
	if (r)
		return r;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static const char *unready_why(const struct plan_options *opt, const char *vm)
{
	for (size_t i = 0; i < opt->n_unready; i++)
		if (str_eq(opt->unready[i].vm, vm))
			return opt->unready[i].why ? opt->unready[i].why : "not ready";
	return NULL;
}

/* Why member vm is unavailable now, or NULL when it is available (or not
 * meant to run, or not there at all: a create is not an interruption). */
static const char *member_unavailable(const struct obs_vm_index *ix, const struct plan_options *opt,
				      const struct vm_spec *vm)
{
	const struct obs_domain *found[8];
	size_t n = obs_vm_index_find(ix, vm->name, found, 8);
	bool running = false;
	const char *why;

	if (vm->state != VM_RUNNING || !n)
		return NULL;
	for (size_t k = 0; k < n && k < 8; k++)
		running |= found[k]->state == DOM_RUNNING;
	if (!running)
		return "not running";
	why = unready_why(opt, vm->name);
	return why;
}

struct member {
	const struct vm_spec *vm;
	const char *why;               /* unavailable: why; NULL: available */
	bool taken;                    /* an admitted action interrupts it */
};

/* The members of group g in replica order. */
static size_t group_members(const struct cluster *c, const char *g, const struct obs_vm_index *ix,
			    const struct plan_options *opt, struct member **out)
{
	size_t n = 0;
	struct member *m = NULL;

	for (size_t i = 0; i < c->n_vms; i++) {
		if (!str_eq(group_of(&c->vms[i]), g))
			continue;
		m = xrealloc(m, (n + 1) * sizeof(*m));
		m[n].vm = &c->vms[i];
		m[n].why = member_unavailable(ix, opt, &c->vms[i]);
		m[n].taken = false;
		n++;
	}
	*out = m;
	return n;
}

static struct member *member_find(struct member *m, size_t n, const char *vm)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq(m[i].vm->name, vm))
			return &m[i];
	return NULL;
}

/* Admit or hold the candidates cands[0..n) of one group; held[i] set for
 * the actions held back. */
static void limit_group(const struct cluster *c, const struct obs_vm_index *ix,
			const struct plan_options *opt, const struct cand *cands, size_t n,
			struct plan *p, bool *held)
{
	const char *g = group_of(cands[0].vm);
	struct member *m = NULL;
	size_t nm = group_members(c, g, ix, opt, &m);
	int max = cluster_max_unavailable(c, cands[0].vm, nm);
	size_t unavailable = 0, n_held = 0;
	const struct member *first_bad = NULL, *first_taken = NULL;
	struct strbuf names = STRBUF_INIT, reason = STRBUF_INIT;

	for (size_t i = 0; i < nm; i++)
		if (m[i].why) {
			unavailable++;
			if (!first_bad)
				first_bad = &m[i];
		}
	for (size_t i = 0; i < n; i++) {
		struct member *me = member_find(m, nm, cands[i].vm->name);
		if (!me || me->why || me->taken)
			continue;             /* already unavailable or already taken: no extra cost */
		if (unavailable < (size_t)max) {
			me->taken = true;
			unavailable++;
			if (!first_taken)
				first_taken = me;
			continue;
		}
		held[cands[i].idx] = true;
		{
			char *q = xasprintf("'%s'", me->vm->name);
			if (!strstr(names.buf, q))
				strbuf_addf(&names, "%s%s", names.len ? ", " : "", q);
			free(q);
		}
		n_held++;
	}
	if (n_held) {
		if (first_bad)
			strbuf_addf(&reason, "'%s' is %s%s", first_bad->vm->name,
				    str_eq(first_bad->why, "not running") ? "" : "not ready: ", first_bad->why);
		else if (first_taken)
			strbuf_addf(&reason, "'%s' is changed first", first_taken->vm->name);
		plan_note(p, "rollout of '%s' %s (max-unavailable %d): %s; waiting: %s", g,
			  first_bad && !first_taken ? "halted" : "continues next round", max, reason.buf, names.buf);
		for (size_t i = 0; i < n; i++)
			if (held[cands[i].idx])
				plan_hold(p, HELD_WAITING, cands[i].vm->name, false,
					  "waits for the rollout of '%s': %s", g, reason.buf);
	}
	strbuf_release(&names);
	strbuf_release(&reason);
	free(m);
}

void rollout_limit(const struct cluster *c, const struct observed *o,
		   const struct plan_options *opt, struct plan *p)
{
	struct cand *cands = xcalloc(p->n + 1, sizeof(*cands));
	bool *held = xcalloc(p->n + 1, sizeof(*held));
	long *map;
	size_t n = 0, w = 0;
	struct obs_vm_index ix;

	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];
		const struct vm_spec *vm = a->spec ? a->spec : cluster_vm(c, a->vm);
		if (!vm || !rollout_interrupts(c, a))
			continue;
		cands[n].idx = i;
		cands[n].vm = vm;
		n++;
	}
	if (!n)
		goto out;
	qsort(cands, n, sizeof(*cands), cand_cmp);
	obs_vm_index_init(&ix, o);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && str_eq(group_of(cands[j].vm), group_of(cands[i].vm)))
			j++;
		limit_group(c, &ix, opt, &cands[i], j - i, p, held);
		i = j;
	}
	obs_vm_index_release(&ix);
	/* drop the held actions, keeping the order and the 'after' links */
	map = xcalloc(p->n + 1, sizeof(*map));
	for (size_t i = 0; i < p->n; i++) {
		if (held[i]) {
			map[i] = -1;
			plan_action_release(&p->actions[i]);
			continue;
		}
		map[i] = (long)w;
		p->actions[w++] = p->actions[i];
	}
	for (size_t i = 0; i < w; i++)
		if (p->actions[i].after >= 0)
			p->actions[i].after = map[p->actions[i].after];
	p->n = w;
	free(map);
out:
	free(cands);
	free(held);
}

/* ---- readiness ---- */

void rollout_unready_free(struct plan_unready *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)u[i].vm);
		free((char *)u[i].why);
	}
	free(u);
}

static bool in_list(const char *const *l, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq(l[i], s))
			return true;
	return false;
}

size_t rollout_probe(struct hv_session *s, const struct cluster *c, const struct observed *o,
		     const char *const *groups, size_t n_groups, struct plan_unready **out)
{
	struct obs_vm_index ix;
	struct plan_unready *u = NULL;
	size_t n = 0;

	obs_vm_index_init(&ix, o);
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *vm = &c->vms[i];
		const struct obs_domain *found[8];
		const struct obs_domain *d = NULL;
		size_t nf;
		struct strbuf why = STRBUF_INIT;

		if (vm->state != VM_RUNNING || (!vm->cfg.readiness.agent && vm->cfg.readiness.tcp <= 0))
			continue;
		if (groups && !in_list(groups, n_groups, group_of(vm)))
			continue;
		nf = obs_vm_index_find(&ix, vm->name, found, 8);
		for (size_t k = 0; k < nf && k < 8; k++)
			if (found[k]->state == DOM_RUNNING && o->hosts[found[k]->host].online)
				d = found[k];
		/* not running: the plan sees that itself; a change pending: the
		 * file's probes are not the ones it runs with (an agent probe
		 * added to the file would find no agent channel yet) */
		if (!d || !str_eq(d->meta.spec_hash, vm->spec_hash))
			continue;
		if (hv_domain_ready(s, d->host, vm->name, &vm->cfg.readiness, &why)) {
			u = xrealloc(u, (n + 1) * sizeof(*u));
			u[n].vm = xstrdup(vm->name);
			u[n].why = strbuf_detach(&why, NULL);
			n++;
		}
		strbuf_release(&why);
	}
	obs_vm_index_release(&ix);
	*out = u;
	return n;
}

int rollout_plan(struct hv_session *s, const struct cluster *c, const struct observed *o,
		 const struct plan_options *opt, struct plan *out, struct errbuf *err)
{
	const char **groups = NULL;
	size_t n_groups = 0, n_unready;
	struct plan_unready *u = NULL;
	struct plan_options po;
	int rc;

	if (plan_build(c, o, opt, out, err))
		return -1;
	if (!s)
		return 0;
	/* the groups a change would interrupt: their members' readiness counts */
	for (size_t i = 0; i < out->n + out->n_held; i++) {
		const char *name = i < out->n ? out->actions[i].vm : out->held[i - out->n].vm;
		const struct vm_spec *vm = cluster_vm(c, name);
		if (!vm || (i < out->n && !rollout_interrupts(c, &out->actions[i])) ||
		    (i >= out->n && out->held[i - out->n].kind != HELD_WAITING) ||
		    in_list(groups, n_groups, group_of(vm)))
			continue;
		groups = xrealloc(groups, (n_groups + 1) * sizeof(*groups));
		groups[n_groups++] = group_of(vm);
	}
	if (!n_groups)
		return 0;
	n_unready = rollout_probe(s, c, o, groups, n_groups, &u);
	free(groups);
	if (!n_unready)
		return 0;
	plan_release(out);
	po = *opt;
	po.unready = u;
	po.n_unready = n_unready;
	rc = plan_build(c, o, &po, out, err);
	rollout_unready_free(u, n_unready);
	return rc;
}

int rollout_wait_ready(struct hv_session *s, size_t host, const struct vm_spec *vm,
		       volatile int *stop, struct errbuf *err)
{
	const struct readiness_spec *r = &vm->cfg.readiness;
	int64_t t0 = time_mono_ms(), deadline = t0 + r->settle + r->timeout;
	struct strbuf why = STRBUF_INIT;
	char b[32];
	int rc = -1;

	if (vm->state != VM_RUNNING || !hv_readiness_probed(r))
		return 0;
	while (time_mono_ms() - t0 < r->settle) {
		if (stop && *stop) {
			err_set(err, "'%s': stopped while waiting for it to settle", vm->name);
			goto out;
		}
		usleep(100 * 1000);
	}
	for (;;) {
		strbuf_reset(&why);
		if (hv_domain_ready(s, host, vm->name, r, &why) == 0) {
			rc = 0;
			break;
		}
		if (time_mono_ms() >= deadline || (stop && *stop)) {
			err_set(err, "'%s' not ready after %s: %s", vm->name,
				format_duration(time_mono_ms() - t0, b), why.buf);
			break;
		}
		usleep(500 * 1000);
	}
out:
	strbuf_release(&why);
	return rc;
}
