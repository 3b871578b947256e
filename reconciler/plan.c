/*
 * plan.c - desired x observed -> plan: the diff, its classification, and
 * how a plan is shown.
 */
#include "place.h"
#include "balance.h"
#include "rollout.h"
#include "ha.h"
#include "util/json.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = {
	[ACT_CREATE] = "create", [ACT_START] = "start", [ACT_STOP] = "stop",
	[ACT_UPDATE] = "update", [ACT_REMOVE] = "remove", [ACT_MIGRATE] = "migrate",
	[ACT_ADOPT] = "adopt",
};

const char *act_kind_name(enum act_kind k)
{
	return (size_t)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

const char *impact_name(enum impact i)
{
	return i == IMPACT_LIVE ? "live" : i == IMPACT_RESTART ? "restart" : "recreate";
}

void plan_options_default(struct plan_options *o)
{
	memset(o, 0, sizeof(*o));
	o->prune = true;
	o->allow_empty = false;
	o->max_removals = 10;
	o->balance = true;
	o->now = time_now_ms();
}

void plan_add(struct plan *p, const struct plan_action *a)
{
	ALLOC_GROW(p->actions, p->n + 1, p->alloc);
	p->actions[p->n++] = *a;
}

void plan_note(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	ALLOC_GROW(p->notes, p->n_notes + 1, p->notes_alloc);
	va_start(ap, fmt);
	p->notes[p->n_notes++] = xvasprintf(fmt, ap);
	va_end(ap);
}

void plan_action_release(struct plan_action *a)
{
	free(a->vm);
	free(a->reason);
	for (size_t j = 0; j < a->n_volumes; j++)
		free(a->volumes[j]);
	free(a->volumes);
	for (size_t j = 0; j < a->n_changes; j++) {
		free(a->changes[j].field);
		free(a->changes[j].from);
		free(a->changes[j].to);
	}
	free(a->changes);
	memset(a, 0, sizeof(*a));
}

void plan_hold(struct plan *p, enum held_kind k, const char *vm, bool note, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	switch (k) {
	case HELD_UNPLACEABLE: p->held_unplaceable++; break;
	case HELD_CONSENT: p->held_consent++; break;
	case HELD_BUDGET: p->held_budget++; break;
	case HELD_UNSAFE: p->held_unsafe++; break;
	case HELD_BLOCKED: p->held_blocked++; break;
	case HELD_WAITING: p->held_waiting++; break;
	}
	if (note)
		plan_note(p, "%s", msg);
	ALLOC_GROW(p->held, p->n_held + 1, p->held_alloc);
	p->held[p->n_held].kind = k;
	p->held[p->n_held].vm = xstrdup(vm);
	p->held[p->n_held].why = msg;
	p->n_held++;
}

const char *plan_held_why(const struct plan *p, const char *vm)
{
	for (size_t i = 0; i < p->n_held; i++)
		if (str_eq(p->held[i].vm, vm))
			return p->held[i].why;
	return NULL;
}

void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n_held; i++) {
		free(p->held[i].vm);
		free(p->held[i].why);
	}
	free(p->held);
	for (size_t i = 0; i < p->n; i++)
		plan_action_release(&p->actions[i]);
	free(p->actions);
	for (size_t i = 0; i < p->n_notes; i++)
		free(p->notes[i]);
	free(p->notes);
	memset(p, 0, sizeof(*p));
}

size_t plan_changes(const struct plan *p)
{
	return p->n;
}

size_t plan_held(const struct plan *p)
{
	return p->held_budget + p->held_consent + p->held_unsafe + p->held_unplaceable +
	       p->held_blocked + p->held_waiting;
}

void plan_held_describe(const struct plan *p, struct strbuf *out)
{
	const struct { size_t n; const char *one, *many; } parts[] = {
		{ p->held_unplaceable, "VM cannot be placed", "VMs cannot be placed" },
		{ p->held_consent, "change would destroy data without consent (--allow-destroy)",
		  "changes would destroy data without consent (--allow-destroy)" },
		{ p->held_budget, "removal is over the removal budget (--max-removals)",
		  "removals are over the removal budget (--max-removals)" },
		{ p->held_unsafe, "VM runs on two hosts", "VMs run on two hosts" },
		{ p->held_blocked, "change cannot be made on its host", "changes cannot be made on their hosts" },
		{ p->held_waiting, "change waits for its group's rollout", "changes wait for their group's rollout" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		if (parts[i].n)
			strbuf_addf(out, "%s%zu %s", out->len ? ", " : "", parts[i].n,
				    parts[i].n == 1 ? parts[i].one : parts[i].many);
}

static bool counts_as_removal(const struct plan_action *a)
{
	return a->kind == ACT_REMOVE || (a->kind == ACT_UPDATE && a->impact == IMPACT_RECREATE);
}

size_t plan_removals(const struct plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += counts_as_removal(&p->actions[i]);
	return n;
}

static bool pattern_match(const char *const *pats, size_t n, const char *vm)
{
	for (size_t i = 0; i < n; i++)
		if (!fnmatch(pats[i], vm, 0))
			return true;
	return false;
}

/* Whether a VM (name, group) is in the --target set (all when empty). */
static bool targeted(const struct plan_options *opt, const char *vm, const char *group)
{
	if (!opt->n_targets)
		return true;
	return pattern_match(opt->targets, opt->n_targets, vm) ||
	       (group && pattern_match(opt->targets, opt->n_targets, group));
}

bool plan_destroy_allowed(const struct cluster *c, const struct plan_options *opt,
			  const char *vm)
{
	return pattern_match(opt->allow_destroy, opt->n_allow_destroy, vm) ||
	       pattern_match((const char *const *)c->allow_destroy, c->n_allow_destroy, vm);
}

/* ---- the diff ---- */

static struct plan_action action(enum act_kind k, const char *vm, const struct vm_spec *spec,
				 size_t host)
{
	struct plan_action a;
	memset(&a, 0, sizeof(a));
	a.kind = k;
	a.vm = xstrdup(vm);
	a.spec = spec;
	a.host = host;
	a.dest = host;
	a.after = -1;
	a.keep_disks = HV_KEEP_ALL;
	return a;
}

/* The data volumes of d that removing it with keep_disks deletes. */
static void set_destroyed(struct plan_action *a, const struct obs_domain *d, size_t keep_disks)
{
	a->keep_disks = keep_disks;
	for (size_t i = 0; i < d->meta.n_volumes; i++) {
		const char *v = d->meta.volumes[i];
		if (!hv_volume_deleted(v, keep_disks) || hv_volume_kind(v) == HV_VOL_SEED)
			continue;
		a->volumes = xrealloc(a->volumes, (a->n_volumes + 1) * sizeof(*a->volumes));
		a->volumes[a->n_volumes++] = xstrdup(v);
	}
	a->destroys = a->n_volumes > 0;
}

/* One line per action held back for want of consent, naming what it would delete. */
static void note_held_destroy(struct plan *p, const struct plan_action *a, const struct observed *o,
			      const char *what)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < a->n_volumes; i++) {
		const char *slash = strrchr(a->volumes[i], '/');
		strbuf_addf(&sb, "%s%s", i ? ", " : "", slash ? slash + 1 : a->volumes[i]);
	}
	plan_hold(p, HELD_CONSENT, a->vm, true, "held: %s '%s' on '%s' would delete %zu data volume%s (%s); "
		  "allow it with --allow-destroy %s or 'allow-destroy: [%s]' in the cluster file",
		  what, a->vm, o->hosts[a->host].name, a->n_volumes, a->n_volumes == 1 ? "" : "s",
		  sb.buf, a->vm, a->vm);
	strbuf_release(&sb);
}

