/*
 * status.c - `vem status` and `vem observe`: what the hosts run, as a table,
 * JSON, or a snapshot for offline planning.
 */
#include "cli.h"
#include "util/json.h"
#include "reconciler/loadmodel.h"
#include "reconciler/rollout.h"
#include "reconciler/ha.h"
#include "skeleton.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Observe the cluster named by a; prints problems. The session is kept in
 * *keep when keep is not NULL (the caller frees it). */
static struct cluster *observe_cluster(struct apply_args *a, struct observed *obs,
				       int64_t default_sample, struct hv_session **keep,
				       struct ha_state *ha)
{
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c = cli_load_cluster(a);
	struct hv_session *s;

	if (!c)
		return NULL;
	if (a->hv.sample_window < 0)
		a->hv.sample_window = default_sample >= 0 ? default_sample
							  : c->balance.sample_window;
	s = hv_session_open(c, &a->hv);
	if (hv_observe(s, obs, &err)) {
		err_print(&err, stderr, "vem");
		hv_session_free(s);
		cluster_free(c);
		errbuf_release(&err);
		return NULL;
	}
	if (ha) {
		ha_state_init(ha, c);
		ha_state_read(s, c, ha, &err);
	}
	if (keep)
		*keep = s;
	else
		hv_session_free(s);
	errbuf_release(&err);
	return c;
}

enum vm_sync { SYNC_YES, SYNC_NO, SYNC_UNMANAGED };

struct vm_row {
	const char *name;
	const struct obs_domain *d;     /* NULL: not running anywhere */
	const struct vm_spec *spec;     /* NULL: not in the cluster file */
	enum vm_sync sync;
	const char *why;                /* why not in sync */
	int ready;                      /* -1: no probe (ready when running), 0 no, 1 yes */
	const char *unready;            /* why not ready */
};

/* "agent, tcp 22, settle 5s" */
static void readiness_text(const struct readiness_spec *r, struct strbuf *sb)
{
	char b[32];
	if (r->agent)
		strbuf_adds(sb, "agent");
	if (r->tcp > 0)
		strbuf_addf(sb, "%stcp %d", sb->len ? ", " : "", r->tcp);
	if (r->settle > 0)
		strbuf_addf(sb, "%ssettle %s", sb->len ? ", " : "", format_duration(r->settle, b));
}

/* Readiness of each row whose VM has probes and runs. */
static void mark_ready(struct vm_row *rows, size_t n, const struct plan_unready *u, size_t nu)
{
	for (size_t i = 0; i < n; i++) {
		struct vm_row *r = &rows[i];
		r->ready = -1;
		if (!r->spec || !r->d || !r->d->owned || !hv_readiness_probed(&r->spec->cfg.readiness))
			continue;
		r->ready = r->d->state == DOM_RUNNING;
		for (size_t k = 0; k < nu; k++)
			if (str_eq(u[k].vm, r->name)) {
				r->ready = 0;
				r->unready = u[k].why;
			}
		if (!r->ready && !r->unready)
			r->unready = "not running";
		if (!r->ready && !r->why)
			r->why = r->unready;
	}
}

static enum vm_sync row_sync(const struct vm_spec *spec, const struct obs_domain *d,
			     const char **why)
{
	*why = NULL;
	if (d && !d->owned)
		return SYNC_UNMANAGED;
	if (!spec)
		return (*why = "not in the cluster file"), SYNC_NO;
	if (!d)
		return (*why = "missing"), SYNC_NO;
	if (!str_eq(d->meta.spec_hash, spec->spec_hash))
		return (*why = "spec changed"), SYNC_NO;
	if ((spec->state == VM_RUNNING) != (d->state == DOM_RUNNING))
		return (*why = "state differs"), SYNC_NO;
	return SYNC_YES;
}

static const char *sync_name(enum vm_sync s)
{
	return s == SYNC_YES ? "yes" : s == SYNC_NO ? "no" : "-";
}

static size_t collect_rows(const struct cluster *c, const struct observed *o,
			   struct vm_row **out)
{
	struct vm_row *rows = xcalloc(c->n_vms + o->n_domains + 1, sizeof(*rows));
	struct obs_vm_index ix;
	size_t n = 0;

