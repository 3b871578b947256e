/*
 * balance.c - the balancer: live migrations that repair placement, even
 * out the load (moves chosen one ahead, swaps) or pack it (pack mode).
 * It reads and updates the load model (loadmodel.c) and returns its moves
 * (balance.h); plan_build adds them to the plan.
 */
#include "balance.h"
#include "loadmodel_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- balancing ---- */

/*
 * Balancing looks for the best move in bounded sets, so that a round costs
 * O(VMs on a few hosts x a few hosts) instead of O(VMs x hosts):
 *
 *  - targets: the TARGETS least loaded eligible hosts by each weighted
 *    metric and by their combined pressure (how far above the mean a host
 *    is, in standard deviations, weighted like the score);
 *  - sources: the most loaded hosts by the same keys, SOURCES[level] of
 *    each; when no move from them gains enough, the next level widens the
 *    sources, up to every host;
 *  - a VM that fits none of the targets is tried on every host it may use,
 *    so a hard constraint never hides a move that exists.
 *
 * Clusters of at most SMALL eligible hosts are searched exhaustively.
 */
enum { TARGETS = 8, SMALL = 64, N_LEVELS = 3 };
static const size_t SOURCES[N_LEVELS] = { 8, 64, (size_t)-1 };

struct cand {
	size_t dom;                /* index into o->domains */
	const struct vm_spec *vm;
	size_t host;               /* where it is now (in this plan) */
	uint64_t mem;
	int vcpus;
	double cpu;
	bool moved;                /* by this plan */
	bool cooling;              /* migrated within the cooldown */
	const struct vem_meta *meta;   /* its metadata (blocked moves) */
	bool blocked;              /* meta has blocked moves */
	bool grouped;              /* in a spread or together group */
	uint64_t disk;             /* host-local disk bytes a move copies */
	int64_t now;
	long prev, next;           /* the candidates on the same host */
	long target;               /* best destination in this round, -1 none */
	double gain;
};

struct balancer {
	struct load *l;
	struct cand *cands;        /* sorted by VM name */
	size_t nc;
	long *head;                /* per host: its first candidate, -1 none */
	bool *is_target, *is_source;   /* per host, this round */
	size_t *targets, nt;
	size_t *by_name;           /* host indexes sorted by name */
	size_t *top;               /* scratch for mark_extremes */
	size_t *eval;              /* candidates evaluated this round */
	double *key;               /* per host scratch */
	bool exhaustive;
	bool descent;              /* plain steepest descent: the best single move */
	bool again;                /* the descent may move a VM a second time */
	double least;              /* the least gain a move needs (min-gain, or less) */
	size_t *mcand;             /* per move of the result: its candidate */
	size_t a_mcand;
};

static void cand_link(struct balancer *b, long i)
{
	struct cand *c = &b->cands[i];
	c->prev = -1;
	c->next = b->head[c->host];
	if (c->next >= 0)
		b->cands[c->next].prev = i;
	b->head[c->host] = i;
}

static void cand_unlink(struct balancer *b, long i)
{
	struct cand *c = &b->cands[i];
	if (c->prev >= 0)
		b->cands[c->prev].next = c->next;
	else
		b->head[c->host] = c->next;
	if (c->next >= 0)
		b->cands[c->next].prev = c->prev;
}

/* Move candidate i to dest, in the load and in the result. */
static void add_migration(struct balance_result *r, struct balancer *b, long i, size_t dest,
			  const char *reason)
{
	struct load *l = b->l;
	struct cand *c = &b->cands[i];
	struct balance_move *a;

	ALLOC_GROW(r->moves, r->n_moves + 1, r->a_moves);
	ALLOC_GROW(b->mcand, r->n_moves + 1, b->a_mcand);
	b->mcand[r->n_moves] = (size_t)i;
	a = &r->moves[r->n_moves++];
	memset(a, 0, sizeof(*a));
	a->vm = c->vm;
	a->host = c->host;
	a->dest = dest;
	a->reason = reason;
	a->bytes = c->mem + c->disk;
	a->score_before = load_score(l);
	load_remove_vm(l, c->host, c->vm, c->mem, c->vcpus, c->cpu);
	load_add_vm(l, dest, c->vm, c->mem, c->vcpus, c->cpu);
	load_sums_recompute(l);
	a->score_after = load_score(l);
	cand_unlink(b, i);
	c->host = dest;
	cand_link(b, i);
	c->moved = true;
}

/* What is the same for every target of a scan. */
struct score_ctx {
	double n, wsum, w[N_METRICS];
	bool on[N_METRICS];         /* the metric counts: !(w <= 0) */
	bool zero;                  /* no eligible host or no weight: 0 */
};

static void score_ctx_init(const struct load_priv *p, struct score_ctx *x)
{
	x->zero = !p->n_eligible || p->wsum <= 0;
	x->n = (double)p->n_eligible;
	x->wsum = p->wsum;
	for (int m = 0; m < N_METRICS; m++) {
		x->w[m] = p->w[m];
		x->on[m] = !(p->w[m] <= 0);
	}
}

/*
 * The scan ranks targets without a division: a metric's variance times n^2
 * is n*sq - sum^2, so the score times n*wsum, the rank, is the sum over the
 * metrics of w * sqrt(n*sq - sum^2). Per target that is three square roots
 * and no division instead of seven divisions, which bound the scan's time
 * (the scan is two fifths of planning at 1,000 x 20,000). The rank only
 * decides which host wins: it orders hosts as the score does to the last
 * few bits, and the scan's tie margin (1e-12 of the score) is far above
 * that. The winner's score is then computed as load_score computes it
 * (load_sums_if, load_score_from), so what the scan returns is its bits.
 * rank_with is load_rank_from(load_sums_if(h, +1, c) on base_sum/base_sq),
 * the same operations in the same order, without the copies of the sums,
 * the per-call checks and the metrics of weight 0: the inner loop of every
 * balancing round.
 */
static inline double rank_term(double n, double w, double base_sum, double base_sq, double u,
			       double pu)
{
	double sum = base_sum + (u - pu);
	double sq = base_sq + (u * u - pu * pu);
	double v = n * sq - sum * sum;
	return w * sqrt(v > 0 ? v : 0);
}

static inline double rank_with(const struct load *l, const struct score_ctx *x, size_t h,
			       const struct cand *c, const double *base_sum, const double *base_sq,
			       double base_rank)
{
	const struct load_priv *p = load_priv(l);
	const struct host_load *hl;
	const double *pu, *inv;
	double s = 0;

	if (x->zero)
		return 0;
	if (!load_host_eligible(&l->o->hosts[h]))
		return base_rank;
	hl = &l->hosts[h];
	pu = p->u[h];
	inv = p->inv[h];
	/* load_rank_from's order, metric 0 to N_METRICS - 1 */
	_Static_assert(M_CPU == 0 && M_MEM == 1 && M_VCPU == 2 && N_METRICS == 3, "metric order");
	if (x->on[M_CPU])
		s += rank_term(x->n, x->w[M_CPU], base_sum[M_CPU], base_sq[M_CPU],
			       (hl->cpu_load + c->cpu) * inv[M_CPU], pu[M_CPU]);
	if (x->on[M_MEM])
		s += rank_term(x->n, x->w[M_MEM], base_sum[M_MEM], base_sq[M_MEM],
			       (double)(hl->mem_used + c->mem) * inv[M_MEM], pu[M_MEM]);
	if (x->on[M_VCPU])
		s += rank_term(x->n, x->w[M_VCPU], base_sum[M_VCPU], base_sq[M_VCPU],
			       (double)(hl->vcpus_used + c->vcpus) * inv[M_VCPU], pu[M_VCPU]);
	return s;
}

