/*
 * plan.c - desired x observed -> plan: the diff, its classification, and
 * how a plan is shown.
 */
#include "place.h"
#include "../util/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = {
	[ACT_CREATE] = "create", [ACT_START] = "start", [ACT_STOP] = "stop",
	[ACT_UPDATE] = "update", [ACT_REMOVE] = "remove", [ACT_MIGRATE] = "migrate",
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

void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct plan_action *a = &p->actions[i];
		free(a->vm);
		free(a->reason);
		for (size_t j = 0; j < a->n_changes; j++) {
			free(a->changes[j].field);
			free(a->changes[j].from);
			free(a->changes[j].to);
		}
		free(a->changes);
	}
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
	return a;
}

static void add_change(struct plan_action *a, const char *field, char *from, char *to,
		       enum impact impact)
{
	a->changes = xrealloc(a->changes, (a->n_changes + 1) * sizeof(*a->changes));
	a->changes[a->n_changes].field = xstrdup(field);
	a->changes[a->n_changes].from = from;
	a->changes[a->n_changes].to = to;
	a->changes[a->n_changes].impact = impact;
	a->n_changes++;
	if (impact > a->impact)
		a->impact = impact;
}

static char *size_str(uint64_t v)
{
	char b[32];
	return xstrdup(format_size(v, b));
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
		add_change(a, "disks", xasprintf("%zu volumes", d->meta.n_volumes),
			   xasprintf("%zu volumes", want_volumes), IMPACT_RECREATE);
	if (c->max_memory != d->max_memory)
		add_change(a, "max-memory", size_str(d->max_memory), size_str(c->max_memory), IMPACT_RESTART);
	if (c->memory != d->memory && c->max_memory == d->max_memory)
		add_change(a, "memory", size_str(d->memory), size_str(c->memory),
			   running ? IMPACT_LIVE : IMPACT_RESTART);
	else if (c->memory != d->memory)
		add_change(a, "memory", size_str(d->memory), size_str(c->memory), IMPACT_RESTART);
	if (c->vcpus != d->vcpus)
		add_change(a, "vcpus", xasprintf("%d", d->vcpus), xasprintf("%d", c->vcpus),
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

static void diff_removals(const struct cluster *c, const struct observed *o,
			  const struct plan_options *opt, struct plan *p, struct load *l)
{
	size_t n_owned = 0, removals = 0, held = 0;

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
		if (!opt->prune)
			continue;
		if (opt->max_removals >= 0 && (int)removals >= opt->max_removals) {
			held++;
			continue;
		}
		a = action(ACT_REMOVE, d->name, NULL, d->host);
		a.reason = xstrdup("not in the cluster file");
		plan_add(p, &a);
		if (d->state == DOM_RUNNING)
			load_remove_vm(l, d->host, NULL, d->max_memory > d->memory ? d->max_memory : d->memory,
				       d->vcpus, d->cpu_load);
		removals++;
	}
	if (held)
		plan_note(p, "%zu more removal%s held back by the cap of %d per run (--max-removals)",
			  held, held == 1 ? "" : "s", opt->max_removals);
}

int plan_build(const struct cluster *c, const struct observed *o, const struct plan_options *opt,
	       struct plan *out, struct errbuf *err)
{
	struct load l;
	struct obs_vm_index ix;
	const struct vm_spec **creates = xcalloc(c->n_vms + 1, sizeof(*creates));
	size_t n_creates = 0;
	bool offline = any_offline(o);

	(void)err;
	memset(out, 0, sizeof(*out));
	load_init(&l, c, o);
	obs_vm_index_init(&ix, o);
	out->score = load_score(&l);

	diff_removals(c, o, opt, out, &l);
	if (out->refused)
		goto done;

	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *vm = &c->vms[i];
		const struct obs_domain *found[8];
		const struct obs_domain *d;
		size_t n = obs_vm_index_find(&ix, vm->name, found, 8);
		struct plan_action a;

		if (n > 8)
			n = 8;
		if (n == 0) {
			if (offline) {
				plan_note(out, "'%s' is not on any reachable host; not creating it while "
					  "a host is unreachable (it may be there)", vm->name);
				continue;
			}
			creates[n_creates++] = vm;
			continue;
		}
		d = primary(found, n);
		for (size_t k = 0; k < n; k++) {
			if (found[k] == d)
				continue;
			a = action(ACT_REMOVE, found[k]->name, NULL, found[k]->host);
			a.reason = xstrdup("duplicate");
			plan_add(out, &a);
		}
		if (!o->hosts[d->host].online)
			continue;
		if (!str_eq(d->meta.spec_hash, vm->spec_hash)) {
			a = action(ACT_UPDATE, vm->name, vm, d->host);
			classify(&a, vm, d);
			plan_add(out, &a);
		}
		if (vm->state == VM_RUNNING && d->state != DOM_RUNNING && d->state != DOM_PAUSED) {
			a = action(ACT_START, vm->name, vm, d->host);
			plan_add(out, &a);
		} else if (vm->state == VM_STOPPED && d->state == DOM_RUNNING) {
			a = action(ACT_STOP, vm->name, vm, d->host);
			a.reason = xstrdup("state: stopped");
			plan_add(out, &a);
		}
	}

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
		if (why.len) {
			char *save = NULL;
			for (char *line = strtok_r(why.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
				plan_note(out, "%s", line);
		}
		strbuf_release(&why);
		free(hosts);
	}
	balance_plan(&l, opt, out);
done:
	out->score_after = load_score(&l);
	load_release(&l);
	obs_vm_index_release(&ix);
	free(creates);
	return 0;
}

/* ---- output ---- */

static bool use_color(FILE *f)
{
	return isatty(fileno(f)) && !getenv("NO_COLOR");
}

void plan_print(const struct plan *p, const struct observed *o, FILE *f)
{
	bool color = use_color(f);
	size_t count[ACT_MIGRATE + 1] = { 0 };
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
		case ACT_MIGRATE:
			col = "\033[36m";
			fprintf(f, "%s=> migrate %s %s -> %s (%s; score %.3f -> %.3f; %s)", color ? col : "",
				a->vm, h, o->hosts[a->dest].name, a->reason ? a->reason : "balance",
				a->score_before, a->score_after, format_size(a->bytes, b));
			break;
		}
		if (a->reason && a->kind != ACT_MIGRATE && a->kind != ACT_STOP)
			fprintf(f, " (%s)", a->reason);
		else if (a->kind == ACT_STOP && a->reason)
			fprintf(f, " (%s)", a->reason);
		fputs(color && *col ? "\033[0m\n" : "\n", f);
	}
	for (size_t i = 0; i < p->n_notes; i++)
		fprintf(f, "note: %s\n", p->notes[i]);
	if (!p->n) {
		fputs("no changes\n", f);
		return;
	}
	fprintf(f, "Plan: %zu to create, %zu to update, %zu to start, %zu to stop, %zu to remove, "
		   "%zu to migrate.", count[ACT_CREATE], count[ACT_UPDATE], count[ACT_START],
		count[ACT_STOP], count[ACT_REMOVE], count[ACT_MIGRATE]);
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

void plan_write_json(const struct plan *p, const struct observed *o, struct strbuf *out)
{
	struct json_writer w;

	jw_init(&w, out, true);
	jw_object_begin(&w);
	jw_kv_uint(&w, "changes", p->n);
	jw_kv_bool(&w, "refused", p->refused);
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
		if (a->kind == ACT_UPDATE) {
			jw_kv_string(&w, "impact", impact_name(a->impact));
			jw_key(&w, "changes");
			jw_array_begin(&w);
			for (size_t j = 0; j < a->n_changes; j++) {
				jw_object_begin(&w);
				jw_kv_string(&w, "field", a->changes[j].field);
				jw_kv_string(&w, "from", a->changes[j].from);
				jw_kv_string(&w, "to", a->changes[j].to);
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
