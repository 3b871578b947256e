/*
 * cli.h - command table and shared option parsing of the vem command line.
 */
#ifndef VEM_CLI_H
#define VEM_CLI_H

#include "apply.h"

/*
 * Option groups a command accepts. Every option is one row of the option
 * table in main.c (name, value, group, where it is stored, help text); that
 * table drives parsing, each command's --help, the did-you-mean hints and
 * `vem __complete`, so adding an option is adding a row.
 */
enum {
	OPT_SOURCE   = 1 << 0,   /* -f, --require-signed-by */
	OPT_OUTPUT   = 1 << 1,   /* -o FORMAT (json | text) */
	OPT_PLAN     = 1 << 2,   /* --no-prune --allow-empty --max-removals --no-balance */
	OPT_EXEC     = 1 << 3,   /* -y --max-rounds --per-host --lease-* --shutdown-timeout */
	OPT_HOSTS    = 1 << 4,   /* --connect-timeout --sample */
	OPT_OBSERVED = 1 << 5,   /* --observed SNAPSHOT */
	OPT_DETAILED = 1 << 6,   /* --detailed-exitcode */
	OPT_OUTFILE  = 1 << 7,   /* --out FILE */
	OPT_EVERY    = 1 << 8,   /* --every --jitter --once --watch --metrics-* --log-format --webhook */
	OPT_STRICT   = 1 << 9,   /* --strict (validate: warnings are errors) */
	OPT_SKELETON = 1 << 10,  /* observe --skeleton */
};

struct cli_opts {
	const char *output;          /* -o FORMAT: "json", "text" or NULL */
	const char *out;             /* --out FILE (observe) */
	int64_t every;               /* reconcile --every (ms) */
	int jitter_pct;              /* reconcile --jitter (percent) */
	bool once;
	bool watch;                  /* reconcile --watch: event-driven */
	const char *metrics_listen;  /* reconcile --metrics-listen ADDR:PORT */
	const char *metrics_file;    /* reconcile --metrics-file FILE */
	const char *log_format;      /* reconcile --log-format text|json */
	const char *webhook;         /* reconcile --webhook URL */
	bool strict;                 /* validate --strict */
	bool skeleton;               /* observe --skeleton */
	bool source_given;           /* -f was given */
	bool plan_given;             /* a planning option (OPT_PLAN) was given */
	int argc;                    /* positional arguments left */
	char **argv;
};

struct cli_command {
	const char *name;
	int (*run)(struct apply_args *a, struct cli_opts *o);
	const char *summary;
	unsigned groups;             /* OPT_* the command accepts */
	const char *args;            /* positional arguments for the usage line, or NULL */
	int max_args;                /* how many positional arguments it takes */
	const char *description;     /* --help text between usage and options */
};


/* The commands, one handler each (the rows of commands[] in main.c).
 * main.c parses the command's options from the one option table first
 * (defaults, then argv) and hands the handler the result. */
int cmd_validate(struct apply_args *a, struct cli_opts *o);     /* apply.c */
int cmd_plan(struct apply_args *a, struct cli_opts *o);         /* apply.c */
int cmd_apply(struct apply_args *a, struct cli_opts *o);        /* apply.c */
int cmd_schema(struct apply_args *a, struct cli_opts *o);       /* apply.c */
int cmd_status(struct apply_args *a, struct cli_opts *o);       /* status.c */
int cmd_observe(struct apply_args *a, struct cli_opts *o);      /* status.c */
int cmd_reconcile(struct apply_args *a, struct cli_opts *o);    /* reconcile.c */

/* Load the cluster named by a->source (resolving git/https sources);
 * prints errors. NULL on failure. */
struct cluster *cli_load_cluster(const struct apply_args *a);
/* The same, the problems given to the caller in *errors (when not NULL)
 * instead of printed. */
struct cluster *cli_load_cluster_err(const struct apply_args *a, struct errbuf *errors);

#endif
