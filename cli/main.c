/*
 * main.c - vem's command line. Two tables drive everything: commands[]
 * (name, handler, option groups, description) and options[] (one row per
 * option: names, value, group, where it is stored, help). Parsing, each
 * command's --help, the did-you-mean hints for flags and `vem __complete`
 * (read by the shell completions) are generated from them, so they cannot
 * drift apart. Adding an option is adding a row to options[] (a repeatable
 * one, like --allow-destroy PATTERN, uses OK_CALL with a function that
 * appends the value), plus its entry in docs/vem.1 (tests/cli/run checks).
 */
#include "cli.h"

#include <getopt.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_HELP \
	"Exit codes: 0 done or nothing to do; 1 error (bad input, failed actions,\n" \
	"not converged); 2 changes pending (plan --detailed-exitcode); 3 partial: some\n" \
	"hosts were unreachable, the rest was reconciled; 4 another vem holds the\n" \
	"cluster's lease; 64 bad command line.\n"

#define OPT_GLOBAL (~0u)         /* accepted by every command */

static int cmd_help(struct apply_args *a, struct cli_opts *o);
static int cmd_version(struct apply_args *a, struct cli_opts *o);
static int cmd_complete(int argc, char **argv);

static const struct cli_command commands[] = {
	{ "validate", cmd_validate, "check the cluster file; -o json prints the normalised desired state",
	  OPT_SOURCE | OPT_OUTPUT | OPT_STRICT, NULL, 0,
	  "Load and check the cluster description without contacting any host. Prints a\n"
	  "one-line summary, or every problem as file:line:col: message. Warns (exit 0)\n"
	  "about what the file itself makes impossible: placement labels no host has, a\n"
	  "VM larger than every host's declared capacity, a spread group with more\n"
	  "replicas than allowed hosts, two hosts with the same URI.\n" },
	{ "plan", cmd_plan, "show what apply would change",
	  OPT_SOURCE | OPT_OUTPUT | OPT_OUTFILE | OPT_OBSERVED | OPT_DETAILED | OPT_PLAN | OPT_HOSTS,
	  NULL, 0,
	  "Observe every host (or read a snapshot saved by `vem observe`) and print the\n"
	  "actions that apply would take: + create, ~ update, - remove, > start,\n"
	  "< stop, => migrate. Changes nothing. With --out FILE, also save the plan:\n"
	  "'vem apply FILE' carries out exactly that plan, or refuses if anything\n"
	  "changed since.\n" },
	{ "apply", cmd_apply, "change the hosts until they match the cluster file",
	  OPT_SOURCE | OPT_EXEC | OPT_PLAN | OPT_HOSTS, "[PLANFILE]", 1,
	  "Take the cluster's lease, observe, show the plan, ask (unless -y), act, then\n"
	  "observe again and repeat until the cluster converges. One line per action.\n"
	  "With PLANFILE (saved by 'vem plan --out'), carry out exactly that plan without\n"
	  "asking, in one round, or refuse and change nothing when the source's revision,\n"
	  "the hosts or the resulting actions differ from when it was saved.\n" },
	{ "status", cmd_status, "show the cluster: VMs and hosts",
	  OPT_SOURCE | OPT_OUTPUT | OPT_HOSTS, NULL, 0,
	  "VMs: name, host, state, vcpus, memory, CPU %, in sync, source revision.\n"
	  "Hosts: capacity, committed memory and vCPUs, measured load.\n" },
	{ "observe", cmd_observe, "save the observed state of every host as a JSON snapshot",
	  OPT_SOURCE | OPT_OUTPUT | OPT_OUTFILE | OPT_SKELETON | OPT_HOSTS, NULL, 0,
	  "Write what every host runs (hosts, capacity, domains, load) as JSON, for\n"
	  "`vem plan --observed FILE`, what-if balancing and bug reports. With\n"
	  "--skeleton, print a cluster file for the domains the hosts run instead.\n" },
	{ "reconcile", cmd_reconcile, "apply in a loop (timer, GitOps)",
	  OPT_SOURCE | OPT_EVERY | OPT_EXEC | OPT_PLAN | OPT_HOSTS, NULL, 0,
	  "Resolve the source, load it and apply without asking, every DUR, printing one\n"
	  "line per round. With --watch, keep the connections, follow libvirt's domain\n"
	  "events and reconcile as soon as drift appears (DUR is then the safety net).\n"
	  "Stops cleanly between actions on SIGTERM or SIGINT; SIGHUP reads the source\n"
	  "again and reconnects at once.\n" },
	{ "schema", cmd_schema, "print the JSON Schema of the cluster file (for editors)",
	  0, NULL, 0,
	  "Print the JSON Schema of the cluster file format, generated from the loader's\n"
	  "own key tables. Point YAML language servers at it.\n" },
	{ "help", cmd_help, "show help for a command", 0, "[COMMAND]", 1,
	  "Without COMMAND, list the commands; with one, describe it and its options.\n" },
	{ "version", cmd_version, "print the version", 0, NULL, 0,
	  "Print vem's version and the version of libvirt it runs with.\n" },
};