	obs_vm_index_init(&ix, o);
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct obs_domain *d[4];
		size_t k = obs_vm_index_find(&ix, c->vms[i].name, d, 4);
		if (k == 0) {
			rows[n].name = c->vms[i].name;
			rows[n].spec = &c->vms[i];
			rows[n].sync = row_sync(rows[n].spec, NULL, &rows[n].why);
			n++;
		}
		for (size_t j = 0; j < k && j < 4; j++) {
			rows[n].name = c->vms[i].name;
			rows[n].spec = &c->vms[i];
			rows[n].d = d[j];
			rows[n].sync = row_sync(rows[n].spec, d[j], &rows[n].why);
			if (k > 1)
				rows[n].sync = SYNC_NO, rows[n].why = "defined on several hosts";
			n++;
		}
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		if (d->owned && cluster_vm(c, d->meta.vm))
			continue;
		rows[n].name = d->owned ? d->meta.vm : d->name;
		rows[n].d = d;
		rows[n].sync = row_sync(NULL, d, &rows[n].why);
		n++;
	}
	obs_vm_index_release(&ix);
	*out = rows;
	return n;
}

/* What each host carries, by the rule placement uses (reconciler/loadmodel.h):
 * running, paused and wanted-running domains, at their larger memory. */
static void host_totals(const struct load *l, size_t h, uint64_t *mem, int *vcpus,
			double *load, size_t *nvm)
{
	*mem = l->hosts[h].mem_used;
	*vcpus = l->hosts[h].vcpus_used;
	*load = l->hosts[h].cpu_load;
	*nvm = l->hosts[h].n_vms;
}

/* Rows of VMs that the plan holds back say why ("cannot place ..."). */
static void explain_held(struct vm_row *rows, size_t n, const struct plan *p)
{
	for (size_t i = 0; i < n; i++) {
		const char *why;
		if (rows[i].sync != SYNC_NO || !(why = plan_held_why(p, rows[i].name)))
			continue;
		rows[i].why = why;
	}
}

static void status_json(const struct cluster *c, const struct observed *o,
			const struct load *l, const struct vm_row *rows, size_t n,
			const struct ha_state *ha)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	jw_init(&w, &sb, true);
	jw_object_begin(&w);
	jw_kv_int(&w, "format", VEM_JSON_FORMAT);
	jw_kv_string(&w, "cluster", c->name);
	jw_kv_string(&w, "source", c->source);
	jw_kv_string(&w, "revision", c->revision);
	jw_key(&w, "vms");
	jw_array_begin(&w);
	for (size_t i = 0; i < n; i++) {
		const struct vm_row *r = &rows[i];
		jw_object_begin(&w);
		jw_kv_string(&w, "name", r->name);
		jw_kv_string(&w, "domain", r->d ? r->d->name : NULL);
		jw_kv_string(&w, "host", r->d ? o->hosts[r->d->host].name : NULL);
		jw_kv_string(&w, "state", r->d ? dom_state_name(r->d->state) : "missing");
		jw_kv_bool(&w, "managed", !r->d || r->d->owned);
		jw_kv_int(&w, "vcpus", r->d ? r->d->vcpus : 0);
		jw_kv_uint(&w, "memory", r->d ? r->d->memory : 0);
		jw_key(&w, "cpu_percent");
		if (r->d && r->d->cpu_load >= 0)
			jw_double(&w, r->d->cpu_load * 100.0);
		else
			jw_null(&w);
		jw_key(&w, "in_sync");
		if (r->sync == SYNC_UNMANAGED)
			jw_null(&w);
		else
			jw_bool(&w, r->sync == SYNC_YES);
		jw_kv_string(&w, "why", r->why);
		jw_key(&w, "ready");
		if (r->ready < 0)
			jw_null(&w);
		else
			jw_bool(&w, r->ready);
		if (r->spec && hv_readiness_probed(&r->spec->cfg.readiness)) {
			struct strbuf pr = STRBUF_INIT;
			readiness_text(&r->spec->cfg.readiness, &pr);
			jw_kv_string(&w, "probes", pr.buf);
			strbuf_release(&pr);
		}
		jw_kv_string(&w, "not_ready", r->ready == 0 ? r->unready : NULL);
		jw_kv_string(&w, "revision", r->d && r->d->owned ? r->d->meta.revision : NULL);
		jw_key(&w, "blocked_moves");
		jw_array_begin(&w);
		for (size_t k = 0; r->d && r->d->owned && k < r->d->meta.n_blocks; k++) {
			const struct vem_block *bl = &r->d->meta.blocks[k];
			if (bl->until <= time_now_ms())
				continue;
			jw_object_begin(&w);
			jw_kv_string(&w, "host", bl->host);
			jw_kv_int(&w, "until", bl->until);
			jw_kv_string(&w, "why", bl->why);
			jw_object_end(&w);
		}
		jw_array_end(&w);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_key(&w, "hosts");
	jw_array_begin(&w);
	for (size_t h = 0; h < o->n_hosts; h++) {
		const struct obs_host *oh = &o->hosts[h];
		uint64_t mem;
		int vcpus;
		double load;
		size_t nvm;
		host_totals(l, h, &mem, &vcpus, &load, &nvm);
		jw_object_begin(&w);
		jw_kv_string(&w, "name", oh->name);
		jw_kv_string(&w, "uri", oh->uri);
		jw_kv_bool(&w, "online", oh->online);
		jw_kv_string(&w, "error", oh->error);
		jw_kv_bool(&w, "maintenance", oh->maintenance);
		jw_kv_int(&w, "cpus", oh->cpus);
		jw_kv_uint(&w, "memory", oh->memory);
		jw_kv_uint(&w, "committed_memory", mem);
		jw_kv_int(&w, "committed_vcpus", vcpus);
		jw_kv_double(&w, "cpu_load", load);
		jw_kv_uint(&w, "running_vms", nvm);
		if (h < ha->n) {
			const struct ha_host *hh = &ha->hosts[h];
			jw_kv_string(&w, "ha_state", ha_host_state_name(hh->state));
			jw_kv_int(&w, "unreachable_since", hh->since);
			jw_kv_int(&w, "observations_missed", hh->misses);
			jw_kv_int(&w, "fenced_at", hh->fenced_at);
			jw_kv_string(&w, "fence_error", hh->why);
			jw_kv_uint(&w, "stale_copies", hh->n_stale);
		}
		jw_object_end(&w);
	}
	jw_array_end(&w);
	jw_object_end(&w);
	fputs(sb.buf, stdout);
	strbuf_release(&sb);
}