/* Best destination for c among hosts[0..n) (all hosts when hosts is NULL),
 * by resulting score; -1 if none fits. c's group membership must be off
 * its host. why (optional) collects each rejected host's reason. */
static long scan_targets(struct load *l, const struct cand *c, const size_t *hosts, size_t n,
			 double *score_out, struct strbuf *why)
{
	const struct load_priv *p = load_priv(l);
	long best = -1;
	double best_rank = 0, tie, base_rank;
	double base_sum[N_METRICS], base_sq[N_METRICS];
	struct score_ctx x;
	char buf[160];

	/* the VM leaving its host is the same for every destination */
	memcpy(base_sum, p->sum, sizeof(base_sum));
	memcpy(base_sq, p->sq, sizeof(base_sq));
	load_sums_if(l, (long)c->host, -1, c->mem, c->vcpus, c->cpu, base_sum, base_sq);
	score_ctx_init(p, &x);
	/* a host that does not count leaves the sums as they are (every rank
	 * is 0 when the score is: the first host that fits wins) */
	base_rank = load_rank_from(p, base_sum, base_sq);
	/* the score's tie margin (1e-12), in rank units */
	tie = x.zero ? 0 : 1e-12 * x.n * x.wsum;
	for (size_t k = 0; k < n; k++) {
		size_t h = hosts ? hosts[k] : k;
		const char *r;
		double rk;
		if (h == c->host)
			continue;
		/* the rank first: the constraints are checked only for a host
		 * that would be the best so far (unless why wants every reason) */
		rk = rank_with(l, &x, h, c, base_sum, base_sq, base_rank);
		if (!why && best >= 0 && !(rk < best_rank - tie))
			continue;
		if (c->blocked) {
			const struct vem_block *bl = vem_meta_blocked(c->meta, l->o->hosts[h].name, c->now,
								      l->c->revision);
			if (bl) {
				if (why)
					strbuf_addf(why, "%s %s: an earlier move failed: %s", why->len ? ";" : "",
						    l->o->hosts[h].name, bl->why);
				continue;
			}
		}
		if (!load_fits(l, c->vm, h, c->mem, c->vcpus, &r, why ? buf : NULL, sizeof(buf))) {
			if (why)
				strbuf_addf(why, "%s %s: %s", why->len ? ";" : "", l->o->hosts[h].name, r);
			continue;
		}
		if (best < 0 || rk < best_rank - tie) {
			best = (long)h;
			best_rank = rk;
		}
	}
	*score_out = 0;
	if (best >= 0) {
		load_sums_if(l, best, +1, c->mem, c->vcpus, c->cpu, base_sum, base_sq);
		*score_out = load_score_from(p, base_sum, base_sq);
	}
	return best;
}

/* Best destination for c other than its host: among this round's targets,
 * else among every host it may use. */
static long best_target(struct balancer *b, struct cand *c, double *score_out, struct strbuf *why)
{
	struct load *l = b->l;
	const struct placement_spec *ps = &c->vm->placement;
	long t = -1;

	/* the VM leaves its host first: its own group membership does not count
	 * (c->grouped: most VMs are in no group, and reading the VM's placement
	 * for each of them is a cache miss per scan) */
	if (c->grouped)
		load_groups_update(l, c->vm, c->host, false);
	if (!why && !b->exhaustive)
		t = scan_targets(l, c, b->targets, b->nt, score_out, NULL);
	if (t < 0 && ps->n_hosts && !why) {
		/* only the hosts it names */
		size_t *allowed = xcalloc(ps->n_hosts + 1, sizeof(*allowed));
		size_t na = load_hosts_named(l, b->by_name, c->vm, allowed);
		t = scan_targets(l, c, allowed, na, score_out, NULL);
		free(allowed);
	} else if (t < 0) {
		t = scan_targets(l, c, NULL, l->o->n_hosts, score_out, why);
	}
	if (c->grouped)
		load_groups_update(l, c->vm, c->host, true);
	return t;
}

static const char *repair_reason(struct load *l, struct cand *c)
{
	const struct obs_host *h = &l->o->hosts[c->host];

	if (h->maintenance)
		return "maintenance";
	if (!load_host_allowed(c->vm, h))
		return "placement";
	if (c->vm->placement.spread &&
	    load_group_count(l, load_group_find(load_priv(l), c->vm->placement.spread, G_SPREAD), c->host) > 1)
		return "spread";
	return NULL;
}