/* hidden: not listed by --help; used by the shell completions */
static const struct cli_command cmd_complete_def = {
	"__complete", NULL, NULL, 0, "[COMMAND]", 1, NULL,   /* raw argv: cmd_complete */
};

/* ---- the option table ---- */

enum opt_kind {
	OK_STR,          /* const char * = the value */
	OK_TRUE,         /* bool = true */
	OK_FALSE,        /* bool = false */
	OK_INT,          /* int, whole number >= min */
	OK_DURATION,     /* int64_t milliseconds */
	OK_VERBOSE,      /* vem_verbosity++ */
	OK_QUIET,        /* vem_verbosity = 0 */
	OK_HELP,         /* print the command's help */
	OK_CALL,         /* call set(value, a, o): lists, repeatable options */
};

enum opt_where { IN_ARGS, IN_OPTS };

struct cli_option {
	const char *name;        /* long name, without "--" */
	char short_name;         /* 0: none */
	const char *value;       /* the value's name in help (NULL: takes none) */
	unsigned group;          /* OPT_* or OPT_GLOBAL */
	enum opt_kind kind;
	enum opt_where where;    /* struct apply_args or struct cli_opts */
	size_t off;              /* offset of the field in it */
	int min;                 /* OK_INT */
	const char *help;        /* lines separated by \n */
	/* OK_CALL: store the value (e.g. append to a list); 0, or -1 after
	 * printing why the value is bad */
	int (*set)(const char *value, struct apply_args *a, struct cli_opts *o);
};

/* Repeatable options keep their values (pointers into argv) here. */
#define MAX_LIST_OPTION 256
static const char *allow_destroy[MAX_LIST_OPTION];
static const char *targets[MAX_LIST_OPTION];
static const char *adopt[MAX_LIST_OPTION];

static int add_to_list(const char *name, const char *v, const char **list,
		       const char *const **field, size_t *n)
{
	if (!*v || *n >= MAX_LIST_OPTION) {
		fprintf(stderr, "vem: option '--%s': expected a VM name or pattern (at most %d)\n",
			name, MAX_LIST_OPTION);
		return -1;
	}
	list[(*n)++] = v;
	*field = list;
	return 0;
}

static int add_allow_destroy(const char *v, struct apply_args *a, struct cli_opts *o)
{
	(void)o;
	return add_to_list("allow-destroy", v, allow_destroy, &a->plan.allow_destroy,
			   &a->plan.n_allow_destroy);
}

static int add_target(const char *v, struct apply_args *a, struct cli_opts *o)
{
	(void)o;
	return add_to_list("target", v, targets, &a->plan.targets, &a->plan.n_targets);
}

static int add_adopt(const char *v, struct apply_args *a, struct cli_opts *o)
{
	(void)o;
	return add_to_list("adopt", v, adopt, &a->plan.adopt, &a->plan.n_adopt);
}

#define A(field) IN_ARGS, offsetof(struct apply_args, field)
#define O(field) IN_OPTS, offsetof(struct cli_opts, field)

