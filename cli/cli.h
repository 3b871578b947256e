/*
 * cli.h - command table and shared option parsing of the vem command line.
 */
#ifndef VEM_CLI_H
#define VEM_CLI_H

#include "apply.h"

/* Option groups a command accepts. */
enum {
	OPT_SOURCE   = 1 << 0,   /* -f, --require-signed-by */
	OPT_OUTPUT   = 1 << 1,   /* -o json */
	OPT_PLAN     = 1 << 2,   /* --no-prune --allow-empty --max-removals --no-balance */
	OPT_EXEC     = 1 << 3,   /* -y --max-rounds --per-host --lease-wait --lease-ttl */
	OPT_HOSTS    = 1 << 4,   /* --connect-timeout --shutdown-timeout --sample */
	OPT_OBSERVED = 1 << 5,   /* --observed SNAPSHOT */
	OPT_DETAILED = 1 << 6,   /* --detailed-exitcode */
	OPT_OUTFILE  = 1 << 7,   /* -o FILE */
	OPT_EVERY    = 1 << 8,   /* --every --jitter --once */
	OPT_SAVE     = 1 << 9,   /* plan --out FILE */
	OPT_ARGS     = 1 << 10,  /* positional arguments (apply PLAN) */
};

struct cli_opts {
	const char *output;          /* -o value */
	int64_t every;               /* reconcile --every (ms) */
	int jitter_pct;              /* reconcile --jitter (percent) */
	bool once;
	bool skeleton;               /* observe --skeleton */
	bool source_given;           /* -f was given */
	bool plan_given;             /* a planning option (OPT_PLAN) was given */
	int argc;                    /* positional arguments left */
	char **argv;
};

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;           /* full --help text */
};

/*
 * Parse argv (argv[0] is the command name) accepting the option groups in
 * allowed; fills a (defaults first) and o. Prints the error and returns
 * VEM_EXIT_USAGE on bad input, 0 on success, -1 when --help was printed.
 */
int cli_parse(int argc, char **argv, unsigned allowed, const struct cli_command *cmd,
	      struct apply_args *a, struct cli_opts *o);
const struct cli_command *cli_find(const char *name);

int cmd_validate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_observe(int argc, char **argv);
int cmd_schema(int argc, char **argv);

/* Load the cluster named by a->source (resolving git/https sources);
 * prints errors. NULL on failure. */
struct cluster *cli_load_cluster(const struct apply_args *a);

#endif