static void add_change(struct plan_action *a, const char *field, char *from, char *to,
		       enum impact impact)
{
	a->changes = xrealloc(a->changes, (a->n_changes + 1) * sizeof(*a->changes));
	a->changes[a->n_changes].field = xstrdup(field);
	a->changes[a->n_changes].from = from;
	a->changes[a->n_changes].to = to;
	a->changes[a->n_changes].impact = impact;
	a->changes[a->n_changes].numeric = false;
	a->n_changes++;
	if (impact > a->impact)
		a->impact = impact;
}

/* A change of a number: sizes (bytes) shown with units, counts as they are;
 * the JSON plan carries the numbers. */
static void add_change_n(struct plan_action *a, const char *field, uint64_t from, uint64_t to,
			 bool bytes, const char *unit, enum impact impact)
{
	char b1[32], b2[32];
	struct field_change *fc;

	if (bytes)
		add_change(a, field, xstrdup(format_size(from, b1)), xstrdup(format_size(to, b2)), impact);
	else
		add_change(a, field, xasprintf("%llu%s", (unsigned long long)from, unit),
			   xasprintf("%llu%s", (unsigned long long)to, unit), impact);
	fc = &a->changes[a->n_changes - 1];
	fc->numeric = true;
	fc->from_n = from;
	fc->to_n = to;
}

/*
 * What changed between an owned domain and its desired spec. Observation
 * gives vCPUs, memory and maximum memory exactly; the rest of the old spec
 * is summarised by the hash in the domain's metadata.
 */
static void classify(struct plan_action *a, const struct vm_spec *vm, const struct obs_domain *d)
{
	const struct vm_config *c = &vm->cfg;
	bool running = d->state == DOM_RUNNING;
	size_t want_volumes = c->n_disks + (c->user_data || c->meta_data || c->network_config ? 1 : 0);

	if (d->meta.n_volumes != want_volumes)
		add_change_n(a, "disks", d->meta.n_volumes, want_volumes, false, " volumes",
			     IMPACT_RECREATE);
	if (c->max_memory != d->max_memory)
		add_change_n(a, "max-memory", d->max_memory, c->max_memory, true, "", IMPACT_RESTART);
	if (c->memory != d->memory && c->max_memory == d->max_memory)
		add_change_n(a, "memory", d->memory, c->memory, true, "",
			     running ? IMPACT_LIVE : IMPACT_RESTART);
	else if (c->memory != d->memory)
		add_change_n(a, "memory", d->memory, c->memory, true, "", IMPACT_RESTART);
	if (c->vcpus != d->vcpus)
		add_change_n(a, "vcpus", (uint64_t)d->vcpus, (uint64_t)c->vcpus, false, "",
			     running && c->max_vcpus > c->vcpus ? IMPACT_LIVE : IMPACT_RESTART);
	if (!str_eq(d->meta.template, vm->template))
		add_change(a, "template", xstrdup(d->meta.template ? d->meta.template : "-"),
			   xstrdup(vm->template ? vm->template : "-"), IMPACT_RESTART);
	if (!a->n_changes)
		add_change(a, "spec", xstrdup(d->meta.spec_hash ? d->meta.spec_hash : "-"),
			   xstrdup(vm->spec_hash), IMPACT_RESTART);
	/* a stopped domain takes any change at its next start */
	if (!running && a->impact == IMPACT_RESTART) {
		for (size_t i = 0; i < a->n_changes; i++)
			if (a->changes[i].impact == IMPACT_RESTART)
				a->changes[i].impact = IMPACT_LIVE;
		a->impact = IMPACT_LIVE;
		for (size_t i = 0; i < a->n_changes; i++)
			if (a->changes[i].impact > a->impact)
				a->impact = a->changes[i].impact;
	}
}

/* The domain that stands for vm when several claim it (a crash mid-migration):
 * the running one, else the most recently migrated, else the first host. */
static const struct obs_domain *primary(const struct obs_domain *const *d, size_t n)
{
	const struct obs_domain *best = d[0];
	for (size_t i = 1; i < n; i++) {
		bool run = d[i]->state == DOM_RUNNING, brun = best->state == DOM_RUNNING;
		if ((run && !brun) ||
		    (run == brun && d[i]->meta.migrated_at > best->meta.migrated_at))
			best = d[i];
	}
	return best;
}