/* In the order --help lists them. */
static const struct cli_option options[] = {
	{ "file", 'f', "SOURCE", OPT_SOURCE, OK_STR, A(source), 0,
	  "cluster file, directory, git+URL[//dir][?ref=R] or\n"
	  "https:// URL (default: ./cluster.yaml)", NULL },
	{ "require-signed-by", 0, "KEYRING", OPT_SOURCE, OK_STR, A(require_signed_by), 0,
	  "refuse a git source whose commit is not signed by\n"
	  "a key in KEYRING", NULL },
	{ "output", 'o', "FORMAT", OPT_OUTPUT, OK_STR, O(output), 0,
	  "output format: json (machine-readable) or text\n"
	  "(default: text; observe writes json)", NULL },
	{ "out", 0, "FILE", OPT_OUTFILE, OK_STR, O(out), 0,
	  "observe: write the snapshot to FILE instead of\n"
	  "standard output; plan: also save the plan to FILE\n"
	  "for 'vem apply FILE'", NULL },
	{ "strict", 0, NULL, OPT_STRICT, OK_TRUE, O(strict), 0,
	  "treat warnings as errors (exit 1)", NULL },
	{ "observed", 0, "SNAPSHOT", OPT_OBSERVED, OK_STR, A(observed), 0,
	  "plan against a saved snapshot; no host is contacted", NULL },
	{ "detailed-exitcode", 0, NULL, OPT_DETAILED, OK_TRUE, A(detailed_exitcode), 0,
	  "exit 0 when there is nothing to do, 2 when there are\n"
	  "changes (or changes held back), 1 on error", NULL },
	{ "every", 0, "DUR", OPT_EVERY, OK_DURATION, O(every), 0,
	  "time between rounds (default 60s)", NULL },
	{ "jitter", 0, "PCT", OPT_EVERY, OK_INT, O(jitter_pct), 0,
	  "random extra delay, up to PCT% of DUR (default 10)", NULL },
	{ "once", 0, NULL, OPT_EVERY, OK_TRUE, O(once), 0,
	  "one round, then exit with its code", NULL },
	{ "watch", 0, NULL, OPT_EVERY, OK_TRUE, O(watch), 0,
	  "event-driven: keep the connections, follow libvirt's\n"
	  "domain events and reconcile as soon as drift appears;\n"
	  "--every is then the safety net", NULL },
	{ "metrics-listen", 0, "ADDR:PORT", OPT_EVERY, OK_STR, O(metrics_listen), 0,
	  "serve Prometheus metrics on http://ADDR:PORT/metrics", NULL },
	{ "metrics-file", 0, "FILE", OPT_EVERY, OK_STR, O(metrics_file), 0,
	  "write Prometheus metrics to FILE after every round\n"
	  "(node_exporter's textfile collector)", NULL },
	{ "log-format", 0, "FORMAT", OPT_EVERY, OK_STR, O(log_format), 0,
	  "text (default) or json: one JSON line per round,\n"
	  "action, refusal and state change", NULL },
	{ "webhook", 0, "URL", OPT_EVERY, OK_STR, O(webhook), 0,
	  "also POST each event's JSON to URL", NULL },
	{ "yes", 'y', NULL, OPT_EXEC, OK_TRUE, A(yes), 0,
	  "do not ask before acting", NULL },
	{ "max-rounds", 0, "N", OPT_EXEC, OK_INT, A(exec.max_rounds), 1,
	  "observe-plan-act rounds until converged (default 5)", NULL },
	{ "per-host", 0, "N", OPT_EXEC, OK_INT, A(exec.per_host), 1,
	  "actions at once on one host (default 2)", NULL },
	{ "lease-wait", 0, "DUR", OPT_EXEC, OK_DURATION, A(lease.wait), 0,
	  "wait this long for another vem's lease (default 60s)", NULL },
	{ "lease-ttl", 0, "DUR", OPT_EXEC, OK_DURATION, A(lease.ttl), 0,
	  "a lease not renewed for DUR is dead (default 30s)", NULL },
	{ "shutdown-timeout", 0, "DUR", OPT_EXEC, OK_DURATION, A(hv.shutdown_timeout), 0,
	  "graceful shutdown time before destroy (default 30s)", NULL },
	{ "no-prune", 0, NULL, OPT_PLAN, OK_FALSE, A(plan.prune), 0,
	  "keep owned VMs that left the cluster file", NULL },
	{ "allow-empty", 0, NULL, OPT_PLAN, OK_TRUE, A(plan.allow_empty), 0,
	  "allow a cluster file with no VMs (removes all owned VMs)", NULL },
	{ "max-removals", 0, "N", OPT_PLAN, OK_INT, A(plan.max_removals), -1,
	  "removal budget of one run, all rounds together:\n"
	  "removals and recreates (default 10, -1: no cap)", NULL },
	{ "allow-destroy", 0, "VM", OPT_PLAN, OK_CALL, A(plan), 0,
	  "allow deleting the data disks of VM (a name or a\n"
	  "shell pattern; repeatable): removals and recreates\n"
	  "that delete a data volume are held back otherwise", add_allow_destroy },
	{ "target", 0, "VM", OPT_PLAN, OK_CALL, A(plan), 0,
	  "plan only VM (a VM or group name, or a shell pattern;\n"
	  "repeatable); no balancing or repairs", add_target },
	{ "adopt", 0, "VM", OPT_PLAN, OK_CALL, A(plan), 0,
	  "adopt the domain named like VM (a VM or group name,\n"
	  "or a shell pattern; repeatable) when it has no vem\n"
	  "metadata: written without a restart", add_adopt },
	{ "skeleton", 0, NULL, OPT_SKELETON, OK_TRUE, O(skeleton), 0,
	  "print a cluster file for the domains the hosts run\n"
	  "(each VM with adopt: true) instead of JSON", NULL },
	{ "no-balance", 0, NULL, OPT_PLAN, OK_FALSE, A(plan.balance), 0,
	  "plan no balancing migrations (repairs still happen)", NULL },
	{ "connect-timeout", 0, "DUR", OPT_HOSTS, OK_DURATION, A(hv.connect_timeout), 0,
	  "give up on an unreachable host after DUR (default 5s)", NULL },
	{ "sample", 0, "DUR", OPT_HOSTS, OK_DURATION, A(hv.sample_window), 0,
	  "measure CPU load over DUR (default: balance.sample-window)", NULL },
	{ "verbose", 'v', NULL, OPT_GLOBAL, OK_VERBOSE, IN_OPTS, 0, 0,
	  "more detail (repeat for timings)", NULL },
	{ "quiet", 'q', NULL, OPT_GLOBAL, OK_QUIET, IN_OPTS, 0, 0,
	  "errors only", NULL },
	{ "help", 'h', NULL, OPT_GLOBAL, OK_HELP, IN_OPTS, 0, 0,
	  "show this help", NULL },
};