/* "sha256:808e08554dec..." -> "sha256:808e0855", a commit id -> 12 digits */
static const char *short_rev(const char *rev)
{
	static __thread char b[32];
	snprintf(b, sizeof(b), "%.*s", str_starts_with(rev, "sha256:") ? 15 : 12, rev);
	return b;
}

static void status_text(const struct cluster *c, const struct observed *o,
			const struct load *l, const struct vm_row *rows, size_t n,
			const struct ha_state *ha)
{
	char b1[32], b2[32], b3[32];

	printf("cluster '%s' from %s", c->name, c->source);
	if (c->revision)
		printf(" (revision %.12s)", c->revision);
	printf("\n\n%-20s %-8s %-9s %5s %8s %6s %-5s %s\n", "VM", "HOST", "STATE", "VCPUS",
	       "MEMORY", "CPU%", "SYNC", "REVISION");
	for (size_t i = 0; i < n; i++) {
		const struct vm_row *r = &rows[i];
		char cpu[16] = "-";
		if (r->d && r->d->cpu_load >= 0)
			snprintf(cpu, sizeof(cpu), "%.1f", r->d->cpu_load * 100.0);
		printf("%-20s %-8s %-9s %5d %8s %6s %-5s %s%s%s%s\n", r->name,
		       r->d ? o->hosts[r->d->host].name : "-",
		       r->d ? dom_state_name(r->d->state) : "missing",
		       r->d ? r->d->vcpus : 0,
		       r->d ? format_size(r->d->memory, b1) : "-", cpu, sync_name(r->sync),
		       r->d && r->d->owned && r->d->meta.revision ? short_rev(r->d->meta.revision) : "",
		       r->sync == SYNC_UNMANAGED ? "(not managed by vem)" : "",
		       r->why ? "  # " : "", r->why ? r->why : "");
		/* moves that failed deterministically and are not proposed again yet */
		for (size_t k = 0; r->d && r->d->owned && k < r->d->meta.n_blocks; k++) {
			const struct vem_block *bl = &r->d->meta.blocks[k];
			int64_t left = bl->until - time_now_ms();
			if (left > 0)
				printf("  move to %s blocked for %s: %s\n", bl->host,
				       format_duration(left, b3), bl->why);
		}
	}
	printf("\n%-8s %-8s %4s %10s %18s %10s %6s %4s\n", "HOST", "STATE", "CPUS", "MEMORY",
	       "COMMITTED", "VCPUS", "LOAD", "VMS");
	for (size_t h = 0; h < o->n_hosts; h++) {
		const struct obs_host *oh = &o->hosts[h];
		uint64_t mem;
		int vcpus;
		double load;
		size_t nvm;
		char committed[48], vc[24], ld[16];
		host_totals(l, h, &mem, &vcpus, &load, &nvm);
		snprintf(committed, sizeof(committed), "%s (%.0f%%)", format_size(mem, b2),
			 oh->memory ? 100.0 * (double)mem / (double)oh->memory : 0.0);
		snprintf(vc, sizeof(vc), "%d", vcpus);
		snprintf(ld, sizeof(ld), "%.0f%%", oh->cpus ? 100.0 * load / oh->cpus : 0.0);
		const char *hs = h < ha->n && ha->hosts[h].state != HA_UP ?
				 ha_host_state_name(ha->hosts[h].state) : NULL;
		printf("%-8s %-8s %4d %10s %18s %10s %6s %4zu%s%s\n", oh->name,
		       hs ? hs : !oh->online ? "offline" : oh->maintenance ? "maint" : "online",
		       oh->cpus, format_size(oh->memory, b3), committed, vc, ld, nvm,
		       oh->error ? "  # " : "", oh->error ? oh->error : "");
	}
	{
		struct strbuf sb = STRBUF_INIT;
		ha_describe(ha, &sb);
		if (sb.len)
			printf("\n%s", sb.buf);
		strbuf_release(&sb);
	}
}