static bool any_offline(const struct observed *o)
{
	for (size_t i = 0; i < o->n_hosts; i++)
		if (!o->hosts[i].online)
			return true;
	return false;
}

/* Whether the removal budget of opt has room for one more (used so far: n). */
static bool budget_left(const struct plan_options *opt, size_t n)
{
	return opt->max_removals < 0 || n < (size_t)opt->max_removals;
}

static void diff_removals(const struct cluster *c, const struct observed *o,
			  const struct plan_options *opt, struct plan *p, struct load *l,
			  size_t *removals)
{
	size_t n_owned = 0;

	for (size_t i = 0; i < o->n_domains; i++)
		n_owned += o->domains[i].owned;
	if (!c->n_vms && n_owned && opt->prune && !opt->allow_empty) {
		p->refused = true;
		plan_note(p, "the cluster file describes no VMs and %zu owned VM%s would be removed; "
			  "use --allow-empty if that is what you want", n_owned, n_owned == 1 ? "" : "s");
		return;
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		struct plan_action a;
		if (!d->owned || cluster_vm(c, d->meta.vm) || !o->hosts[d->host].online)
			continue;
		if (!opt->prune || !targeted(opt, d->meta.vm ? d->meta.vm : d->name, NULL))
			continue;
		a = action(ACT_REMOVE, d->name, NULL, d->host);
		a.reason = xstrdup("not in the cluster file");
		set_destroyed(&a, d, 0);
		if (a.destroys && !plan_destroy_allowed(c, opt, d->name)) {
			note_held_destroy(p, &a, o, "removing");
			plan_action_release(&a);
			continue;
		}
		if (!budget_left(opt, *removals)) {
			plan_hold(p, HELD_BUDGET, d->name, false, "removal held back by the removal budget");
			plan_action_release(&a);
			continue;
		}
		plan_add(p, &a);
		if (d->state == DOM_RUNNING)
			load_remove_vm(l, d->host, NULL, d->max_memory > d->memory ? d->max_memory : d->memory,
				       d->vcpus, d->cpu_load);
		(*removals)++;
	}
}

/*
 * The same libvirt host listed twice (two URIs, one daemon) makes every VM
 * on it look duplicated, and removing the "duplicate" removes the only
 * copy: refuse to plan at all, naming both entries.
 */
static bool same_host_twice(const struct observed *o, struct plan *p)
{
	bool found = false;
	for (size_t i = 0; i < o->n_hosts; i++) {
		if (!o->hosts[i].online || !o->hosts[i].host_uuid[0])
			continue;
		for (size_t j = i + 1; j < o->n_hosts; j++) {
			if (!o->hosts[j].online || strcmp(o->hosts[i].host_uuid, o->hosts[j].host_uuid))
				continue;
			plan_note(p, "hosts '%s' and '%s' are the same libvirt host (host UUID %s); "
				  "list each host once", o->hosts[i].name, o->hosts[j].name,
				  o->hosts[i].host_uuid);
			found = true;
		}
	}
	if (found)
		p->refused = true;
	return found;
}

/*
 * Copies of one VM on several hosts (a run killed mid-migration). The copy
 * that is not the primary is undefined, its volumes kept: on shared storage
 * they are the primary's own disks. Two running copies are left alone.
 */
static bool diff_duplicates(const struct observed *o, const struct obs_domain *const *found,
			    size_t n, const struct obs_domain *d, const struct plan_options *opt,
			    struct plan *p, size_t *removals)
{
	size_t running = 0;

	for (size_t k = 0; k < n; k++)
		running += found[k]->state == DOM_RUNNING || found[k]->state == DOM_PAUSED;
	if (running > 1) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t k = 0; k < n; k++)
			if (found[k]->state == DOM_RUNNING || found[k]->state == DOM_PAUSED)
				strbuf_addf(&sb, "%s'%s'", sb.len ? ", " : "", o->hosts[found[k]->host].name);
		plan_hold(p, HELD_UNSAFE, d->meta.vm ? d->meta.vm : d->name, true,
			  "'%s' runs on %zu hosts (%s); vem does not touch it until one copy "
			  "is stopped by hand", d->meta.vm ? d->meta.vm : d->name, running, sb.buf);
		strbuf_release(&sb);
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		struct plan_action a;
		if (found[k] == d || !o->hosts[found[k]->host].online)
			continue;
		if (!budget_left(opt, *removals)) {
			plan_hold(p, HELD_BUDGET, found[k]->name, false,
				  "duplicate clean-up held back by the removal budget");
			continue;
		}
		a = action(ACT_REMOVE, found[k]->name, NULL, found[k]->host);
		a.reason = xstrdup("duplicate; its volumes are kept");
		plan_add(p, &a);
		(*removals)++;
	}
	return true;
}

/*
 * A pool or network vm needs that no online host outside maintenance has
 * active, formatted into buf ("pool 'fast'"), or NULL. Hosts whose pools
 * and networks are unknown (a snapshot of an older vem) count as having
 * them: unknown is not missing.
 */
static const char *resource_nowhere(const struct observed *o, const struct vm_spec *vm,
				    char *buf, size_t len)
{
	const struct vm_config *cfg = &vm->cfg;
	size_t n = cfg->n_disks + cfg->n_nets + 1;

	for (size_t k = 0; k < n; k++) {
		const char *pool = NULL, *net = NULL;
		bool somewhere = false;
		if (k < cfg->n_disks)
			pool = disk_pool(&cfg->disks[k]);
		else if (k < cfg->n_disks + cfg->n_nets)
			net = cfg->nets[k - cfg->n_disks].network;
		else if (!cfg->n_disks && (cfg->user_data || cfg->meta_data || cfg->network_config))
			pool = "default";   /* the cloud-init seed's (hv/storage.c) */
		if (!pool && !net)
			continue;
		for (size_t h = 0; h < o->n_hosts && !somewhere; h++) {
			const struct obs_host *oh = &o->hosts[h];
			if (oh->online && !oh->maintenance)
				somewhere = pool ? obs_host_has_pool(oh, pool) : obs_host_has_network(oh, net);
		}
		if (!somewhere) {
			snprintf(buf, len, pool ? "pool '%s' is not defined" : "network '%s' is not active",
				 pool ? pool : net);
			return buf;
		}
	}
	return NULL;
}