/* Flags other tools use, and what vem calls them. to: an option of vem
 * (suggested when the command accepts it), or a sentence. */
static const struct {
	const char *from, *to;
} option_aliases[] = {
	{ "auto-approve", "--yes" },          /* terraform */
	{ "assume-yes", "--yes" },            /* apt */
	{ "non-interactive", "--yes" },
	{ "force", "--yes" },
	{ "dry-run", "'vem plan' shows what would change without changing it" },
	{ "check", "'vem plan --detailed-exitcode' exits 2 when there are changes" },
	{ "json", "-o json" },
	{ "format", "-o" },
	{ "config", "--file" },
	{ "cluster", "--file" },
	{ "output-file", "--out" },
	{ "outfile", "--out" },
	{ "version", "'vem version' (or 'vem --version' before the command)" },
	{ "debug", "--verbose" },
	{ "silent", "--quiet" },
	{ "timeout", "--connect-timeout" },
	{ "snapshot", "--observed" },
	{ "interval", "--every" },
	{ "events", "--watch" },
	{ "prometheus", "--metrics-listen" },
};

static bool cmd_accepts(const struct cli_command *cmd, const struct cli_option *op)
{
	return op->group == OPT_GLOBAL || (op->group & cmd->groups);
}

static const struct cli_option *option_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (!strcmp(options[i].name, name))
			return &options[i];
	return NULL;
}

static const struct cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	if (!strcmp(name, cmd_complete_def.name))
		return &cmd_complete_def;
	return NULL;
}

/* ---- help ---- */

static void print_option(FILE *f, const struct cli_option *op)
{
	char left[64];
	const char *h = op->help;
	int n;

	if (op->short_name)
		n = snprintf(left, sizeof(left), "  -%c, --%s%s%s", op->short_name, op->name,
			     op->value ? " " : "", op->value ? op->value : "");
	else
		n = snprintf(left, sizeof(left), "      --%s%s%s", op->name,
			     op->value ? " " : "", op->value ? op->value : "");
	if (n > 27)
		fprintf(f, "%s\n%28s", left, "");
	else
		fprintf(f, "%-28s", left);
	while (*h) {
		size_t len = strcspn(h, "\n");
		fprintf(f, "%.*s\n", (int)len, h);
		h += len;
		if (*h == '\n' && *++h)
			fprintf(f, "%28s", "");
	}
}

