/*
 * place.c - placement of new VMs: a host for each, by the load model's
 * score and hard constraints (loadmodel.c), or why none takes it.
 */
#include "place.h"
#include "loadmodel_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static __thread char reason_buf[160];

bool place_feasible(const struct load *l, const struct vm_spec *vm, size_t host, const char **reason)
{
	const char *r;
	bool ok = load_fits(l, vm, host, vm->cfg.max_memory, vm->cfg.vcpus, &r, reason_buf,
		       sizeof(reason_buf));
	if (reason)
		*reason = ok ? NULL : r;
	return ok;
}

/* ---- placement ---- */

static int vm_priority(const struct load *l, const struct vm_spec *vm)
{
	int n = 0;
	for (size_t h = 0; h < l->o->n_hosts; h++)
		n += load_host_allowed(vm, &l->o->hosts[h]) && load_host_eligible(&l->o->hosts[h]);
	return n;
}

struct unit {
	size_t first, n;           /* indexes into order[] */
	uint64_t mem;
	int vcpus, allowed;
};

static const struct load *sort_load;
static const struct vm_spec *const *sort_vms;

static int cmp_order(const void *a, const void *b)
{
	const struct vm_spec *x = sort_vms[*(const size_t *)a], *y = sort_vms[*(const size_t *)b];
	int c = strcmp(x->placement.together ? x->placement.together : "",
		       y->placement.together ? y->placement.together : "");
	if (c)
		return c;
	if (x->cfg.max_memory != y->cfg.max_memory)
		return x->cfg.max_memory > y->cfg.max_memory ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	if (x->allowed != y->allowed)
		return x->allowed < y->allowed ? -1 : 1;
	if (x->mem != y->mem)
		return x->mem > y->mem ? -1 : 1;
	return x->first < y->first ? -1 : 1;
}

/*
 * On clusters of more than PLACE_SMALL eligible hosts, a new VM is tried on
 * a bounded set of hosts instead of all: the PLACE_K least used by each
 * weighted metric and by combined pressure (as the balancer's targets),
 * refreshed after every PLACE_REFRESH placements; only its placement.hosts
 * when it names them; and every host when none of those takes it, so a
 * VM is never left out because of the bound.
 */
enum { PLACE_SMALL = 64, PLACE_K = 8, PLACE_REFRESH = 8 };

/* Insert host h with key v into top[0..*n) (ascending, at most k). */
static void top_insert(size_t *top, double *tv, size_t *n, size_t k, size_t h, double v)
{
	size_t pos;
	if (*n == k && v >= tv[k - 1])
		return;
	pos = *n < k ? (*n)++ : k - 1;
	while (pos > 0 && v < tv[pos - 1]) {
		top[pos] = top[pos - 1];
		tv[pos] = tv[pos - 1];
		pos--;
	}
	top[pos] = h;
	tv[pos] = v;
}

/* The candidate hosts for placement: *n of them into out (no repeats). */
static void place_candidates(struct load *l, bool *mark, size_t *out, size_t *n)
{
	const struct load_priv *p = load_priv(l);
	const struct observed *o = l->o;
	size_t top[N_METRICS + 1][PLACE_K], nt[N_METRICS + 1] = { 0 };
	double tv[N_METRICS + 1][PLACE_K], mean[N_METRICS], sd[N_METRICS];

	load_mean_sd(l, mean, sd);
	for (size_t h = 0; h < o->n_hosts; h++) {
		if (!load_host_eligible(&o->hosts[h]))
			continue;
		for (int m = 0; m < N_METRICS; m++)
			if (p->w[m] > 0)
				top_insert(top[m], tv[m], &nt[m], PLACE_K, h, p->u[h][m]);
		top_insert(top[N_METRICS], tv[N_METRICS], &nt[N_METRICS], PLACE_K, h,
			   load_pressure(l, h, mean, sd));
	}
	for (size_t i = 0; i < *n; i++)
		mark[out[i]] = false;
	*n = 0;
	for (int m = 0; m <= N_METRICS; m++)
		for (size_t i = 0; i < nt[m]; i++)
			if (!mark[top[m][i]]) {
				mark[top[m][i]] = true;
				out[(*n)++] = top[m][i];
			}
}

/* Best host for unit u among hosts[0..nh) (all when hosts is NULL), by the
 * resulting score (ties: fewer VMs, then the name); -1 if none fits. */
static long place_best(struct load *l, const struct vm_spec *const *vms, const size_t *order,
		       const struct unit *u, const size_t *hosts, size_t nh)
{
	long best = -1;
	double best_score = 0;
	char buf[160];

	for (size_t k = 0; k < nh; k++) {
		size_t h = hosts ? hosts[k] : k;
		const char *r;
		bool ok = true;
		double sc;
		/* every member must fit, with the ones before it added */
		struct host_load save = l->hosts[h];
		for (size_t j = 0; j < u->n && ok; j++) {
			const struct vm_spec *vm = vms[order[u->first + j]];
			ok = load_fits(l, vm, h, vm->cfg.max_memory, vm->cfg.vcpus, &r, buf, sizeof(buf));
			l->hosts[h].mem_used += vm->cfg.max_memory;
			l->hosts[h].vcpus_used += vm->cfg.vcpus;
		}
		l->hosts[h] = save;
		if (!ok)
			continue;
		sc = load_score_if(l, -1, (long)h, u->mem, u->vcpus, 0);
		if (best < 0 || sc < best_score - 1e-12 ||
		    (fabs(sc - best_score) <= 1e-12 &&
		     (l->hosts[h].n_vms < l->hosts[best].n_vms ||
		      (l->hosts[h].n_vms == l->hosts[best].n_vms &&
		       strcmp(l->o->hosts[h].name, l->o->hosts[best].name) < 0)))) {
			best = (long)h;
			best_score = sc;
		}
	}
	return best;
}