/* Hold the VMs to create that need a pool or network no online host has
 * (placement would rule out every host for it; this says it once, by
 * name); the others stay in creates[]. */
static size_t hold_unplaceable_resources(const struct observed *o, const struct vm_spec **creates,
					 size_t n, struct plan *p)
{
	size_t kept = 0;
	char buf[160];

	for (size_t i = 0; i < n; i++) {
		const char *what = resource_nowhere(o, creates[i], buf, sizeof(buf));
		if (what)
			plan_hold(p, HELD_UNPLACEABLE, creates[i]->name, true,
				  "cannot place '%s': %s on any online host",
				  creates[i]->name, what);
		else
			creates[kept++] = creates[i];
	}
	return kept;
}

/*
 * Hold the VMs to create whose images cannot be had (opt->check_images:
 * neither cached nor reachable), so that apply does not fail on them
 * round after round; the others stay in creates[]. Each distinct image is
 * checked once.
 */
static size_t hold_unreachable_images(const struct cluster *c, const struct plan_options *opt,
				      const struct vm_spec **creates, size_t n, struct plan *p)
{
	const struct image_spec **imgs = xcalloc(c->n_images + 1, sizeof(*imgs));
	char **why = xcalloc(c->n_images + 1, sizeof(*why));
	size_t ni = 0, kept = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < creates[i]->cfg.n_disks; k++) {
			const struct image_spec *img = creates[i]->cfg.disks[k].image ?
				cluster_image(c, creates[i]->cfg.disks[k].image) : NULL;
			size_t j;
			for (j = 0; img && j < ni && imgs[j] != img; j++)
				;
			if (img && j == ni && ni < c->n_images)
				imgs[ni++] = img;
		}
	if (ni)
		opt->check_images(imgs, ni, why);
	for (size_t i = 0; i < n; i++) {
		const char *bad = NULL, *name = NULL;
		for (size_t k = 0; k < creates[i]->cfg.n_disks && !bad; k++)
			for (size_t j = 0; j < ni && !bad; j++)
				if (why[j] && str_eq(creates[i]->cfg.disks[k].image, imgs[j]->name)) {
					bad = why[j];
					name = imgs[j]->name;
				}
		if (bad)
			plan_hold(p, HELD_BLOCKED, creates[i]->name, true,
				  "cannot create '%s': image '%s' is %s", creates[i]->name, name, bad);
		else
			creates[kept++] = creates[i];
	}
	for (size_t j = 0; j < ni; j++)
		free(why[j]);
	free(why);
	free(imgs);
	return kept;
}

/* For a recreate of vm (which makes its disks again, on their images): the
 * reason one of its images cannot be had, formatted into buf, or NULL. */
static const char *recreate_image_problem(const struct cluster *c, const struct plan_options *opt,
					  const struct vm_spec *vm, char *buf, size_t len)
{
	const struct image_spec **imgs = xcalloc(vm->cfg.n_disks + 1, sizeof(*imgs));
	char **why = xcalloc(vm->cfg.n_disks + 1, sizeof(*why));
	const char *r = NULL;
	size_t ni = 0;

	for (size_t k = 0; k < vm->cfg.n_disks; k++) {
		const struct image_spec *img = vm->cfg.disks[k].image ?
			cluster_image(c, vm->cfg.disks[k].image) : NULL;
		if (img)
			imgs[ni++] = img;
	}
	if (ni && opt->check_images)
		opt->check_images(imgs, ni, why);
	for (size_t j = 0; j < ni; j++) {
		if (why[j] && !r) {
			snprintf(buf, len, "image '%s' is %s", imgs[j]->name, why[j]);
			r = buf;
		}
		free(why[j]);
	}
	free(why);
	free(imgs);
	return r;
}

/* Whether host h of d lacks what vm's change needs (a restart or recreate
 * defines the domain again, with its pools and networks; a start needs
 * its networks): held with the reason instead of failing at apply. */
static bool hold_lacking(const struct observed *o, const struct vm_spec *vm, size_t host,
			 const char *what, struct plan *p)
{
	char buf[160];
	const char *lack = obs_host_lacks(&o->hosts[host], &vm->cfg, buf, sizeof(buf));

	if (!lack)
		return false;
	plan_hold(p, HELD_BLOCKED, vm->name, true, "cannot %s '%s' on '%s': %s there", what,
		  vm->name, o->hosts[host].name, lack);
	return true;
}

/* A start on host needs what hold_lacking checks: held (once per VM; an
 * update held for it already says why). */
static bool lacks_for_start(const struct observed *o, const struct vm_spec *vm, size_t host,
			    struct plan *p)
{
	char buf[160];

	if (!obs_host_lacks(&o->hosts[host], &vm->cfg, buf, sizeof(buf)))
		return false;
	if (!plan_held_why(p, vm->name))
		hold_lacking(o, vm, host, "start", p);
	return true;
}

/* An owned domain whose spec changed. A recreate keeps the disks the new
 * spec still has; one that deletes data needs consent, and every recreate
 * counts against the removal budget. */