static int cmp_cand_name(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->vm->name, ((const struct cand *)b)->vm->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mark the k eligible hosts with the lowest key (highest when `high`). */
static void mark_extremes(struct balancer *b, const double *key, size_t k, bool high, bool *mark)
{
	const struct observed *o = b->l->o;
	size_t n = 0;

	for (size_t h = 0; h < o->n_hosts; h++) {
		double v = high ? -key[h] : key[h];
		size_t pos;
		if (!load_host_eligible(&o->hosts[h]))
			continue;
		if (n == k && v >= (high ? -key[b->top[n - 1]] : key[b->top[n - 1]]))
			continue;
		pos = n < k ? n++ : k - 1;
		while (pos > 0 && v < (high ? -key[b->top[pos - 1]] : key[b->top[pos - 1]])) {
			b->top[pos] = b->top[pos - 1];
			pos--;
		}
		b->top[pos] = h;
	}
	for (size_t i = 0; i < n; i++)
		mark[b->top[i]] = true;
}

/* This round's targets, and the sources of level `level`. */
static void select_hosts(struct balancer *b, int level)
{
	struct load *l = b->l;
	const struct load_priv *p = load_priv(l);
	const struct observed *o = l->o;
	double mean[N_METRICS], sd[N_METRICS];
	size_t ks = SOURCES[level];

	memset(b->is_source, 0, o->n_hosts * sizeof(*b->is_source));
	if (ks >= o->n_hosts) {
		for (size_t h = 0; h < o->n_hosts; h++)
			b->is_source[h] = true;
	}
	if (level > 0 && ks >= o->n_hosts)
		return;     /* the targets of level 0 still hold */
	/* combined pressure */
	load_mean_sd(l, mean, sd);
	for (size_t h = 0; h < o->n_hosts; h++)
		b->key[h] = load_pressure(l, h, mean, sd);
	if (level == 0)
		memset(b->is_target, 0, o->n_hosts * sizeof(*b->is_target));
	if (level == 0)
		mark_extremes(b, b->key, TARGETS, false, b->is_target);
	if (ks < o->n_hosts)
		mark_extremes(b, b->key, ks, true, b->is_source);
	for (int m = 0; m < N_METRICS; m++) {
		if (p->w[m] <= 0)
			continue;
		for (size_t h = 0; h < o->n_hosts; h++)
			b->key[h] = p->u[h][m];
		if (level == 0)
			mark_extremes(b, b->key, TARGETS, false, b->is_target);
		if (ks < o->n_hosts)
			mark_extremes(b, b->key, ks, true, b->is_source);
	}
	if (level == 0) {
		b->nt = 0;
		for (size_t h = 0; h < o->n_hosts; h++)
			if (b->is_target[h])
				b->targets[b->nt++] = h;
	}
}

/* Move candidate i to dest in the load only (lookahead). */
static void cand_move(struct balancer *b, long i, size_t dest)
{
	struct load *l = b->l;
	struct cand *c = &b->cands[i];

	load_remove_vm(l, c->host, c->vm, c->mem, c->vcpus, c->cpu);
	load_add_vm(l, dest, c->vm, c->mem, c->vcpus, c->cpu);
	load_sums_recompute(l);
	cand_unlink(b, i);
	c->host = dest;
	cand_link(b, i);
}

/* The best single gain from here, among the candidates of pool[]. */
static double best_next_gain(struct balancer *b, const size_t *pool, size_t np, double min_gain)
{
	double cur = load_score(b->l), best = 0;
	for (size_t k = 0; k < np; k++) {
		struct cand *cd = &b->cands[pool[k]];
		double sc;
		long t;
		if (cd->moved || cd->cooling)
			continue;
		t = best_target(b, cd, &sc, NULL);
		if (t >= 0 && cur - sc >= min_gain && cur - sc > best)
			best = cur - sc;
	}
	return best;
}

enum { LOOK_FIRST = 4, LOOK_POOL = 32 };

/* The (at most) k evaluated candidates with the highest gain, best first. */
static size_t top_by_gain(const struct balancer *b, size_t ne, size_t k, size_t *out)
{
	size_t n = 0;
	for (size_t e = 0; e < ne; e++) {
		size_t i = b->eval[e], pos;
		if (n == k && b->cands[i].gain <= b->cands[out[n - 1]].gain)
			continue;
		pos = n < k ? n++ : k - 1;
		while (pos > 0 && b->cands[i].gain > b->cands[out[pos - 1]].gain) {
			out[pos] = out[pos - 1];
			pos--;
		}
		out[pos] = i;
	}
	return n;
}

/*
 * This round's move, chosen one move ahead: each of the LOOK_FIRST moves
 * with the highest gain is made on trial, and the best move that would
 * follow it is found among the LOOK_POOL best candidates of this round. The
 * first move of the pair that gains most wins; among pairs within 0.5% of
 * the best, the one whose first move carries the least memory.
 */
static long lookahead_pick(struct balancer *b, size_t ne, double min_gain)
{
	size_t first[LOOK_FIRST], pool[LOOK_POOL], nf, np = 0;
	long target[LOOK_FIRST];
	double gain[LOOK_FIRST], pair[LOOK_FIRST], best_pair = -1;
	long pick = -1;

	nf = top_by_gain(b, ne, LOOK_FIRST, first);
	np = top_by_gain(b, ne, LOOK_POOL, pool);
	for (size_t e = 0; e < nf; e++) {
		target[e] = b->cands[first[e]].target;
		gain[e] = b->cands[first[e]].gain;
	}
	for (size_t e = 0; e < nf; e++) {
		struct cand *c = &b->cands[first[e]];
		size_t from = c->host;

		cand_move(b, (long)first[e], (size_t)target[e]);
		c->moved = true;
		pair[e] = gain[e] + best_next_gain(b, pool, np, min_gain);
		c->moved = false;
		cand_move(b, (long)first[e], from);
		if (pair[e] > best_pair)
			best_pair = pair[e];
	}
	for (size_t e = 0; e < nf; e++) {
		const struct cand *c = &b->cands[first[e]], *pk = pick >= 0 ? &b->cands[first[pick]] : NULL;
		if (pair[e] < 0.995 * best_pair)
			continue;
		if (!pk || c->mem < pk->mem || (c->mem == pk->mem && pair[e] > pair[pick]))
			pick = (long)e;
	}
	/* the trials overwrote what the round found for these candidates */
	for (size_t e = 0; e < nf; e++) {
		b->cands[first[e]].target = target[e];
		b->cands[first[e]].gain = gain[e];
	}
	return pick >= 0 ? (long)first[pick] : -1;
}

/* One balancing round: the move to make, or -1. */
static long balance_round(struct balancer *b, const struct balance_spec *bs)
{
	struct load *l = b->l;
	const struct observed *o = l->o;
	double cur = load_score(l);

	for (int level = 0; level < N_LEVELS; level++) {
		size_t ne = 0;

		if (b->exhaustive) {
			if (level)
				break;
			for (size_t h = 0; h < o->n_hosts; h++)
				b->is_source[h] = true;
		} else {
			select_hosts(b, level);
		}
		for (size_t h = 0; h < o->n_hosts; h++) {
			if (!b->is_source[h])
				continue;
			for (long i = b->head[h]; i >= 0; i = b->cands[i].next) {
				struct cand *cd = &b->cands[i];
				double sc;
				if ((cd->moved && !b->again) || cd->cooling)
					continue;
				cd->target = best_target(b, cd, &sc, NULL);
				/* a move that copies disks must be worth it: its gain
				 * counts for less per GiB copied (cheap moves first) */
				cd->gain = (cur - sc) / (1.0 + (double)cd->disk / (double)GiB);
				if (cd->target < 0 || cd->gain < b->least)
					continue;
				b->eval[ne++] = (size_t)i;
			}
		}
		if (ne && b->descent) {
			size_t best;
			top_by_gain(b, ne, 1, &best);
			return (long)best;
		}
		if (ne)
			return lookahead_pick(b, ne, bs->min_gain);
	}
	return -1;
}

/*
 * The stopping rule. Steepest descent (always the single move that gains
 * most) is the reference, run on trial from the same state before
 * balancing, under the same constraints, threshold and max-migrations, and
 * undone, twice:
 *
 *  - as hbal runs it (the reference): while any move gains (at least
 *    DESCENT_FLOOR of the score), a VM may move again. Its score and
 *    number of moves are what the search measures itself against;
 *  - as a plan (the fallback): while a move gains min-gain, each VM at
 *    most once. Its moves are kept.
 *
 * The search (one move ahead, swaps) stops as soon as its score is
 * STOP_BETTER below the reference, or, once it has made as many moves as
 * the reference, STOP_AFTER below it (on hosts of different CPU counts,
 * below the lowest of the reference and the descents that count CPU load
 * absolute: descent_alt); otherwise it goes on while a move
 * gains min-gain. Pruning never takes it above the reference. Should it
 * end worse than the fallback, than the longest prefix of the reference
 * that moves no VM twice and gains min-gain at every move (also a plan),
 * or than the reference's net moves (each VM it moved, once, from where it
 * was to where it ends, in an order in which each fits, gaining min-gain
 * per migration on average, as a swap's two must), the search goes on
 * from the better of the first two and from the net moves, and the best of
 * the three results is planned: the result is never worse than steepest
 * descent's, and where hbal moves a VM again, vem moves it once.
 * Why both: the search reaches the descent's score in fewer moves than the
 * descent needs on most clusters and then keeps finding small gains for
 * many more moves; with a reference that goes on like hbal (small gains,
 * VMs moved again), the margins can be small (docs/balancing.md, "the
 * per-shape goals"). The reference costs two more searches, so it is made
 * only on clusters searched exhaustively (at most SMALL eligible hosts);
 * larger ones stop when no move gains min-gain (at 1,000 x 20,000 the
 * search never got 10% below the descent there, and one reference added
 * 30% to the planning time).
 */
#define STOP_BETTER 0.03
#define STOP_AFTER 0.01
#define DESCENT_FLOOR 1e-7

struct descent_path {
	double score;              /* where it ends */
	size_t n;                  /* in n moves: */
	size_t *cand, *dest;       /* candidate and destination of each */
	double once_score;         /* its longest prefix that moves no VM */
	size_t once_n;             /* twice, each move gaining min-gain (a
				    * plan): its score and length */
	size_t net_n;              /* its net moves (each VM from where it was
				    * to where it ends, once), in an order */
	size_t *net_cand, *net_dest;   /* where each fits when made; 0 when
					* there is none or they gain less than
					* min-gain each on average */
};

struct descent {
	struct descent_path ref;   /* as hbal: any gain, VMs move again */
	struct descent_path plan;  /* min-gain, each VM once */
	double score;              /* the best of plan, ref's prefix and, when
				    * there are net moves, ref's score */
	double stop;               /* what the stopping rule measures against: */
	size_t stop_n;             /* ref, or alt when it ends lower (by vem's
				    * score), and its number of moves */
};

/* At the end of the reference, before it is undone: which candidates end
 * away from where they started, and where (net_dest, by candidate). */
static void descent_net_moves(const struct balancer *b, struct descent_path *d)
{
	d->net_cand = xcalloc(d->n + 1, sizeof(*d->net_cand));
	d->net_dest = xcalloc(d->n + 1, sizeof(*d->net_dest));
	d->net_n = 0;
	for (size_t i = 0; i < d->n; i++) {
		size_t c = d->cand[i];
		bool seen = false;
		for (size_t k = 0; k < d->net_n && !seen; k++)
			seen = d->net_cand[k] == c;
		if (!seen) {
			d->net_cand[d->net_n] = c;
			d->net_dest[d->net_n++] = b->cands[c].host;
		}
	}
}

/*
 * Back at the start: the net moves of those that change a VM's host, in an
 * order in which each fits when it is made (the hard constraints as a
 * balancing move meets them), made on trial and undone. A VM the reference
 * moved away and back does not move. When no such order is found, or the
 * net moves gain less than min-gain each on average (as a swap's two
 * must), there are none (net_n 0).
 */
static void descent_net_order(struct balancer *b, const struct balance_spec *bs,
			      struct descent_path *d)
{
	struct load *l = b->l;
	size_t n = 0, done = 0;
	size_t *from;
	double start = load_score(l);
	bool progress = true;

	for (size_t k = 0; k < d->net_n; k++)
		if (b->cands[d->net_cand[k]].host != d->net_dest[k]) {
			d->net_cand[n] = d->net_cand[k];
			d->net_dest[n++] = d->net_dest[k];
		}
	from = xcalloc(n + 1, sizeof(*from));
	while (done < n && progress) {
		progress = false;
		for (size_t k = done; k < n; k++) {
			struct cand *c = &b->cands[d->net_cand[k]];
			size_t tc = d->net_cand[k], td = d->net_dest[k];
			const char *why;
			bool fits;
			load_groups_update(l, c->vm, c->host, false);
			fits = load_fits(l, c->vm, d->net_dest[k], c->mem, c->vcpus, &why, NULL, 0);
			load_groups_update(l, c->vm, c->host, true);
			if (!fits)
				continue;
			from[done] = c->host;
			cand_move(b, (long)tc, td);
			d->net_cand[k] = d->net_cand[done];
			d->net_dest[k] = d->net_dest[done];
			d->net_cand[done] = tc;
			d->net_dest[done] = td;
			done++;
			progress = true;
		}
	}
	if (done < n || start - load_score(l) < (double)n * bs->min_gain)
		n = 0;
	while (done-- > 0)
		cand_move(b, (long)d->net_cand[done], from[done]);
	d->net_n = n;
	free(from);
}

/* Steepest descent on trial from the current state, undone: into d. When
 * prefix is given, its first prefix->once_n moves are made first without a
 * search: the plain descent (again false) makes the same ones, as the
 * reference's prefix moves each VM once and takes at each step the best
 * move of all, which is also the best of those not moved yet, and gains
 * min-gain (descent_reference). */
static void descent_path_run(struct balancer *b, const struct balance_spec *bs, bool again,
			     const struct descent_path *prefix, struct descent_path *d)
{
	struct load *l = b->l;
	size_t cap = again ? 4 * b->nc + 1 : b->nc + 1;
	size_t *from = xcalloc(cap, sizeof(*from));
	bool *was = xcalloc(cap, sizeof(*was));
	size_t n = 0;
	bool once = true;
	double before;

	d->cand = xcalloc(cap, sizeof(*d->cand));
	d->dest = xcalloc(cap, sizeof(*d->dest));
	d->once_score = load_score(l);
	d->once_n = 0;
	b->descent = true;
	b->again = again;
	b->least = again ? DESCENT_FLOOR * load_score(l) : bs->min_gain;
	while ((int)n < bs->max_migrations && n < cap && load_score(l) > bs->threshold) {
		long pick = prefix && n < prefix->once_n ? (long)prefix->cand[n] : balance_round(b, bs);
		if (pick < 0)
			break;
		if (prefix && n < prefix->once_n)
			b->cands[pick].target = (long)prefix->dest[n];
		d->cand[n] = (size_t)pick;
		from[n] = b->cands[pick].host;
		was[n] = b->cands[pick].moved;
		once = once && !was[n];
		d->dest[n++] = (size_t)b->cands[pick].target;
		before = load_score(l);
		cand_move(b, pick, (size_t)b->cands[pick].target);
		b->cands[pick].moved = true;
		/* a move the plain descent makes too: each VM once, gaining
		 * min-gain by the round's measure (disk copies weigh) and in fact */
		once = once && b->cands[pick].gain >= bs->min_gain &&
		       before - load_score(l) >= bs->min_gain;
		if (once) {
			d->once_score = load_score(l);
			d->once_n = n;
		}
	}
	b->descent = false;
	b->again = false;
	b->least = bs->min_gain;
	d->score = load_score(l);
	d->n = n;
	if (again)
		descent_net_moves(b, d);
	while (n-- > 0) {
		cand_move(b, (long)d->cand[n], from[n]);
		b->cands[d->cand[n]].moved = was[n];
	}
	if (again)
		descent_net_order(b, bs, d);
	free(from);
	free(was);
}

/* CPU load per host counted absolute (cores busy over unit CPUs, the same
 * divisor for every host, as hbal's -U load) when unit > 0, else relative
 * (over the host's own CPUs, with host_caps' bits): the utilisations and
 * the sums are computed again. */
static void cpu_count_absolute(struct balancer *b, double unit)
{
	struct load *l = b->l;
	struct load_priv *p = load_priv(l);
	const struct observed *o = l->o;

	for (size_t h = 0; h < o->n_hosts; h++) {
		double inv;
		if (!load_host_eligible(&o->hosts[h]))
			continue;
		inv = unit > 0 ? 1 / unit : o->hosts[h].cpus > 0 ? 1.0 / o->hosts[h].cpus : 0;
		p->inv[h][M_CPU] = inv;
		p->u[h][M_CPU] = l->hosts[h].cpu_load * inv;
	}
	load_sums_recompute(l);
}

/*
 * More references, on clusters whose hosts differ in CPU count: steepest
 * descent as a plan (each move gaining min-gain, each VM once: a sixth
 * cheaper than as hbal runs it, and on the 20 x 250 sweep it lowers the
 * same results and one more) with CPU load counted absolute, as hbal's -U
 * counts it, in units of one host size (its CPUs), once for each CPU count the eligible hosts have (at
 * most ALT_SIZES of them, spread over the range), each descent's end then
 * scored by vem's own score (relative CPU load). On such hosts the descents
 * under the two definitions, and under different units, take different
 * paths and end in local minima far apart (issue 15, mixed seed 30: vem's
 * own descent ends at 0.0305, the absolute ones at 0.0237 to 0.0306 by
 * vem's score); the stopping rule measures the search against the lowest.
 * All are undone; nothing of them is planned. Where all eligible hosts have
 * the same CPUs the absolute load is the relative one and none is run.
 * Cost: one descent per CPU count, on clusters searched exhaustively only.
 */
enum { ALT_SIZES = 6 };

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void descent_alt_one(struct balancer *b, const struct balance_spec *bs, struct descent *d,
			    double unit)
{
	struct load *l = b->l;
	struct descent_path alt = { 0 };
	size_t *from;
	double score;

	cpu_count_absolute(b, unit);
	descent_path_run(b, bs, false, NULL, &alt);
	cpu_count_absolute(b, 0);
	from = xcalloc(alt.n + 1, sizeof(*from));
	for (size_t i = 0; i < alt.n; i++) {
		from[i] = b->cands[alt.cand[i]].host;
		cand_move(b, (long)alt.cand[i], alt.dest[i]);
	}
	score = load_score(l);
	for (size_t i = alt.n; i-- > 0;)
		cand_move(b, (long)alt.cand[i], from[i]);
	/* the lower score, and the more moves: the rule never stops the
	 * search sooner than it would with the reference alone */
	if (score < d->stop) {
		d->stop = score;
		if (alt.n > d->stop_n)
			d->stop_n = alt.n;
	}
	free(from);
	free(alt.cand);
	free(alt.dest);
	free(alt.net_cand);
	free(alt.net_dest);
}

static void descent_alt(struct balancer *b, const struct balance_spec *bs, struct descent *d)
{
	const struct observed *o = b->l->o;
	int *cpus = xcalloc(o->n_hosts + 1, sizeof(*cpus));
	long *seq = NULL;
	double *cpu_was = NULL;
	size_t n = 0, nd = 0, ns = 0;

	if (!(load_priv(b->l)->w[M_CPU] > 0))
		goto out;
	for (size_t h = 0; h < o->n_hosts; h++)
		if (load_host_eligible(&o->hosts[h]) && o->hosts[h].cpus > 0)
			cpus[n++] = o->hosts[h].cpus;
	qsort(cpus, n, sizeof(*cpus), cmp_int);
	for (size_t i = 0; i < n; i++)
		if (!nd || cpus[i] != cpus[nd - 1])
			cpus[nd++] = cpus[i];
	if (nd < 2)
		goto out;
	/* the trials leave each VM where it was, but reorder the hosts' lists
	 * of candidates (the order in which the search meets equal gains) and
	 * round the hosts' CPU load sums differently: both are kept, so that
	 * the search is the same as without them unless the reference changes */
	seq = xcalloc(b->nc + 1, sizeof(*seq));
	cpu_was = xcalloc(o->n_hosts + 1, sizeof(*cpu_was));
	for (size_t h = 0; h < o->n_hosts; h++) {
		cpu_was[h] = b->l->hosts[h].cpu_load;
		for (long i = b->head[h]; i >= 0; i = b->cands[i].next)
			seq[ns++] = i;
	}
	for (size_t k = 0; k < ALT_SIZES && k < nd; k++) {
		size_t i = nd <= ALT_SIZES ? k : k * (nd - 1) / (ALT_SIZES - 1);
		descent_alt_one(b, bs, d, cpus[i]);
	}
	for (size_t h = 0; h < o->n_hosts; h++) {
		b->l->hosts[h].cpu_load = cpu_was[h];
		b->head[h] = -1;
	}
	cpu_count_absolute(b, 0);
	while (ns-- > 0)
		cand_link(b, seq[ns]);
out:
	free(seq);
	free(cpu_was);
	free(cpus);
}

static void descent_reference(struct balancer *b, const struct balance_spec *bs, struct descent *d)
{
	descent_path_run(b, bs, true, NULL, &d->ref);
	descent_path_run(b, bs, false, &d->ref, &d->plan);
	d->score = fmin(d->plan.score, d->ref.once_score);
	if (d->ref.net_n)
		d->score = fmin(d->score, d->ref.score);
	d->stop = d->ref.score;
	d->stop_n = d->ref.n;
	descent_alt(b, bs, d);
}

static void descent_release(struct descent *d)
{
	free(d->ref.cand);
	free(d->ref.dest);
	free(d->ref.net_cand);
	free(d->ref.net_dest);
	free(d->plan.cand);
	free(d->plan.dest);
}

/* Undo the plan's balancing moves from first on. */
static void moves_undo(struct balancer *b, struct balance_result *r, size_t first)
{
	for (size_t i = r->n_moves; i-- > first;) {
		cand_move(b, (long)b->mcand[i], r->moves[i].host);
		b->cands[b->mcand[i]].moved = false;
	}
	r->n_moves = first;
}

/* The plan's balancing moves from first on, to be made again (each fitted
 * when it was made, in this order). */
struct saved_moves {
	size_t n;
	size_t *cand, *dest;
	const char **reason;
};

static void moves_save(const struct balancer *b, const struct balance_result *r, size_t first,
		       struct saved_moves *s)
{
	s->n = r->n_moves - first;
	s->cand = xrealloc(s->cand, (s->n + 1) * sizeof(*s->cand));
	s->dest = xrealloc(s->dest, (s->n + 1) * sizeof(*s->dest));
	s->reason = xrealloc(s->reason, (s->n + 1) * sizeof(*s->reason));
	for (size_t i = 0; i < s->n; i++) {
		s->cand[i] = b->mcand[first + i];
		s->dest[i] = r->moves[first + i].dest;
		s->reason[i] = r->moves[first + i].reason;
	}
}

static void moves_redo(struct balancer *b, struct balance_result *r, const struct saved_moves *s)
{
	for (size_t i = 0; i < s->n; i++)
		add_migration(r, b, (long)s->cand[i], s->dest[i], s->reason[i]);
}

static void moves_release(struct saved_moves *s)
{
	free(s->cand);
	free(s->dest);
	free(s->reason);
}

/* Instead of the search's balancing moves (from first on), the moves of a
 * descent (each fitted when it is made): which 0, the better of the plain
 * descent and the reference's longest prefix that is a plan; which 1, the
 * reference's net moves. False when there are none of that kind. */
static bool descent_instead(struct balancer *b, struct balance_result *r, size_t first,
			    const struct descent *d, int which)
{
	const struct descent_path *p = &d->plan;
	const size_t *cand = p->cand, *dest = p->dest;
	size_t n = p->n;

	if (which == 1) {
		if (!d->ref.net_n)
			return false;
		cand = d->ref.net_cand;
		dest = d->ref.net_dest;
		n = d->ref.net_n;
	} else if (d->ref.once_score < p->score) {
		cand = d->ref.cand;
		dest = d->ref.dest;
		n = d->ref.once_n;
	}
	moves_undo(b, r, first);
	for (size_t i = 0; i < n; i++)
		add_migration(r, b, (long)cand[i], dest[i], "balance");
	return true;
}

/* Whether the search has gone far enough (the stopping rule above). */
static bool balance_done(double score, int moves, double ref, int ref_moves)
{
	return score <= (1 - STOP_BETTER) * ref ||
	       (moves >= ref_moves && score <= (1 - STOP_AFTER) * ref);
}

/*
 * Swaps: exchange two VMs x (on host a) and y (on host b). Both migrations
 * must be possible one after the other (one of them fits first, the other
 * after it) and the pair must gain at least twice min-gain. A swap is taken
 * when it gains more per migration than the best single move, or, when no
 * single move is left, when it gains at least SWAP_ALONE of the score or
 * the score is above the stopping rule's reference. Only the SWAP_HOSTS
 * hosts of highest and of lowest pressure are paired, so a round costs
 * O(SWAP_HOSTS^2 x VMs per host^2).
 * VMs of spread or together groups are not swapped.
 */
enum { SWAP_HOSTS = 6, SWAP_RECHECK = 8 };
#define SWAP_ALONE 0.04     /* share of the score a swap gains when no single move is left */

struct swap {
	long first, second;        /* candidates, in migration order */
	size_t first_dest, second_dest;
	double gain;
};

/* Add to sum/sq the change of host h carrying (dmem, dvcpus, dcpu) more. */
static void sums_shift(const struct load *l, size_t h, double dmem, int dvcpus, double dcpu,
		       double *sum, double *sq)
{
	const struct load_priv *p = load_priv(l);
	const struct host_load *hl = &l->hosts[h];
	double u[N_METRICS];

	if (!load_host_eligible(&l->o->hosts[h]))
		return;
	load_util_of(p, h, (double)hl->mem_used + dmem, hl->vcpus_used + dvcpus, hl->cpu_load + dcpu, u);
	for (int m = 0; m < N_METRICS; m++) {
		sum[m] += u[m] - p->u[h][m];
		sq[m] += u[m] * u[m] - p->u[h][m] * p->u[h][m];
	}
}

/* The k eligible hosts of highest (or lowest) combined pressure. */
static size_t pressure_hosts(struct balancer *b, size_t k, bool high, size_t *out)
{
	struct load *l = b->l;
	const struct observed *o = l->o;
	double mean[N_METRICS], sd[N_METRICS];
	bool *mark = b->is_source;
	size_t n = 0;

	load_mean_sd(l, mean, sd);
	for (size_t h = 0; h < o->n_hosts; h++)
		b->key[h] = load_pressure(l, h, mean, sd);
	memset(mark, 0, o->n_hosts * sizeof(*mark));
	mark_extremes(b, b->key, k, high, mark);
	for (size_t h = 0; h < o->n_hosts && n < k; h++)
		if (mark[h])
			out[n++] = h;
	return n;
}

static bool swappable(const struct cand *c)
{
	return !c->moved && !c->cooling && !c->vm->placement.spread && !c->vm->placement.together;
}

/* Whether x may go to host dest once y has left it. */
static bool fits_after(struct load *l, const struct cand *x, size_t dest, const struct cand *y)
{
	struct host_load save = l->hosts[dest];
	const char *r;
	bool ok;

	l->hosts[dest].mem_used -= y->mem;
	l->hosts[dest].vcpus_used -= y->vcpus;
	ok = load_fits(l, x->vm, dest, x->mem, x->vcpus, &r, NULL, 0);
	l->hosts[dest] = save;
	return ok;
}

static bool swap_best(struct balancer *b, double min_gain, struct swap *best)
{
	struct load *l = b->l;
	const struct load_priv *p = load_priv(l);
	size_t hi[SWAP_HOSTS], lo[SWAP_HOSTS], nhi, nlo;
	double cur = load_score(l);
	/* a pair's score is computed only where its rank (load_rank_from) says
	 * the gain may count; the margin, 1e-9 of the score, is far above
	 * the rank's rounding */
	double nw = (double)p->n_eligible * p->wsum, slack = 1e-9 * cur;

	best->gain = 0;
	best->first = -1;
	nhi = pressure_hosts(b, SWAP_HOSTS, true, hi);
	nlo = pressure_hosts(b, SWAP_HOSTS, false, lo);
	for (size_t i = 0; i < nhi; i++) {
		for (size_t j = 0; j < nlo; j++) {
			size_t a = hi[i], bh = lo[j];
			if (a == bh)
				continue;
			for (long xi = b->head[a]; xi >= 0; xi = b->cands[xi].next) {
				const struct cand *x = &b->cands[xi];
				if (!swappable(x))
					continue;
				for (long yi = b->head[bh]; yi >= 0; yi = b->cands[yi].next) {
					const struct cand *y = &b->cands[yi];
					double sum[N_METRICS], sq[N_METRICS], dm, gain;
					const char *r;
					if (!swappable(y))
						continue;
					dm = (double)y->mem - (double)x->mem;
					memcpy(sum, p->sum, sizeof(sum));
					memcpy(sq, p->sq, sizeof(sq));
					sums_shift(l, a, dm, y->vcpus - x->vcpus, y->cpu - x->cpu, sum, sq);
					sums_shift(l, bh, -dm, x->vcpus - y->vcpus, x->cpu - y->cpu, sum, sq);
					if (load_rank_from(p, sum, sq) >
					    (cur - fmax(2 * min_gain, best->gain) + slack) * nw)
						continue;
					gain = cur - load_score_from(p, sum, sq);
					if (gain < 2 * min_gain || gain <= best->gain)
						continue;
					/* one of them must fit first, the other after it */
					if (load_fits(l, y->vm, a, y->mem, y->vcpus, &r, NULL, 0) &&
					    fits_after(l, x, bh, y)) {
						*best = (struct swap){ yi, xi, a, bh, gain };
					} else if (load_fits(l, x->vm, bh, x->mem, x->vcpus, &r, NULL, 0) &&
						   fits_after(l, y, a, x)) {
						*best = (struct swap){ xi, yi, bh, a, gain };
					}
				}
			}
		}
	}
	return best->first >= 0;
}

/*
 * Pruning: once balancing stops, moves are undone (their VMs stay where
 * they were), the cheapest first, while each undoing raises the final score
 * by less than min-gain or all of them together by at most PRUNE_EPS (1%) of
 * it, and never above cap (the stopping rule's reference, when there is one).
 * The greedy search takes moves that later ones make nearly redundant
 * (swaps whose halves almost cancel, early moves that a later one
 * outdoes); dropping them saves migrations at the same score. A move is
 * undone only when no later move goes to its source host: the VM then
 * stays on a host whose load only falls after it, so every move left fits
 * when it runs, and no spread group gains a member there. The scores of
 * the moves left are computed again by replaying them.
 */
#define PRUNE_EPS 0.01

static size_t prune_moves(struct balancer *b, struct balance_result *r, size_t first,
			  double min_gain, double cap)
{
	struct load *l = b->l;
	size_t nh = l->o->n_hosts, dropped = 0;
	bool *later_in = xcalloc(nh + 1, sizeof(*later_in));
	double spend = PRUNE_EPS * load_score(l);   /* what the undoings may add up to */

	for (;;) {
		double cur = load_score(l), best = INFINITY;
		long pick = -1;
		memset(later_in, 0, (nh + 1) * sizeof(*later_in));
		for (size_t i = r->n_moves; i-- > first;) {
			const struct balance_move *m = &r->moves[i];
			const struct cand *c = &b->cands[b->mcand[i]];
			if (!later_in[m->host]) {
				double d = load_score_if(l, (long)m->dest, (long)m->host, c->mem,
							 c->vcpus, c->cpu) - cur;
				if (d < best) {
					best = d;
					pick = (long)i;
				}
			}
			later_in[m->dest] = true;
		}
		if (pick < 0 || (best >= min_gain && best > spend) || cur + best > cap)
			break;
		if (best > 0)
			spend -= best;
		cand_move(b, (long)b->mcand[pick], r->moves[pick].host);
		memmove(&r->moves[pick], &r->moves[pick + 1],
			(r->n_moves - (size_t)pick - 1) * sizeof(*r->moves));
		memmove(&b->mcand[pick], &b->mcand[pick + 1],
			(r->n_moves - (size_t)pick - 1) * sizeof(*b->mcand));
		r->n_moves--;
		dropped++;
	}
	if (dropped) {
		/* replay the moves left for their scores */
		for (size_t i = r->n_moves; i-- > first;)
			cand_move(b, (long)b->mcand[i], r->moves[i].host);
		for (size_t i = first; i < r->n_moves; i++) {
			struct balance_move *m = &r->moves[i];
			m->score_before = load_score(l);
			cand_move(b, (long)b->mcand[i], m->dest);
			m->score_after = load_score(l);
			if (!strcmp(m->reason, "swap") &&
			    !(i > first && !strcmp(r->moves[i - 1].reason, "swap")) &&
			    !(i + 1 < r->n_moves && !strcmp(r->moves[i + 1].reason, "swap")))
				m->reason = "balance";     /* its other half was dropped */
		}
	}
	free(later_in);
	return dropped;
}

/*
 * Pack mode (balance.mode: pack), as VMware DPM does: empty as many hosts as
 * the constraints allow and say which. Hosts are tried from the least
 * committed memory up; a host is emptied only when all of its VMs find room
 * elsewhere (largest first, each on the fullest host where it fits) without
 * taking any receiving host above 1 - pack-headroom of its memory, vCPUs
 * (x vcpu-overcommit) or CPUs (measured load), and within max-migrations.
 * A host with load vem may not move (foreign domains, VMs in their
 * cooldown or already acted on by the plan, members of together groups)
 * stays. An emptied host receives nothing.
 */
struct packer {
	struct balancer *b;
	double headroom;
	bool *freed;
	long *trial;               /* candidates moved on trial */
	size_t *trial_from, nt;
};

static bool within_headroom(const struct packer *k, size_t h, const struct cand *c)
{
	const struct obs_host *oh = &k->b->l->o->hosts[h];
	const struct host_load *hl = &k->b->l->hosts[h];
	double keep = 1 - k->headroom;
	double mem = oh->memory > oh->reserve ? (double)(oh->memory - oh->reserve) : 0;

	return (double)(hl->mem_used + c->mem) <= keep * mem + 0.5 &&
	       hl->vcpus_used + c->vcpus <= keep * oh->cpus * k->b->l->c->balance.vcpu_overcommit + 1e-9 &&
	       hl->cpu_load + c->cpu <= keep * oh->cpus + 1e-9;
}

/* The fullest host (by memory used, relative) other than from that takes c. */
static long pack_receiver(struct packer *k, const struct cand *c, size_t from)
{
	struct load *l = k->b->l;
	long best = -1;
	double best_u = -1;

	load_groups_update(l, c->vm, from, false);
	for (size_t h = 0; h < l->o->n_hosts; h++) {
		const char *r;
		double u;
		if (h == from || k->freed[h] || !load_host_eligible(&l->o->hosts[h]) || !within_headroom(k, h, c) ||
		    !load_fits(l, c->vm, h, c->mem, c->vcpus, &r, NULL, 0))
			continue;
		u = load_priv(l)->u[h][M_MEM];
		if (u > best_u + 1e-12) {
			best = (long)h;
			best_u = u;
		}
	}
	load_groups_update(l, c->vm, from, true);
	return best;
}

static int cmp_cand_mem_desc(const void *a, const void *b, void *arg)
{
	const struct cand *cands = arg;
	const struct cand *x = &cands[*(const long *)a], *y = &cands[*(const long *)b];
	if (x->mem != y->mem)
		return x->mem > y->mem ? -1 : 1;
	return strcmp(x->vm->name, y->vm->name);
}

static int cmp_host_mem(const void *a, const void *b, void *arg)
{
	const struct load *l = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (l->hosts[x].mem_used != l->hosts[y].mem_used)
		return l->hosts[x].mem_used < l->hosts[y].mem_used ? -1 : 1;
	return strcmp(l->o->hosts[x].name, l->o->hosts[y].name);
}

/* Whether all of host h's VMs can move off it; when so, they have moved
 * (on trial: k->trial lists them). */
static bool pack_try_host(struct packer *k, size_t h, size_t budget)
{
	struct balancer *b = k->b;
	size_t n = 0;
	bool ok = true;

	k->nt = 0;
	for (long i = b->head[h]; i >= 0; i = b->cands[i].next) {
		const struct cand *c = &b->cands[i];
		if (c->moved || c->cooling || c->vm->placement.together)
			return false;
		k->trial[n++] = i;
	}
	if (n != b->l->hosts[h].n_vms || n > budget)
		return false;      /* load vem may not move, or too many moves */
	qsort_r(k->trial, n, sizeof(*k->trial), cmp_cand_mem_desc, b->cands);
	for (size_t j = 0; j < n && ok; j++) {
		long t = pack_receiver(k, &b->cands[k->trial[j]], h);
		if (t < 0) {
			ok = false;
			break;
		}
		k->trial_from[j] = h;
		cand_move(b, k->trial[j], (size_t)t);
		k->nt++;
	}
	if (!ok) {
		while (k->nt > 0) {
			k->nt--;
			cand_move(b, k->trial[k->nt], k->trial_from[k->nt]);
		}
	}
	return ok;
}

static void pack_plan(struct balancer *b, const struct balance_spec *bs, struct balance_result *r,
		      int *moves)
{
	struct load *l = b->l;
	const struct observed *o = l->o;
	struct packer k;
	size_t *order = xcalloc(o->n_hosts + 1, sizeof(*order)), no = 0, nfreed = 0, n_elig = 0;
	struct strbuf names = STRBUF_INIT;

	memset(&k, 0, sizeof(k));
	k.b = b;
	k.headroom = bs->pack_headroom;
	k.freed = xcalloc(o->n_hosts + 1, sizeof(*k.freed));
	k.trial = xcalloc(b->nc + 1, sizeof(*k.trial));
	k.trial_from = xcalloc(b->nc + 1, sizeof(*k.trial_from));
	for (size_t h = 0; h < o->n_hosts; h++) {
		if (!load_host_eligible(&o->hosts[h]))
			continue;
		n_elig++;
		if (!l->hosts[h].n_vms)
			k.freed[h] = true;     /* already empty */
		else
			order[no++] = h;
	}
	qsort_r(order, no, sizeof(*order), cmp_host_mem, l);
	for (size_t i = 0; i < no; i++) {
		size_t h = order[i], budget = bs->max_migrations > *moves ? (size_t)(bs->max_migrations - *moves) : 0;
		if (!pack_try_host(&k, h, budget))
			continue;
		/* undo the trial, then plan the same moves in the same order */
		for (size_t j = k.nt; j-- > 0;)
			cand_move(b, k.trial[j], k.trial_from[j]);
		for (size_t j = 0; j < k.nt; j++) {
			long t;
			t = pack_receiver(&k, &b->cands[k.trial[j]], h);
			if (t < 0)
				break;      /* not reached: the trial found room in this order */
			add_migration(r, b, k.trial[j], (size_t)t, "pack");
			(*moves)++;
		}
		k.freed[h] = true;
	}
	for (size_t h = 0; h < o->n_hosts; h++) {
		if (!k.freed[h])
			continue;
		strbuf_addf(&names, "%s%s", nfreed ? ", " : "", o->hosts[h].name);
		nfreed++;
	}
	if (nfreed)
		r->note = xasprintf("pack: %zu of %zu hosts can be emptied and powered down "
				    "(vem does not power hosts off): %s", nfreed, n_elig, names.buf);
	else
		r->note = xstrdup("pack: no host can be emptied within the constraints and pack-headroom");
	strbuf_release(&names);
	free(order);
	free(k.freed);
	free(k.trial);
	free(k.trial_from);
}

void balance_result_release(struct balance_result *r)
{
	for (size_t i = 0; i < r->n_held; i++)
		free(r->held[i].why);
	free(r->held);
	free(r->moves);
	free(r->note);
	memset(r, 0, sizeof(*r));
}

/*
 * The search: while the score exceeds the threshold and the stopping rule
 * does not stop it, a single move chosen one move ahead or a swap
 * (swap_best), each gaining min-gain. Returns the balancing moves made so
 * far (moves on entry plus those added).
 */
static int balance_search(struct balancer *b, const struct balance_spec *bs, struct balance_result *r,
			  int moves, const struct descent *ds)
{
	struct load *l = b->l;
	int since_swap = 0;
	double swap_hint = INFINITY;

	while (moves < bs->max_migrations && load_score(l) > bs->threshold &&
	       !(b->exhaustive && balance_done(load_score(l), moves, ds->stop, (int)ds->stop_n))) {
		long pick;
		struct swap sw;
		bool have_swap = false;
		pick = balance_round(b, bs);
		/* the best swap gain falls as the load evens out: while the last
		 * one found is below twice this round's single move, skip the
		 * search (but look again every SWAP_RECHECK rounds) */
		if (moves + 2 <= bs->max_migrations &&
		    (pick < 0 || b->cands[pick].gain < swap_hint / 2 || ++since_swap >= SWAP_RECHECK)) {
			have_swap = swap_best(b, bs->min_gain, &sw);
			swap_hint = have_swap ? sw.gain : 0;
			since_swap = 0;
		}
		if (pick >= 0 && (!have_swap || b->cands[pick].gain >= sw.gain / 2)) {
			add_migration(r, b, pick, (size_t)b->cands[pick].target, "balance");
			moves++;
			continue;
		}
		/* with no single move left, a swap must gain markedly: its first
		 * migration may worsen the balance until the second is done;
		 * unless the score is still above the reference's */
		if (!have_swap || (pick < 0 && sw.gain < SWAP_ALONE * load_score(l) &&
				   !(b->exhaustive && load_score(l) > ds->stop)))
			break;
		add_migration(r, b, sw.first, sw.first_dest, "swap");
		add_migration(r, b, sw.second, sw.second_dest, "swap");
		moves += 2;
	}
	return moves;
}

void balance_run(struct load *l, const struct balance_options *opt, struct balance_result *r)
{
	const struct cluster *c = l->c;
	const struct observed *o = l->o;
	const struct balance_spec *bs = &c->balance;
	struct balancer b;
	const char **busy = xcalloc(opt->n_busy + 1, sizeof(*busy));
	int moves = 0;
	size_t first;
	struct descent ds = { 0 };

	memset(&b, 0, sizeof(b));
	b.l = l;
	b.cands = xcalloc(o->n_domains + 1, sizeof(*b.cands));
	b.head = xcalloc(o->n_hosts + 1, sizeof(*b.head));
	b.is_target = xcalloc(o->n_hosts + 1, sizeof(*b.is_target));
	b.is_source = xcalloc(o->n_hosts + 1, sizeof(*b.is_source));
	b.targets = xcalloc(o->n_hosts + 1, sizeof(*b.targets));
	b.by_name = xcalloc(o->n_hosts + 1, sizeof(*b.by_name));
	b.top = xcalloc(o->n_hosts + 1, sizeof(*b.top));
	b.eval = xcalloc(o->n_domains + 1, sizeof(*b.eval));
	b.key = xcalloc(o->n_hosts + 1, sizeof(*b.key));
	b.exhaustive = load_priv(l)->n_eligible <= SMALL;
	b.least = bs->min_gain;
	for (size_t h = 0; h < o->n_hosts; h++) {
		b.head[h] = -1;
		b.by_name[h] = h;
	}
	qsort_r(b.by_name, o->n_hosts, sizeof(*b.by_name), load_cmp_host_name, (void *)o);

	/* movable: owned, running, desired, not already acted on by the plan */
	memset(r, 0, sizeof(*r));
	for (size_t k = 0; k < opt->n_busy; k++)
		busy[k] = opt->busy[k];
	qsort(busy, opt->n_busy, sizeof(*busy), cmp_str);
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		const struct vm_spec *vm = d->owned ? cluster_vm(c, d->meta.vm) : NULL;
		struct cand *cd = &b.cands[b.nc];
		if (!vm || d->state != DOM_RUNNING || !o->hosts[d->host].online)
			continue;
		if (opt->n_busy && bsearch(&vm->name, busy, opt->n_busy, sizeof(*busy), cmp_str))
			continue;
		cd->dom = i;
		cd->vm = vm;
		cd->host = d->host;
		cd->mem = load_dom_memory(d);
		cd->vcpus = d->vcpus;
		cd->cpu = d->cpu_load > 0 ? d->cpu_load : 0;
		cd->cooling = d->meta.migrated_at && opt->now - d->meta.migrated_at < bs->cooldown;
		cd->meta = &d->meta;
		cd->blocked = d->meta.n_blocks > 0;
		cd->grouped = vm->placement.spread || vm->placement.together;
		cd->now = opt->now;
		/* vem's volumes are in pool "default": copied unless it is shared */
		cd->disk = storage_pool_shared(&c->storage, "default") ? 0 : d->disk_bytes;
		b.nc++;
	}
	qsort(b.cands, b.nc, sizeof(*b.cands), cmp_cand_name);
	for (size_t i = b.nc; i-- > 0;)
		cand_link(&b, (long)i);

	/* repairs first: maintenance, disallowed hosts, broken spread groups */
	for (size_t i = 0; i < b.nc; i++) {
		struct cand *cd = &b.cands[i];
		const char *reason = repair_reason(l, cd);
		struct strbuf why = STRBUF_INIT;
		double sc;
		long t;
		if (!reason)
			continue;
		t = best_target(&b, cd, &sc, &why);
		if (t >= 0) {
			add_migration(r, &b, (long)i, (size_t)t, reason);
		} else {
			ALLOC_GROW(r->held, r->n_held + 1, r->a_held);
			r->held[r->n_held].vm = cd->vm;
			r->held[r->n_held++].why = xasprintf("cannot move '%s' off %s (%s): no host fits:%s",
							     cd->vm->name, o->hosts[cd->host].name,
							     reason, why.buf);
		}
		strbuf_release(&why);
	}

	if (!opt->balance || !bs->enabled)
		goto out;
	if (bs->mode == BALANCE_PACK) {
		pack_plan(&b, bs, r, &moves);
		goto out;
	}
	/*
	 * Balancing: while the score exceeds the threshold, take a move chosen
	 * one move ahead (lookahead_pick): of the moves with the highest gains,
	 * the one that leaves the best next move. Each move must gain at least
	 * min-gain. VMs moved in this plan or within the cooldown do not move.
	 * Stop once the score is a margin below what plain steepest descent
	 * reaches (balance_done).
	 */
	first = r->n_moves;
	/* the reference costs two more searches: only where it is exhaustive */
	if (b.exhaustive) {
		descent_reference(&b, bs, &ds);
		r->descent_score = ds.ref.score;
		r->descent_moves = (int)ds.ref.n;
		r->net_moves = (int)ds.ref.net_n;
		r->plain_score = ds.plan.score;
		r->plain_moves = (int)ds.plan.n;
		r->fallback_score = ds.score;
	}
	balance_search(&b, bs, r, moves, &ds);
	prune_moves(&b, r, first, bs->min_gain, b.exhaustive ? ds.stop : INFINITY);
	if (b.exhaustive && load_score(l) > ds.score + 1e-12) {
		/* worse than a descent: of the search, and each descent with
		 * the search again from where it ends, the best (the fewer
		 * moves at an equal score) */
		struct saved_moves best = { 0 };
		double best_score = load_score(l);
		size_t best_n = r->n_moves - first;

		moves_save(&b, r, first, &best);
		for (int which = 0; which < 2; which++) {
			if (!descent_instead(&b, r, first, &ds, which))
				continue;
			balance_search(&b, bs, r, (int)(r->n_moves - first), &ds);
			if (load_score(l) < best_score - 1e-12 ||
			    (load_score(l) < best_score + 1e-12 && r->n_moves - first < best_n)) {
				best_score = load_score(l);
				best_n = r->n_moves - first;
				moves_save(&b, r, first, &best);
			}
		}
		moves_undo(&b, r, first);
		moves_redo(&b, r, &best);
		moves_release(&best);
	}
out:
	descent_release(&ds);
	free(busy);
	free(b.cands);
	free(b.head);
	free(b.is_target);
	free(b.is_source);
	free(b.targets);
	free(b.by_name);
	free(b.top);
	free(b.eval);
	free(b.key);
	free(b.mcand);
}
