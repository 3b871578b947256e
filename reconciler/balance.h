/*
 * balance.h - live migrations that repair and balance the load: the
 * balancer, on top of the load model (loadmodel.h).
 *
 * balance_run reads a struct load (updating it as it moves VMs) and returns
 * the moves it chose, the repairs no host takes, and a note; it knows
 * nothing of plans: plan_build turns the result into plan actions.
 *
 * Order: repairs first (maintenance hosts, disallowed hosts, broken spread
 * groups), then, by balance.mode, either balancing while the score exceeds
 * the threshold (single moves chosen one move ahead, and swaps of two VMs:
 * reasons "balance" and "swap"; it stops once its score is a margin below
 * what steepest descent, run as hbal runs it, reaches) or packing (reason
 * "pack": hosts emptied within pack-headroom, named in the note). On clusters of more than 64
 * eligible hosts each round searches bounded sets of source and target
 * hosts (docs/balancing.md); hard constraints always hold, and each move
 * fits its destination once the moves before it are done.
 *
 * Ownership: struct balance_result owns its arrays and strings
 * (balance_result_release); vm pointers point into the cluster.
 */
#ifndef VEM_BALANCE_H
#define VEM_BALANCE_H

#include "loadmodel.h"

struct balance_options {
	bool balance;              /* balance or pack (else repairs only) */
	int64_t now;               /* ms since the epoch, for cooldowns */
	/* VMs something else already acts on: they do not move (names) */
	const char *const *busy;
	size_t n_busy;
};

struct balance_move {
	const struct vm_spec *vm;
	size_t host, dest;         /* from, to */
	const char *reason;        /* static: "balance", "swap", "pack", "maintenance", ... */
	uint64_t bytes;            /* what it copies: memory + host-local disks */
	double score_before, score_after;
};

struct balance_unmovable {
	const struct vm_spec *vm;
	char *why;                 /* "cannot move 'x' off h1 (maintenance): no host fits: ..." */
};

struct balance_result {
	struct balance_move *moves;        /* in the order they must run */
	size_t n_moves, a_moves;
	struct balance_unmovable *held;    /* repairs no host takes */
	size_t n_held, a_held;
	char *note;                        /* pack mode's summary, or NULL */
	/* balancing's reference: what steepest descent reaches from the same
	 * state as hbal runs it (any gain, a VM may move again: score, moves);
	 * the search stops a margin below it. plain_*: the same descent with
	 * min-gain, each VM once; net_moves: the reference's net moves (each
	 * VM once, from where it was to where the reference leaves it), 0 when
	 * they are not a plan; fallback_score: the best of the plain descent,
	 * the reference's longest prefix that is a plan and its net moves,
	 * which the result is never worse than (docs/balancing.md). 0 moves
	 * when balancing did not run or the cluster has more than 64 eligible
	 * hosts (no reference there). */
	double descent_score;
	int descent_moves;
	int net_moves;
	double plain_score;
	int plain_moves;
	double fallback_score;
};

void balance_run(struct load *l, const struct balance_options *opt, struct balance_result *out);
void balance_result_release(struct balance_result *r);

#endif