static void diff_update(const struct cluster *c, const struct observed *o,
			const struct plan_options *opt, const struct vm_spec *vm,
			const struct obs_domain *d, struct plan *p, size_t *removals)
{
	struct plan_action a;
	const struct obs_host *h = &o->hosts[d->host];
	enum hv_type t;

	/* what apply would refuse, the plan says (caps unknown: 0, not checked) */
	if (h->hv_caps && hv_resolve_type(vm->cfg.hypervisor, h->hv_caps, &t)) {
		plan_hold(p, HELD_BLOCKED, vm->name, true,
			  "cannot update '%s' on '%s': the host does not offer hypervisor '%s'",
			  vm->name, h->name, hv_type_name(vm->cfg.hypervisor));
		return;
	}
	a = action(ACT_UPDATE, vm->name, vm, d->host);
	classify(&a, vm, d);
	if (a.impact != IMPACT_LIVE &&
	    hold_lacking(o, vm, d->host, a.impact == IMPACT_RECREATE ? "recreate" : "restart", p)) {
		plan_action_release(&a);
		return;
	}
	if (a.impact == IMPACT_RECREATE) {
		char buf[512];
		const char *bad = recreate_image_problem(c, opt, vm, buf, sizeof(buf));
		if (bad) {
			plan_hold(p, HELD_BLOCKED, vm->name, true, "cannot recreate '%s': %s",
				  vm->name, bad);
			plan_action_release(&a);
			return;
		}
		set_destroyed(&a, d, vm->cfg.n_disks);
		if (a.destroys && !plan_destroy_allowed(c, opt, vm->name)) {
			note_held_destroy(p, &a, o, "recreating");
			plan_action_release(&a);
			return;
		}
		if (!budget_left(opt, *removals)) {
			plan_hold(p, HELD_BUDGET, vm->name, false, "recreate held back by the removal budget");
			plan_action_release(&a);
			return;
		}
		(*removals)++;
	}
	plan_add(p, &a);
}

/* Domains without this cluster's metadata, by name (binary search). */
struct foreign_index {
	const struct obs_domain **d;
	size_t n;
};

static int foreign_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct obs_domain *const *)a)->name,
		      (*(const struct obs_domain *const *)b)->name);
}

static void foreign_index_init(struct foreign_index *fx, const struct observed *o)
{
	fx->d = xcalloc(o->n_domains + 1, sizeof(*fx->d));
	fx->n = 0;
	for (size_t i = 0; i < o->n_domains; i++)
		if (!o->domains[i].owned)
			fx->d[fx->n++] = &o->domains[i];
	qsort(fx->d, fx->n, sizeof(*fx->d), foreign_cmp);
}