static void cmd_usage(const struct cli_command *cmd, FILE *f)
{
	bool any = false;

	fprintf(f, "usage: vem %s", cmd->name);
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (options[i].group != OPT_GLOBAL && cmd_accepts(cmd, &options[i]))
			any = true;
	fprintf(f, "%s%s%s\n\n", any ? " [OPTIONS]" : " [-v | -q]",
		cmd->args ? " " : "", cmd->args ? cmd->args : "");
	if (cmd->description)
		fprintf(f, "%s\n", cmd->description);
	if (any) {
		fputs("Options:\n", f);
		for (size_t i = 0; i < ARRAY_SIZE(options); i++)
			if (options[i].group != OPT_GLOBAL && cmd_accepts(cmd, &options[i]))
				print_option(f, &options[i]);
		fputc('\n', f);
	}
	fputs("Global options:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (options[i].group == OPT_GLOBAL)
			print_option(f, &options[i]);
	fputs("\n" EXIT_HELP, f);
}

static void usage_main(FILE *f)
{
	fprintf(f, "usage: vem [-v | -q] [--version] [--help] COMMAND [OPTIONS]\n\n"
		   "vem keeps libvirt hosts running exactly the VMs a YAML cluster file\n"
		   "describes: it observes every host, plans, and creates, updates, removes\n"
		   "or live-migrates VMs until they agree.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nGlobal options: -v, --verbose (more detail), -q, --quiet (errors only).\n"
		   "`vem COMMAND --help` describes each command.\n\n" EXIT_HELP);
}

/* ---- did you mean ---- */

/* Print the hint for an unknown option tok ("--yess", "--dry-run=x", "-x"). */
static void suggest_option(const struct cli_command *cmd, const char *tok)
{
	char name[64];
	const char *best = NULL, *other_cmd = NULL;
	size_t best_d = (size_t)-1, len;

	if (strncmp(tok, "--", 2))
		return;
	len = strcspn(tok + 2, "=");
	if (len == 0 || len >= sizeof(name))
		return;
	memcpy(name, tok + 2, len);
	name[len] = '\0';

	for (size_t i = 0; i < ARRAY_SIZE(option_aliases); i++) {
		const struct cli_option *op;
		const char *to = option_aliases[i].to;
		if (strcmp(option_aliases[i].from, name))
			continue;
		if (to[0] != '-') {
			fprintf(stderr, "hint: %s\n", to);
			return;
		}
		op = option_by_name(to[1] == '-' ? to + 2 : "output");
		if (op && cmd_accepts(cmd, op)) {
			fprintf(stderr, "hint: did you mean '%s'?\n", to);
			return;
		}
		if (op && !strcmp(op->name, "yes"))
			fprintf(stderr, "hint: 'vem %s' does not act; 'vem apply --yes' does\n",
				cmd->name);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		size_t d;
		if (!cmd_accepts(cmd, &options[i]))
			continue;
		d = str_edit_distance(name, options[i].name);
		if (d < best_d) {
			best_d = d;
			best = options[i].name;
		}
	}
	if (best && best_d <= 2 && best_d < len) {
		fprintf(stderr, "hint: did you mean '--%s'?\n", best);
		return;
	}
	/* an option of another command, or close to one */
	best = NULL;
	best_d = (size_t)-1;
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		size_t d = str_edit_distance(name, options[i].name);
		if (d < best_d && d <= 2 && d < len) {
			best_d = d;
			best = options[i].name;
		}
	}
	for (size_t k = 0; best && k < ARRAY_SIZE(commands) && !other_cmd; k++)
		if (cmd_accepts(&commands[k], option_by_name(best)))
			other_cmd = commands[k].name;
	if (other_cmd && best_d == 0)
		fprintf(stderr, "hint: '--%s' is an option of 'vem %s'\n", best, other_cmd);
	else if (other_cmd)
		fprintf(stderr, "hint: did you mean '--%s'? it is an option of 'vem %s'\n",
			best, other_cmd);
}

/* ---- parsing ---- */

static int set_option(const struct cli_option *op, const char *v, const struct cli_command *cmd,
		      struct apply_args *a, struct cli_opts *o)
{
	void *p = (op->where == IN_ARGS ? (char *)a : (char *)o) + op->off;
	const char *why;
	int64_t n;