size_t place_vms(struct load *l, const struct vm_spec *const *vms, size_t n, long *hosts,
		 struct strbuf *why)
{
	size_t *order = xcalloc(n + 1, sizeof(*order));
	struct unit *units = xcalloc(n + 1, sizeof(*units));
	size_t nu = 0, placed = 0;
	char buf[160];
	bool bounded = load_priv(l)->n_eligible > PLACE_SMALL;
	size_t *cand = NULL, nc = 0, *by_name = NULL, since = PLACE_REFRESH;
	bool *mark = NULL;

	if (bounded) {
		cand = xcalloc((N_METRICS + 1) * PLACE_K + l->o->n_hosts + 1, sizeof(*cand));
		mark = xcalloc(l->o->n_hosts + 1, sizeof(*mark));
		by_name = xcalloc(l->o->n_hosts + 1, sizeof(*by_name));
		for (size_t h = 0; h < l->o->n_hosts; h++)
			by_name[h] = h;
		qsort_r(by_name, l->o->n_hosts, sizeof(*by_name), load_cmp_host_name, (void *)l->o);
	}

	for (size_t i = 0; i < n; i++) {
		order[i] = i;
		hosts[i] = -1;
	}
	sort_load = l;
	sort_vms = vms;
	qsort(order, n, sizeof(*order), cmp_order);
	/* a unit is one VM, or all the VMs of one together group */
	for (size_t i = 0; i < n;) {
		struct unit *u = &units[nu++];
		const char *tg = vms[order[i]]->placement.together;
		u->first = i;
		do {
			u->mem += vms[order[i]]->cfg.max_memory;
			u->vcpus += vms[order[i]]->cfg.vcpus;
			i++;
		} while (tg && i < n && str_eq(vms[order[i]]->placement.together, tg));
		u->n = i - u->first;
		u->allowed = vm_priority(l, vms[order[u->first]]);
	}
	qsort(units, nu, sizeof(*units), cmp_unit);

	for (size_t k = 0; k < nu; k++) {
		struct unit *u = &units[k];
		const struct vm_spec *first = vms[order[u->first]];
		long best = -1;
		if (bounded && first->placement.n_hosts) {
			size_t *named = cand + (N_METRICS + 1) * PLACE_K;
			best = place_best(l, vms, order, u, named, load_hosts_named(l, by_name, first, named));
		} else if (bounded) {
			if (since++ >= PLACE_REFRESH) {
				place_candidates(l, mark, cand, &nc);
				since = 1;
			}
			best = place_best(l, vms, order, u, cand, nc);
			if (best < 0)
				best = place_best(l, vms, order, u, NULL, l->o->n_hosts);
		} else {
			best = place_best(l, vms, order, u, NULL, l->o->n_hosts);
		}
		if (best >= 0) {
			for (size_t j = 0; j < u->n; j++) {
				size_t idx = order[u->first + j];
				hosts[idx] = best;
				load_add_vm(l, (size_t)best, vms[idx], vms[idx]->cfg.max_memory,
					    vms[idx]->cfg.vcpus, 0);
				placed++;
			}
			continue;
		}
		/* explain, for each VM of the unit, what rules out each host */
		for (size_t j = 0; j < u->n && why; j++) {
			const struct vm_spec *vm = vms[order[u->first + j]];
			strbuf_addf(why, "cannot place '%s'", vm->name);
			if (u->n > 1)
				strbuf_addf(why, " (together group '%s' of %zu VMs must share a host)",
					    vm->placement.together, u->n);
			strbuf_adds(why, ":");
			if (!l->o->n_hosts)
				strbuf_adds(why, " the cluster has no hosts");
			for (size_t h = 0; h < l->o->n_hosts; h++) {
				const char *r = NULL;
				struct host_load save = l->hosts[h];
				if (u->n > 1) {
					l->hosts[h].mem_used += u->mem - vm->cfg.max_memory;
					l->hosts[h].vcpus_used += u->vcpus - vm->cfg.vcpus;
				}
				if (load_fits(l, vm, h, vm->cfg.max_memory, vm->cfg.vcpus, &r, buf, sizeof(buf)))
					r = u->n > 1 ? "the group as a whole does not fit" : "fits";
				l->hosts[h] = save;
				strbuf_addf(why, "%s %s: %s", h ? ";" : "", l->o->hosts[h].name, r);
			}
			strbuf_addc(why, '\n');
		}
	}
	free(order);
	free(units);
	free(cand);
	free(mark);
	free(by_name);
	return placed;
}