/* How many unowned domains are named name; *first is one of them. */
static size_t foreign_find(const struct foreign_index *fx, const char *name,
			   const struct obs_domain **first)
{
	size_t lo = 0, hi = fx->n, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(fx->d[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < fx->n && !strcmp(fx->d[i]->name, name); i++)
		if (!n++)
			*first = fx->d[i];
	return n;
}

/* Whether vm's domain may be adopted (vm's adopt: true, or --adopt). */
static bool adoptable(const struct cluster *c, const struct plan_options *opt,
		      const struct vm_spec *vm)
{
	(void)c;
	return vm->adopt || pattern_match(opt->adopt, opt->n_adopt, vm->name) ||
	       (vm->group && pattern_match(opt->adopt, opt->n_adopt, vm->group));
}

/*
 * Adopt d for vm: what differs from the file, as far as observation sees
 * (vCPUs, memory, maximum memory); the adoption writes the desired spec
 * hash only when nothing differs, so any difference is the next round's
 * update.
 */
static void diff_adopt(const struct vm_spec *vm, const struct obs_domain *d, struct plan *p)
{
	struct plan_action a = action(ACT_ADOPT, vm->name, vm, d->host);
	struct obs_domain same = *d;

	same.meta.template = vm->template;
	same.meta.spec_hash = (char *)vm->spec_hash;
	/* the adoption records the domain's disks as the file's volumes, or
	 * is refused (hv/adopt.c): they are no difference */
	same.meta.n_volumes = vm->cfg.n_disks;
	classify(&a, vm, &same);
	/* classify names the hash when it sees no field change: none here */
	if (a.n_changes == 1 && str_eq(a.changes[0].field, "spec")) {
		free(a.changes[0].field);
		free(a.changes[0].from);
		free(a.changes[0].to);
		a.n_changes = 0;
		a.impact = IMPACT_LIVE;
	}
	a.reason = xstrdup("no vem metadata; adopted without a restart");
	plan_add(p, &a);
}

/* The balancer's repairs and moves (balance.h), as migrations and held
 * changes of p; VMs that p already acts on stay where they are. */
static void plan_balance(struct plan *p, struct load *l, const struct plan_options *opt)
{
	struct balance_options bo;
	struct balance_result r;
	const char **busy = xcalloc(p->n + 1, sizeof(*busy));

	for (size_t k = 0; k < p->n; k++)
		busy[k] = p->actions[k].vm;
	memset(&bo, 0, sizeof(bo));
	bo.balance = opt->balance;
	bo.now = opt->now;
	bo.busy = busy;
	bo.n_busy = p->n;
	balance_run(l, &bo, &r);
	for (size_t i = 0; i < r.n_moves; i++) {
		const struct balance_move *m = &r.moves[i];
		struct plan_action a;
		memset(&a, 0, sizeof(a));
		a.kind = ACT_MIGRATE;
		a.vm = xstrdup(m->vm->name);
		a.spec = m->vm;
		a.host = m->host;
		a.dest = m->dest;
		a.reason = xstrdup(m->reason);
		a.bytes = m->bytes;
		a.after = -1;
		a.score_before = m->score_before;
		a.score_after = m->score_after;
		plan_add(p, &a);
	}
	for (size_t i = 0; i < r.n_held; i++)
		plan_hold(p, HELD_UNPLACEABLE, r.held[i].vm->name, true, "%s", r.held[i].why);
	if (r.note)
		plan_note(p, "%s", r.note);
	balance_result_release(&r);
	free(busy);
}

int plan_build(const struct cluster *c, const struct observed *o, const struct plan_options *opt,
	       struct plan *out, struct errbuf *err)
{
	struct load l;
	struct obs_vm_index ix;
	struct foreign_index fx;
	const struct vm_spec **creates = xcalloc(c->n_vms + 1, sizeof(*creates));
	const struct vm_spec **lost = xcalloc(c->n_vms + 1, sizeof(*lost));
	size_t n_creates = 0, n_lost = 0, removals = 0;
	bool offline = any_offline(o);

	(void)err;
	memset(out, 0, sizeof(*out));
	load_init(&l, c, o);
	obs_vm_index_init(&ix, o);
	foreign_index_init(&fx, o);
	out->score = load_score(&l);

	if (same_host_twice(o, out))
		goto done;
	diff_removals(c, o, opt, out, &l, &removals);
	if (out->refused)
		goto done;

	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *vm = &c->vms[i];
		const struct obs_domain *found[8];
		const struct obs_domain *d, *fd = NULL;
		size_t n = obs_vm_index_find(&ix, vm->name, found, 8), nf;
		struct plan_action a;

		if (n > 8)
			n = 8;
		if (!targeted(opt, vm->name, vm->group))
			continue;
		if (opt->ha && n && ha_drop_stale(c, o, opt, vm->name, found, &n, out, &removals))
			continue;
		if (n == 0 && (nf = foreign_find(&fx, vm->name, &fd)) > 0) {
			if (!adoptable(c, opt, vm)) {
				plan_hold(out, HELD_BLOCKED, vm->name, true, "not creating '%s': host '%s' "
					  "runs a domain of that name that %s; %s", vm->name,
					  o->hosts[fd->host].name, fd->foreign_meta ?
					  "belongs to another cluster" : "vem does not manage",
					  fd->foreign_meta ? "rename the VM" :
					  "adopt it (--adopt NAME or 'adopt: true') or rename the VM");
				continue;
			}
			if (nf == 1 && fd->foreign_meta) {
				plan_hold(out, HELD_BLOCKED, vm->name, true, "not adopting '%s' on '%s': it "
					  "carries the metadata of another cluster", vm->name,
					  o->hosts[fd->host].name);
				continue;
			}
			if (nf > 1) {
				plan_hold(out, HELD_UNSAFE, vm->name, true, "not adopting '%s': %zu hosts "
					  "run a domain of that name", vm->name, nf);
				continue;
			}
			/* disks are matched to the file's at adoption (hv/adopt.c) */
			if (nf == 1 && (vm->cfg.user_data || vm->cfg.meta_data ||
					vm->cfg.network_config)) {
				plan_hold(out, HELD_BLOCKED, vm->name, true, "not adopting '%s' on '%s': "
					  "adopting a VM with cloud-init is not supported (its seed is "
					  "vem's to make)", vm->name, o->hosts[fd->host].name);
				continue;
			}
			if (o->hosts[fd->host].online)
				diff_adopt(vm, fd, out);
			continue;
		}
		if (n == 0) {
			if (opt->ha && ha_last_down(opt->ha, vm->name) >= 0) {
				lost[n_lost++] = vm;
				continue;
			}
			if (offline) {
				plan_note(out, "'%s' is not on any reachable host; not creating it while "
					  "a host is unreachable (it may be there)", vm->name);
				continue;
			}
			creates[n_creates++] = vm;
			continue;
		}
		d = primary(found, n);
		if (n > 1 && !diff_duplicates(o, found, n, d, opt, out, &removals))
			continue;
		if (!o->hosts[d->host].online)
			continue;
		if (!str_eq(d->meta.spec_hash, vm->spec_hash))
			diff_update(c, o, opt, vm, d, out, &removals);
		if (vm->state == VM_RUNNING && d->state != DOM_RUNNING && d->state != DOM_PAUSED &&
		    lacks_for_start(o, vm, d->host, out))
			continue;
		if (vm->state == VM_RUNNING && d->state != DOM_RUNNING && d->state != DOM_PAUSED) {
			a = action(ACT_START, vm->name, vm, d->host);
			plan_add(out, &a);
		} else if (vm->state == VM_STOPPED && d->state == DOM_RUNNING) {
			a = action(ACT_STOP, vm->name, vm, d->host);
			a.reason = xstrdup("state: stopped");
			plan_add(out, &a);
		}
	}

	if (n_lost)
		ha_plan_recovery(c, o, opt, opt->ha, lost, n_lost, &l, out);
	n_creates = hold_unplaceable_resources(o, creates, n_creates, out);
	if (opt->check_images && n_creates)
		n_creates = hold_unreachable_images(c, opt, creates, n_creates, out);
	if (n_creates) {
		long *hosts = xcalloc(n_creates + 1, sizeof(*hosts));
		struct strbuf why = STRBUF_INIT;
		place_vms(&l, creates, n_creates, hosts, &why);
		for (size_t i = 0; i < n_creates; i++) {
			struct plan_action a;
			if (hosts[i] < 0)
				continue;
			a = action(ACT_CREATE, creates[i]->name, creates[i], (size_t)hosts[i]);
			plan_add(out, &a);
		}
		/* one line per VM that no host takes: "cannot place 'NAME': ..." */
		if (why.len) {
			char *save = NULL;
			for (char *line = strtok_r(why.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
				const char *q = strchr(line, '\'');
				const char *e = q ? strchr(q + 1, '\'') : NULL;
				char *vm = e ? xstrndup(q + 1, (size_t)(e - q - 1)) : xstrdup("");
				plan_hold(out, HELD_UNPLACEABLE, vm, true, "%s", line);
				free(vm);
			}
		}
		strbuf_release(&why);
		free(hosts);
	}
	if (opt->n_targets)
		plan_note(out, "--target: only the VMs named are planned; no balancing or repairs");
	else
		plan_balance(out, &l, opt);
	rollout_limit(c, o, opt, out);
	if (out->held_budget)
		plan_note(out, "%zu removal%s held back by the removal budget of %d per run "
			  "(--max-removals)", out->held_budget, out->held_budget == 1 ? "" : "s",
			  opt->max_removals);
done:
	out->score_after = load_score(&l);
	load_release(&l);
	obs_vm_index_release(&ix);
	free(fx.d);
	free(creates);
	free(lost);
	return 0;
}

struct plan_action plan_action_make(enum act_kind k, const char *vm, const struct vm_spec *spec,
				    size_t host)
{
	return action(k, vm, spec, host);
}

void plan_action_set_destroyed(struct plan_action *a, const struct obs_domain *d,
			       size_t keep_disks)
{
	set_destroyed(a, d, keep_disks);
}

void plan_hold_destroy(struct plan *p, const struct plan_action *a, const struct observed *o,
		       const char *what)
{
	note_held_destroy(p, a, o, what);
}

/* ---- digests (saved plans) ---- */

static void digest_text(const struct strbuf *sb, char out[65])
{
	sha256_hex(sb->buf, sb->len, out);
}

void plan_digest(const struct plan *p, const struct observed *o, char out[65])
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];
		strbuf_addf(&sb, "%s %s %s %s %d %zu %zu", act_kind_name(a->kind), a->vm,
			    o->hosts[a->host].name, o->hosts[a->dest].name, (int)a->impact,
			    a->keep_disks, a->n_volumes);
		for (size_t j = 0; j < a->n_changes; j++)
			strbuf_addf(&sb, " %s=%s>%s", a->changes[j].field, a->changes[j].from,
				    a->changes[j].to);
		for (size_t j = 0; j < a->n_volumes; j++)
			strbuf_addf(&sb, " -%s", a->volumes[j]);
		strbuf_addc(&sb, '\n');
	}
	digest_text(&sb, out);
	strbuf_release(&sb);
}