	switch (op->kind) {
	case OK_STR: *(const char **)p = v; return 0;
	case OK_TRUE: *(bool *)p = true; return 0;
	case OK_FALSE: *(bool *)p = false; return 0;
	case OK_VERBOSE: vem_verbosity++; return 0;
	case OK_QUIET: vem_verbosity = 0; return 0;
	case OK_HELP: cmd_usage(cmd, stdout); return -1;
	case OK_CALL: return op->set(v, a, o) ? VEM_EXIT_USAGE : 0;
	case OK_INT:
		if (parse_int64(v, &n) || n < op->min || n > 1000000) {
			fprintf(stderr, "vem %s: option '--%s': expected a whole number >= %d, "
				"found '%s'\n", cmd->name, op->name, op->min, v);
			return VEM_EXIT_USAGE;
		}
		*(int *)p = (int)n;
		return 0;
	case OK_DURATION:
		if (parse_duration(v, (int64_t *)p, &why)) {
			fprintf(stderr, "vem %s: option '--%s': '%s': %s\n", cmd->name, op->name,
				v, why);
			return VEM_EXIT_USAGE;
		}
		return 0;
	}
	return VEM_EXIT_USAGE;
}

/*
 * Parse argv (argv[0] is the command name) accepting cmd's option groups;
 * fills a (defaults first) and o. Prints the error (with a did-you-mean for
 * an unknown option) and returns VEM_EXIT_USAGE on bad input, 0 on
 * success, -1 when --help was printed.
 */
static int cli_parse(int argc, char **argv, const struct cli_command *cmd,
		     struct apply_args *a, struct cli_opts *o)
{
	struct option longopts[ARRAY_SIZE(options) + 1];
	const struct cli_option *byval[ARRAY_SIZE(options)];
	char shortopts[2 * ARRAY_SIZE(options) + 3] = "+:";
	size_t n = 0, ns = 2;
	int c, idx, bad = 0, r;

	apply_args_default(a);
	memset(o, 0, sizeof(*o));
	o->every = 60000;
	o->jitter_pct = 10;
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		const struct cli_option *op = &options[i];
		if (!cmd_accepts(cmd, op))
			continue;
		byval[n] = op;
		longopts[n].name = op->name;
		longopts[n].has_arg = op->value ? required_argument : no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 256 + (int)n;
		n++;
		if (op->short_name) {
			shortopts[ns++] = op->short_name;
			if (op->value)
				shortopts[ns++] = ':';
		}
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));
	shortopts[ns] = '\0';

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		const struct cli_option *op = NULL;
		const char *tok = argv[optind - 1];

		if (c >= 256) {
			op = byval[c - 256];
		} else if (c != '?' && c != ':') {
			for (size_t i = 0; i < n && !op; i++)
				if (byval[i]->short_name == c)
					op = byval[i];
		}
		if (c == ':') {
			if (optopt >= 256)
				op = byval[optopt - 256];
			else
				for (size_t i = 0; i < n && !op; i++)
					if (byval[i]->short_name == optopt)
						op = byval[i];
			if (op)
				fprintf(stderr, "vem %s: option '--%s' needs a value (%s)\n",
					cmd->name, op->name, op->value);
			else
				fprintf(stderr, "vem %s: option '%s' needs a value\n", cmd->name, tok);
			bad = 1;
			continue;
		}
		if (!op) {
			if (optopt && optopt < 256) {
				fprintf(stderr, "vem %s: unknown option '-%c'\n", cmd->name, optopt);
			} else {
				fprintf(stderr, "vem %s: unknown option '%s'\n", cmd->name, tok);
				suggest_option(cmd, tok);
			}
			bad = 1;
			continue;
		}
		if (op->group == OPT_PLAN)
			o->plan_given = true;
		if (!strcmp(op->name, "file"))
			o->source_given = true;
		r = set_option(op, optarg, cmd, a, o);
		if (r < 0)
			return -1;
		if (r)
			bad = 1;
	}
	if (!bad && o->output && strcmp(o->output, "json") && strcmp(o->output, "text")) {
		if ((cmd->groups & OPT_OUTFILE) && !o->out) {
			/* observe -o FILE, before --out existed */
			fprintf(stderr, "vem %s: warning: '-o FILE' is deprecated, use '--out %s' "
				"(-o is the output format: json or text)\n", cmd->name, o->output);
			o->out = o->output;
			o->output = NULL;
		} else {
			fprintf(stderr, "vem %s: option '-o': expected a format, 'json' or 'text', "
				"found '%s'%s\n", cmd->name, o->output,
				(cmd->groups & OPT_OUTFILE) ? " (a file goes with --out)" : "");
			bad = 1;
		}
	}
	if (o->output && !strcmp(o->output, "json"))
		a->json = true;
	if (bad) {
		fprintf(stderr, "see 'vem %s --help'\n", cmd->name);
		return VEM_EXIT_USAGE;
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	if (o->argc > cmd->max_args) {
		fprintf(stderr, "vem %s: unexpected argument '%s'\nsee 'vem %s --help'\n",
			cmd->name, o->argv[cmd->max_args], cmd->name);
		return VEM_EXIT_USAGE;
	}
	return 0;
}