int cmd_status(struct apply_args *a, struct cli_opts *o)
{
	struct observed obs;
	struct cluster *c;
	struct vm_row *rows = NULL;
	struct load l;
	struct plan plan;
	struct errbuf err = ERRBUF_INIT;
	struct hv_session *s = NULL;
	struct plan_unready *unready = NULL;
	struct ha_state ha;
	size_t n, n_unready = 0;
	int rc = 0;

	memset(&obs, 0, sizeof(obs));
	memset(&plan, 0, sizeof(plan));
	memset(&ha, 0, sizeof(ha));
	c = observe_cluster(a, &obs, 1000, &s, &ha);
	if (!c)
		return VEM_EXIT_ERROR;
	n = collect_rows(c, &obs, &rows);
	load_init(&l, c, &obs);
	a->plan.balance = false;
	/* readiness: every VM with probes is asked */
	n_unready = rollout_probe(s, c, &obs, NULL, 0, &unready);
	a->plan.unready = unready;
	a->plan.n_unready = n_unready;
	a->plan.ha = &ha;
	if (!plan_build(c, &obs, &a->plan, &plan, &err))
		explain_held(rows, n, &plan);
	mark_ready(rows, n, unready, n_unready);
	if (a->json)
		status_json(c, &obs, &l, rows, n, &ha);
	else
		status_text(c, &obs, &l, rows, n, &ha);
	rc = VEM_EXIT_OK;
	for (size_t h = 0; h < obs.n_hosts; h++)
		if (!obs.hosts[h].online)
			rc = VEM_EXIT_PARTIAL;
	free(rows);
	ha_state_release(&ha);
	plan_release(&plan);
	rollout_unready_free(unready, n_unready);
	hv_session_free(s);
	load_release(&l);
	errbuf_release(&err);
	observed_release(&obs);
	cluster_free(c);
	return rc;
}

int cmd_observe(struct apply_args *a, struct cli_opts *o)
{
	struct observed obs;
	struct cluster *c;
	struct strbuf sb = STRBUF_INIT;
	int rc = 0;

	if (o->output && strcmp(o->output, "json")) {
		fprintf(stderr, "vem observe: a snapshot is JSON; '-o %s' is not available\n",
			o->output);
		return VEM_EXIT_USAGE;
	}
	memset(&obs, 0, sizeof(obs));
	c = observe_cluster(a, &obs, -1, NULL, NULL);
	if (!c)
		return VEM_EXIT_ERROR;
	if (o->skeleton)
		observe_skeleton(c, &obs, &sb);
	else
		observed_write_json(&obs, &sb);
	rc = VEM_EXIT_OK;
	if (!o->out || !strcmp(o->out, "-")) {
		fputs(sb.buf, stdout);
	} else {
		FILE *f = fopen(o->out, "w");
		if (!f || fwrite(sb.buf, 1, sb.len, f) != sb.len || fclose(f)) {
			fprintf(stderr, "vem: cannot write '%s': %s\n", o->out, strerror(errno));
			rc = VEM_EXIT_ERROR;
		} else if (vem_verbosity > 0) {
			fprintf(stderr, "observed %zu host%s, %zu domain%s -> %s\n", obs.n_hosts,
				obs.n_hosts == 1 ? "" : "s", obs.n_domains,
				obs.n_domains == 1 ? "" : "s", o->out);
		}
	}
	for (size_t h = 0; rc == VEM_EXIT_OK && h < obs.n_hosts; h++)
		if (!obs.hosts[h].online) {
			fprintf(stderr, "vem: host '%s' is unreachable: %s\n", obs.hosts[h].name,
				obs.hosts[h].error ? obs.hosts[h].error : "unknown error");
			rc = VEM_EXIT_PARTIAL;
		}
	strbuf_release(&sb);
	observed_release(&obs);
	cluster_free(c);
	return rc;
}