void plan_observed_digest(const struct observed *o, char out[65])
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < o->n_hosts; i++) {
		const struct obs_host *h = &o->hosts[i];
		strbuf_addf(&sb, "host %s %s %d %d %llu %u\n", h->name, h->host_uuid, h->online,
			    h->cpus, (unsigned long long)h->memory, h->hv_caps);
		/* placement depends on them too (when known: old digests stay) */
		if (h->resources_known) {
			strbuf_adds(&sb, "pools");
			for (size_t j = 0; j < h->n_pools; j++)
				strbuf_addf(&sb, " %s", h->pools[j]);
			strbuf_adds(&sb, "\nnetworks");
			for (size_t j = 0; j < h->n_networks; j++)
				strbuf_addf(&sb, " %s", h->networks[j]);
			strbuf_addc(&sb, '\n');
		}
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		strbuf_addf(&sb, "dom %s %s %zu %d %d %d %llu %llu %s %zu\n", d->name, d->uuid,
			    d->host, d->owned, (int)d->state, d->vcpus,
			    (unsigned long long)d->memory, (unsigned long long)d->max_memory,
			    d->owned && d->meta.spec_hash ? d->meta.spec_hash : "-", d->meta.n_volumes);
	}
	digest_text(&sb, out);
	strbuf_release(&sb);
}

/* ---- output ---- */

static bool use_color(FILE *f)
{
	return isatty(fileno(f)) && !getenv("NO_COLOR");
}

void plan_print(const struct plan *p, const struct observed *o, FILE *f)
{
	bool color = use_color(f);
	size_t count[ACT_ADOPT + 1] = { 0 };
	size_t n_destroy = 0;
	char b[32];

	if (!p->n && !p->n_notes) {
		fputs("no changes\n", f);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];
		const char *h = o->hosts[a->host].name;
		const char *col = "";
		count[a->kind]++;
		switch (a->kind) {
		case ACT_CREATE: col = "\033[32m"; fprintf(f, "%s+ create %s on %s", color ? col : "", a->vm, h); break;
		case ACT_REMOVE: col = "\033[31m"; fprintf(f, "%s- remove %s on %s", color ? col : "", a->vm, h); break;
		case ACT_START: fprintf(f, "> start %s on %s", a->vm, h); break;
		case ACT_STOP: fprintf(f, "< stop %s on %s", a->vm, h); break;
		case ACT_UPDATE:
			col = "\033[33m";
			fprintf(f, "%s~ update %s on %s:", color ? col : "", a->vm, h);
			for (size_t j = 0; j < a->n_changes; j++)
				fprintf(f, "%s %s %s -> %s", j ? "," : "", a->changes[j].field,
					a->changes[j].from, a->changes[j].to);
			fprintf(f, " (%s)", impact_name(a->impact));
			break;
		case ACT_ADOPT:
			col = "\033[35m";
			fprintf(f, "%s& adopt %s on %s", color ? col : "", a->vm, h);
			for (size_t j = 0; j < a->n_changes; j++)
				fprintf(f, "%s %s %s -> %s", j ? "," : ":", a->changes[j].field,
					a->changes[j].from, a->changes[j].to);
			if (a->n_changes)
				fprintf(f, " (then updated, %s)", impact_name(a->impact));
			break;
		case ACT_MIGRATE:
			col = "\033[36m";
			fprintf(f, "%s=> migrate %s %s -> %s (%s; score %.3f -> %.3f; %s)", color ? col : "",
				a->vm, h, o->hosts[a->dest].name, a->reason ? a->reason : "balance",
				a->score_before, a->score_after, format_size(a->bytes, b));
			break;
		}
		if (a->reason && a->kind != ACT_MIGRATE)
			fprintf(f, " (%s)", a->reason);
		if (a->destroys) {
			n_destroy++;
			fprintf(f, " DESTROYS DATA:");
			for (size_t j = 0; j < a->n_volumes; j++) {
				const char *slash = strrchr(a->volumes[j], '/');
				fprintf(f, "%s %s", j ? "," : "", slash ? slash + 1 : a->volumes[j]);
			}
		} else if (a->kind == ACT_UPDATE && a->impact == IMPACT_RECREATE &&
			   a->spec && a->spec->cfg.n_disks) {
			fprintf(f, " (data disks kept)");
		}
		fputs(color && *col ? "\033[0m\n" : "\n", f);
	}
	for (size_t i = 0; i < p->n_notes; i++)
		fprintf(f, "note: %s\n", p->notes[i]);
	if (!p->n) {
		if (plan_held(p)) {
			struct strbuf sb = STRBUF_INIT;
			plan_held_describe(p, &sb);
			fprintf(f, "no changes can be made; not converged: %s\n", sb.buf);
			strbuf_release(&sb);
		} else {
			fputs("no changes\n", f);
		}
		return;
	}
	fprintf(f, "Plan: %zu to create, %zu to update, %zu to start, %zu to stop, %zu to remove, "
		   "%zu to migrate.", count[ACT_CREATE], count[ACT_UPDATE], count[ACT_START],
		count[ACT_STOP], count[ACT_REMOVE], count[ACT_MIGRATE]);
	if (count[ACT_ADOPT])
		fprintf(f, " %zu to adopt.", count[ACT_ADOPT]);
	if (n_destroy)
		fprintf(f, " %zu destroy%s data.", n_destroy, n_destroy == 1 ? "s" : "");
	if (plan_held(p)) {
		struct strbuf sb = STRBUF_INIT;
		plan_held_describe(p, &sb);
		fprintf(f, " Held back: %s.", sb.buf);
		strbuf_release(&sb);
	}
	if (count[ACT_MIGRATE] || fabs(p->score - p->score_after) > 1e-9)
		fprintf(f, " Imbalance %.3f -> %.3f.", p->score, p->score_after);
	if (count[ACT_MIGRATE]) {
		uint64_t moved = 0;
		char mb[32];
		for (size_t i = 0; i < p->n; i++)
			if (p->actions[i].kind == ACT_MIGRATE)
				moved += p->actions[i].bytes;
		fprintf(f, " Moves copy %s.", format_size(moved, mb));
	}
	fputc('\n', f);
}