/* ---- the small commands ---- */

static int cmd_help(struct apply_args *a, struct cli_opts *o)
{
	const struct cli_command *c;

	if (o->argc < 1) {
		usage_main(stdout);
		return 0;
	}
	c = cli_find(o->argv[0]);
	if (!c || !c->summary) {
		fprintf(stderr, "vem: unknown command '%s'\nsee 'vem --help'\n", o->argv[0]);
		return VEM_EXIT_USAGE;
	}
	cmd_usage(c, stdout);
	return 0;
}

static void print_version(void)
{
	unsigned long lv = 0;

	virGetVersion(&lv, NULL, NULL);
	printf("vem %s (libvirt %lu.%lu.%lu)\n", VEM_VERSION, lv / 1000000,
	       lv / 1000 % 1000, lv % 1000);
}

static int cmd_version(struct apply_args *a, struct cli_opts *o)
{
	print_version();
	return 0;
}

/*
 * vem __complete            the commands, one per line
 * vem __complete COMMAND    its options, one per line: "-f --file FILE" (short
 *                           name or "-", long name, kind of value: FILE,
 *                           DIR, FORMAT, WORD or "-" for none)
 * The shell completions read this; tests/cli compares it with --help.
 */
static const char *value_kind(const struct cli_option *op)
{
	if (!op->value)
		return "-";
	if (!strcmp(op->value, "SOURCE") || !strcmp(op->value, "FILE") ||
	    !strcmp(op->value, "SNAPSHOT") || !strcmp(op->value, "KEYRING"))
		return "FILE";
	if (!strcmp(op->value, "FORMAT"))
		return "FORMAT";
	return "WORD";
}

static int cmd_complete(int argc, char **argv)
{
	const struct cli_command *c;

	if (argc < 2) {
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
			printf("%s\n", commands[i].name);
		return 0;
	}
	c = cli_find(argv[1]);
	if (!c || !c->summary)
		return VEM_EXIT_USAGE;
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		const struct cli_option *op = &options[i];
		if (!cmd_accepts(c, op))
			continue;
		if (op->short_name)
			printf("-%c --%s %s\n", op->short_name, op->name, value_kind(op));
		else
			printf("- --%s %s\n", op->name, value_kind(op));
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, rc;
	const struct cli_command *c;
	struct apply_args args;
	struct cli_opts opts;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			vem_verbosity++;
		else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			vem_verbosity = 0;
		else if (!strcmp(a, "--version")) {
			print_version();
			return 0;
		}
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage_main(stdout);
			return 0;
		} else {
			fprintf(stderr, "vem: unknown option '%s' (options of a command go after "
				"it: vem COMMAND %s)\n\n", a, a);
			usage_main(stderr);
			return VEM_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage_main(stderr);
		return VEM_EXIT_USAGE;
	}
	c = cli_find(argv[i]);
	if (!c) {
		size_t best = (size_t)-1;
		const char *hint = NULL;
		for (size_t k = 0; k < ARRAY_SIZE(commands); k++) {
			size_t d = str_edit_distance(argv[i], commands[k].name);
			if (d < best) {
				best = d;
				hint = commands[k].name;
			}
		}
		fprintf(stderr, "vem: unknown command '%s'", argv[i]);
		if (hint && best <= 2)
			fprintf(stderr, "; did you mean '%s'?", hint);
		fprintf(stderr, "\nsee 'vem --help'\n");
		return VEM_EXIT_USAGE;
	}
	if (c == &cmd_complete_def)
		return cmd_complete(argc - i, argv + i);
	/* every command's options are parsed here, from the one option table */
	rc = cli_parse(argc - i, argv + i, c, &args, &opts);
	if (rc)
		return rc < 0 ? 0 : rc;
	/* libvirt is opened and initialised by its first call (virt_load.c) */
	return c->run(&args, &opts);
}
