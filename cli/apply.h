/*
 * apply.h - the one path that turns a source into a converged cluster,
 * shared by `vem apply`, `vem plan` and `vem reconcile`.
 *
 * apply_run() resolves the source, loads and validates it, connects to the
 * hosts and takes the cluster's lease (apply only); then the reconcile loop
 * (exec_converge, reconciler/exec.h) runs every round: observe, plan, act.
 * apply_run's hooks show round 1's plan, end the run there when it is a
 * plan only, changes nothing or is refused, and ask (unless yes); later
 * rounds print their plan. It prints to stdout/stderr as the CLI does and
 * returns one of the VEM_EXIT_* codes.
 */
#ifndef VEM_APPLY_H
#define VEM_APPLY_H

#include "reconciler/exec.h"
#include "reconciler/lease.h"

struct saved_plan;

enum {
	VEM_EXIT_OK = 0,        /* done; nothing left to change */
	VEM_EXIT_ERROR = 1,     /* invalid input, failed actions, not converged */
	VEM_EXIT_CHANGES = 2,   /* plan --detailed-exitcode: there are changes */
	VEM_EXIT_PARTIAL = 3,   /* some hosts were unreachable; the rest was reconciled */
	VEM_EXIT_LOCKED = 4,    /* another vem holds the cluster's lease */
	VEM_EXIT_USAGE = 64,    /* bad command line */
};

struct apply_args {
	const char *source;           /* -f: file, directory, git+URL, https:// */
	const char *observed;         /* plan --observed SNAPSHOT (no hosts contacted) */
	const char *require_signed_by;/* keyring: git commits must be signed by it */
	bool execute;                 /* false: plan only */
	bool yes;                     /* do not ask */
	bool json;                    /* -o json */
	bool detailed_exitcode;
	const char *save_to;          /* plan --out FILE: save the plan for vem apply FILE */
	const struct saved_plan *saved; /* apply FILE: carry out exactly this plan */
	struct plan_options plan;
	struct exec_options exec;
	struct hv_options hv;
	struct lease_options lease;
	/*
	 * The long-running mode (cli/watch.c). session_for: a session kept
	 * across rounds; apply_run asks it for the session of the cluster it
	 * loaded instead of opening one, and leaves it open. on_plan: called
	 * with the first observation and plan of the run (drift, metrics,
	 * held-back changes). precheck: observe and plan before taking the
	 * lease, and take it (and observe again) only when there is something
	 * to do, so that a round without drift costs one call per host.
	 */
	struct hv_session *(*session_for)(void *arg, const struct cluster *c);
	void (*on_plan)(void *arg, const struct cluster *c, const struct observed *o,
			const struct plan *p);
	void *hook_arg;
	bool precheck;
	bool precheck_light;          /* ... with hv_observe_light() */
};
void apply_args_default(struct apply_args *a);

struct apply_report {
	char *revision;               /* source revision applied (caller frees) */
	size_t actions, failed;
	int rounds;
	size_t held;                  /* changes held back (budget, consent, unsafe) */
	bool converged, partial;
};

int apply_run(const struct apply_args *a, struct apply_report *rep);
/* The exit code for a run that failed with err: decided by err's kind
 * (util.h), never by its wording. */
int apply_exit_code(const struct errbuf *err);
/* Sampling window: the user's --sample, else the cluster's when balancing. */
void apply_resolve_sampling(struct hv_options *hv, const struct cluster *c,
			    bool balancing);

#endif