static const char *held_kind_name(enum held_kind k)
{
	switch (k) {
	case HELD_UNPLACEABLE: return "unplaceable";
	case HELD_CONSENT: return "consent";
	case HELD_BUDGET: return "budget";
	case HELD_UNSAFE: return "unsafe";
	case HELD_BLOCKED: return "blocked";
	default: return "waiting";
	}
}

void plan_write_json(const struct plan *p, const struct cluster *c, const struct observed *o,
		     struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_int(&w, "format", VEM_JSON_FORMAT);
	jw_kv_string(&w, "cluster", c->name);
	jw_kv_string(&w, "revision", c->revision);
	jw_kv_uint(&w, "changes", p->n);
	jw_kv_bool(&w, "refused", p->refused);
	jw_key(&w, "held");
	jw_object_begin(&w);
	jw_kv_uint(&w, "budget", p->held_budget);
	jw_kv_uint(&w, "consent", p->held_consent);
	jw_kv_uint(&w, "unsafe", p->held_unsafe);
	jw_kv_uint(&w, "unplaceable", p->held_unplaceable);
	jw_kv_uint(&w, "blocked", p->held_blocked);
	jw_kv_uint(&w, "waiting", p->held_waiting);
	jw_object_end(&w);
	jw_key(&w, "held_changes");
	jw_array_begin(&w);
	for (size_t i = 0; i < p->n_held; i++) {
		jw_object_begin(&w);
		jw_kv_string(&w, "kind", held_kind_name(p->held[i].kind));
		jw_kv_string(&w, "vm", p->held[i].vm);
		jw_kv_string(&w, "why", p->held[i].why);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_kv_double(&w, "score", p->score);
	jw_kv_double(&w, "score_after", p->score_after);
	jw_key(&w, "actions");
	jw_array_begin(&w);
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->actions[i];
		jw_object_begin(&w);
		jw_kv_string(&w, "action", act_kind_name(a->kind));
		jw_kv_string(&w, "vm", a->vm);
		jw_kv_string(&w, "host", o->hosts[a->host].name);
		if (a->kind == ACT_MIGRATE) {
			jw_kv_string(&w, "dest", o->hosts[a->dest].name);
			jw_kv_double(&w, "score_before", a->score_before);
			jw_kv_double(&w, "score_after", a->score_after);
			jw_kv_uint(&w, "bytes", a->bytes);
		}
		jw_kv_string(&w, "reason", a->reason);
		if (a->kind == ACT_REMOVE || (a->kind == ACT_UPDATE && a->impact == IMPACT_RECREATE)) {
			jw_kv_bool(&w, "destroys_data", a->destroys);
			jw_key(&w, "deletes_volumes");
			jw_array_begin(&w);
			for (size_t j = 0; j < a->n_volumes; j++)
				jw_string(&w, a->volumes[j]);
			jw_array_end(&w);
		}
		if (a->kind == ACT_UPDATE || a->kind == ACT_ADOPT) {
			jw_kv_string(&w, "impact", impact_name(a->impact));
			jw_key(&w, "changes");
			jw_array_begin(&w);
			for (size_t j = 0; j < a->n_changes; j++) {
				jw_object_begin(&w);
				const struct field_change *fc = &a->changes[j];
				jw_kv_string(&w, "field", fc->field);
				if (fc->numeric) {        /* sizes in bytes, counts */
					jw_kv_uint(&w, "from", fc->from_n);
					jw_kv_uint(&w, "to", fc->to_n);
				} else {
					jw_kv_string(&w, "from", fc->from);
					jw_kv_string(&w, "to", fc->to);
				}
				jw_kv_string(&w, "impact", impact_name(a->changes[j].impact));
				jw_object_end(&w);
			}
			jw_array_end(&w);
		}
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "notes");
	jw_array_begin(&w);
	for (size_t i = 0; i < p->n_notes; i++)
		jw_string(&w, p->notes[i]);
	jw_array_end(&w);
	jw_object_end(&w);
}
