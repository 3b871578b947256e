/*
 * main.c - vem's command line: one table of commands drives dispatch and
 * --help.
 */
#include "cli.h"
#include "cmd_reconcile.h"

#include <getopt.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMMON_HELP \
	"  -f, --file SOURCE         cluster file, directory, git+URL[//dir][?ref=R] or\n" \
	"                            https:// URL (default: ./cluster.yaml)\n" \
	"      --require-signed-by KEYRING\n" \
	"                            refuse a git source whose commit is not signed by\n" \
	"                            a key in KEYRING\n"
#define HOSTS_HELP \
	"      --connect-timeout DUR give up on an unreachable host after DUR (default 5s)\n" \
	"      --shutdown-timeout DUR graceful shutdown time before destroy (default 30s)\n" \
	"      --sample DUR          measure CPU load over DUR (default: balance.sample-window)\n"
#define PLAN_HELP \
	"      --no-prune            keep owned VMs that left the cluster file\n" \
	"      --allow-empty         allow a cluster file with no VMs (removes all owned VMs)\n" \
	"      --max-removals N      removal budget of one run, all rounds together:\n" \
	"                            removals and recreates (default 10, -1: no cap)\n" \
	"      --allow-destroy VM    allow deleting the data disks of VM (a name or a\n" \
	"                            shell pattern; repeatable): removals and recreates\n" \
	"                            that delete a data volume are held back otherwise\n" \
	"      --no-balance          plan no balancing migrations (repairs still happen)\n" \
	"      --target VM           plan only VM (a VM or group name, or a shell pattern;\n" \
	"                            repeatable); no balancing or repairs\n" \
	"      --adopt VM            adopt the domain named like VM (a VM or group name, or\n" \
	"                            a shell pattern; repeatable) when it has no vem\n" \
	"                            metadata: written without a restart\n"
#define EXEC_HELP \
	"  -y, --yes                 do not ask before acting\n" \
	"      --max-rounds N        observe-plan-act rounds until converged (default 5)\n" \
	"      --per-host N          actions at once on one host (default 2)\n" \
	"      --lease-wait DUR      wait this long for another vem's lease (default 60s)\n" \
	"      --lease-ttl DUR       a lease not renewed for DUR is dead (default 30s)\n"
#define EXIT_HELP \
	"Exit codes: 0 done or nothing to do; 1 error (bad input, failed actions,\n" \
	"not converged); 2 changes pending (plan --detailed-exitcode); 3 partial: some\n" \
	"hosts were unreachable, the rest was reconciled; 4 another vem holds the\n" \
	"cluster's lease; 64 bad command line.\n"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct cli_command commands[] = {
	{ "validate", cmd_validate, "check the cluster file; -o json prints the normalised desired state",
	  "usage: vem validate [-f SOURCE] [-o json]\n\n"
	  "Load and check the cluster description without contacting any host. Prints a\n"
	  "one-line summary, or every problem as file:line:col: message.\n\n"
	  COMMON_HELP
	  "  -o, --output json         print the normalised desired state (replicas\n"
	  "                            expanded, defaults filled) as JSON\n" },
	{ "plan", cmd_plan, "show what apply would change",
	  "usage: vem plan [-f SOURCE] [--observed SNAPSHOT] [-o json] [--detailed-exitcode]\n\n"
	  "Observe every host (or read a snapshot saved by `vem observe`) and print the\n"
	  "actions that apply would take: + create, ~ update, - remove, > start,\n"
	  "< stop, => migrate.\n\n"
	  COMMON_HELP
	  "      --observed SNAPSHOT   plan against a saved snapshot; no host is contacted\n"
	  "  -o, --output json         machine-readable plan\n"
	  "      --detailed-exitcode   exit 0 when there is nothing to do, 2 when there are\n"
	  "                            changes (or changes held back), 1 on error\n"
	  "      --out FILE            save the plan; 'vem apply FILE' carries out exactly\n"
	  "                            that plan, or refuses if anything changed since\n"
	  PLAN_HELP HOSTS_HELP },
	{ "apply", cmd_apply, "change the hosts until they match the cluster file",
	  "usage: vem apply [-f SOURCE] [-y] [options]\n"
	  "       vem apply [-f SOURCE] PLANFILE\n\n"
	  "Take the cluster's lease, observe, show the plan, ask (unless -y), act, then\n"
	  "observe again and repeat until the cluster converges. One line per action.\n"
	  "With PLANFILE (saved by 'vem plan --out'), carry out exactly that plan without\n"
	  "asking, in one round, or refuse and change nothing when the source's revision,\n"
	  "the hosts or the resulting actions differ from when it was saved.\n\n"
	  COMMON_HELP EXEC_HELP PLAN_HELP HOSTS_HELP },
	{ "status", cmd_status, "show the cluster: VMs and hosts",
	  "usage: vem status [-f SOURCE] [-o json] [--sample DUR]\n\n"
	  "VMs: name, host, state, vcpus, memory, CPU %, in sync, source revision.\n"
	  "Hosts: capacity, committed memory and vCPUs, measured load.\n\n"
	  COMMON_HELP
	  "  -o, --output json         machine-readable status\n"
	  HOSTS_HELP },
	{ "observe", cmd_observe, "save the observed state of every host as a JSON snapshot",
	  "usage: vem observe [-f SOURCE] [-o FILE] [--skeleton]\n\n"
	  "Write what every host runs (hosts, capacity, domains, load) as JSON, for\n"
	  "`vem plan --observed FILE`, what-if balancing and bug reports.\n\n"
	  COMMON_HELP
	  "  -o, --output FILE         write to FILE (default: standard output)\n"
	  "      --skeleton            print a cluster file for the domains the hosts run\n"
	  "                            (each VM with adopt: true) instead of JSON\n"
	  HOSTS_HELP },
	{ "reconcile", cmd_reconcile, "apply in a loop (timer, GitOps)",
	  "usage: vem reconcile [-f SOURCE] [--every DUR] [--jitter PCT] [--once] [options]\n\n"
	  "Resolve the source, load it and apply without asking, every DUR, printing one\n"
	  "line per round. Stops cleanly between actions on SIGTERM or SIGINT.\n\n"
	  COMMON_HELP
	  "      --every DUR           time between rounds (default 60s)\n"
	  "      --jitter PCT          random extra delay, up to PCT% of DUR (default 10)\n"
	  "      --once                one round, then exit with its code\n"
	  EXEC_HELP PLAN_HELP HOSTS_HELP },
	{ "schema", cmd_schema, "print the JSON Schema of the cluster file (for editors)",
	  "usage: vem schema\n\n"
	  "Print the JSON Schema of the cluster file format, generated from the loader's\n"
	  "own key tables. Point YAML language servers at it.\n" },
	{ "help", cmd_help, "show help for a command", "usage: vem help [COMMAND]\n" },
	{ "version", cmd_version, "print the version", "usage: vem version\n" },
};

const struct cli_command *cli_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage_main(FILE *f)
{
	fprintf(f, "usage: vem [-v | -q] [--version] [--help] COMMAND [ARGS]\n\n"
		   "vem keeps libvirt hosts running exactly the VMs a YAML cluster file\n"
		   "describes: it observes every host, plans, and creates, updates, removes\n"
		   "or live-migrates VMs until they agree.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nGlobal options: -v, --verbose (more detail), -q, --quiet (errors only).\n"
		   "`vem COMMAND --help` describes each command.\n\n" EXIT_HELP);
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_command *c;
	if (argc < 2) {
		usage_main(stdout);
		return 0;
	}
	c = cli_find(argv[1]);
	if (!c) {
		fprintf(stderr, "vem: unknown command '%s'\n", argv[1]);
		return VEM_EXIT_USAGE;
	}
	fputs(c->usage, stdout);
	fputs("\n" EXIT_HELP, stdout);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	unsigned long lv = 0;
	virGetVersion(&lv, NULL, NULL);
	printf("vem %s (libvirt %lu.%lu.%lu)\n", VEM_VERSION, lv / 1000000,
	       lv / 1000 % 1000, lv % 1000);
	return 0;
}

static void parse_duration_opt(const char *name, const char *v, int64_t *out, int *bad)
{
	const char *why;
	if (parse_duration(v, out, &why)) {
		fprintf(stderr, "vem: option '--%s': '%s': %s\n", name, v, why);
		*bad = 1;
	}
}

static void parse_int_opt(const char *name, const char *v, int *out, int min, int *bad)
{
	int64_t n;
	if (parse_int64(v, &n) || n < min || n > 1000000) {
		fprintf(stderr, "vem: option '--%s': expected a whole number >= %d, found '%s'\n",
			name, min, v);
		*bad = 1;
		return;
	}
	*out = (int)n;
}

enum {
	LO_REQUIRE_SIGNED = 256, LO_OBSERVED, LO_DETAILED, LO_NO_PRUNE, LO_ALLOW_EMPTY,
	LO_MAX_REMOVALS, LO_NO_BALANCE, LO_MAX_ROUNDS, LO_PER_HOST, LO_LEASE_WAIT,
	LO_LEASE_TTL, LO_CONNECT_TIMEOUT, LO_SHUTDOWN_TIMEOUT, LO_SAMPLE, LO_EVERY,
	LO_JITTER, LO_ONCE, LO_ALLOW_DESTROY, LO_TARGET, LO_OUT, LO_ADOPT, LO_SKELETON,
};

/* --allow-destroy patterns (they point into argv) */
#define MAX_ALLOW_DESTROY 256
static const char *allow_destroy[MAX_ALLOW_DESTROY];
static const char *targets[MAX_ALLOW_DESTROY];
static const char *adopt[MAX_ALLOW_DESTROY];

static const struct {
	struct option opt;
	unsigned group;
} all_options[] = {
	{ { "file", required_argument, NULL, 'f' }, OPT_SOURCE },
	{ { "require-signed-by", required_argument, NULL, LO_REQUIRE_SIGNED }, OPT_SOURCE },
	{ { "output", required_argument, NULL, 'o' }, OPT_OUTPUT | OPT_OUTFILE },
	{ { "observed", required_argument, NULL, LO_OBSERVED }, OPT_OBSERVED },
	{ { "detailed-exitcode", no_argument, NULL, LO_DETAILED }, OPT_DETAILED },
	{ { "no-prune", no_argument, NULL, LO_NO_PRUNE }, OPT_PLAN },
	{ { "allow-empty", no_argument, NULL, LO_ALLOW_EMPTY }, OPT_PLAN },
	{ { "max-removals", required_argument, NULL, LO_MAX_REMOVALS }, OPT_PLAN },
	{ { "allow-destroy", required_argument, NULL, LO_ALLOW_DESTROY }, OPT_PLAN },
	{ { "target", required_argument, NULL, LO_TARGET }, OPT_PLAN },
	{ { "adopt", required_argument, NULL, LO_ADOPT }, OPT_PLAN },
	{ { "skeleton", no_argument, NULL, LO_SKELETON }, OPT_OUTFILE },
	{ { "out", required_argument, NULL, LO_OUT }, OPT_SAVE },
	{ { "no-balance", no_argument, NULL, LO_NO_BALANCE }, OPT_PLAN },
	{ { "yes", no_argument, NULL, 'y' }, OPT_EXEC },
	{ { "max-rounds", required_argument, NULL, LO_MAX_ROUNDS }, OPT_EXEC },
	{ { "per-host", required_argument, NULL, LO_PER_HOST }, OPT_EXEC },
	{ { "lease-wait", required_argument, NULL, LO_LEASE_WAIT }, OPT_EXEC },
	{ { "lease-ttl", required_argument, NULL, LO_LEASE_TTL }, OPT_EXEC },
	{ { "connect-timeout", required_argument, NULL, LO_CONNECT_TIMEOUT }, OPT_HOSTS },
	{ { "shutdown-timeout", required_argument, NULL, LO_SHUTDOWN_TIMEOUT }, OPT_HOSTS },
	{ { "sample", required_argument, NULL, LO_SAMPLE }, OPT_HOSTS },
	{ { "every", required_argument, NULL, LO_EVERY }, OPT_EVERY },
	{ { "jitter", required_argument, NULL, LO_JITTER }, OPT_EVERY },
	{ { "once", no_argument, NULL, LO_ONCE }, OPT_EVERY },
	{ { "verbose", no_argument, NULL, 'v' }, ~0u },
	{ { "quiet", no_argument, NULL, 'q' }, ~0u },
	{ { "help", no_argument, NULL, 'h' }, ~0u },
};

int cli_parse(int argc, char **argv, unsigned allowed, const struct cli_command *cmd,
	      struct apply_args *a, struct cli_opts *o)
{
	struct option longopts[ARRAY_SIZE(all_options) + 1];
	char shortopts[32] = "+vqh";
	size_t n = 0;
	int c, bad = 0;

	apply_args_default(a);
	memset(o, 0, sizeof(*o));
	o->every = 60000;
	o->jitter_pct = 10;
	for (size_t i = 0; i < ARRAY_SIZE(all_options); i++)
		if (all_options[i].group == ~0u || (all_options[i].group & allowed))
			longopts[n++] = all_options[i].opt;
	memset(&longopts[n], 0, sizeof(longopts[n]));
	if (allowed & OPT_SOURCE)
		strcat(shortopts, "f:");
	if (allowed & (OPT_OUTPUT | OPT_OUTFILE))
		strcat(shortopts, "o:");
	if (allowed & OPT_EXEC)
		strcat(shortopts, "y");

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'f': a->source = optarg; o->source_given = true; break;
		case 'o': o->output = optarg; break;
		case 'y': a->yes = true; break;
		case 'v': vem_verbosity++; break;
		case 'q': vem_verbosity = 0; break;
		case 'h':
			fputs(cmd->usage, stdout);
			fputs("\n" EXIT_HELP, stdout);
			return -1;
		case LO_REQUIRE_SIGNED: a->require_signed_by = optarg; break;
		case LO_OBSERVED: a->observed = optarg; break;
		case LO_DETAILED: a->detailed_exitcode = true; break;
		case LO_NO_PRUNE: a->plan.prune = false; o->plan_given = true; break;
		case LO_ALLOW_EMPTY: a->plan.allow_empty = true; o->plan_given = true; break;
		case LO_OUT: a->save_to = optarg; break;
		case LO_TARGET:
			o->plan_given = true;
			if (!*optarg || a->plan.n_targets >= MAX_ALLOW_DESTROY) {
				fprintf(stderr, "vem %s: --target needs a VM or group name (at most %d)\n",
					cmd->name, MAX_ALLOW_DESTROY);
				bad = 1;
			} else {
				targets[a->plan.n_targets++] = optarg;
				a->plan.targets = targets;
			}
			break;
		case LO_ADOPT:
			o->plan_given = true;
			if (!*optarg || a->plan.n_adopt >= MAX_ALLOW_DESTROY) {
				fprintf(stderr, "vem %s: --adopt needs a VM or group name (at most %d)\n",
					cmd->name, MAX_ALLOW_DESTROY);
				bad = 1;
			} else {
				adopt[a->plan.n_adopt++] = optarg;
				a->plan.adopt = adopt;
			}
			break;
		case LO_SKELETON: o->skeleton = true; break;
		case LO_MAX_REMOVALS: o->plan_given = true; parse_int_opt("max-removals", optarg, &a->plan.max_removals, -1, &bad); break;
		case LO_NO_BALANCE: a->plan.balance = false; o->plan_given = true; break;
		case LO_ALLOW_DESTROY:
			o->plan_given = true;
			if (!*optarg) {
				fprintf(stderr, "vem %s: --allow-destroy needs a VM name or pattern\n", cmd->name);
				bad = 1;
			} else if (a->plan.n_allow_destroy >= MAX_ALLOW_DESTROY) {
				fprintf(stderr, "vem %s: more than %d --allow-destroy options\n", cmd->name,
					MAX_ALLOW_DESTROY);
				bad = 1;
			} else {
				allow_destroy[a->plan.n_allow_destroy++] = optarg;
				a->plan.allow_destroy = allow_destroy;
			}
			break;
		case LO_MAX_ROUNDS: parse_int_opt("max-rounds", optarg, &a->exec.max_rounds, 1, &bad); break;
		case LO_PER_HOST: parse_int_opt("per-host", optarg, &a->exec.per_host, 1, &bad); break;
		case LO_LEASE_WAIT: parse_duration_opt("lease-wait", optarg, &a->lease.wait, &bad); break;
		case LO_LEASE_TTL: parse_duration_opt("lease-ttl", optarg, &a->lease.ttl, &bad); break;
		case LO_CONNECT_TIMEOUT: parse_duration_opt("connect-timeout", optarg, &a->hv.connect_timeout, &bad); break;
		case LO_SHUTDOWN_TIMEOUT: parse_duration_opt("shutdown-timeout", optarg, &a->hv.shutdown_timeout, &bad); break;
		case LO_SAMPLE: parse_duration_opt("sample", optarg, &a->hv.sample_window, &bad); break;
		case LO_EVERY: parse_duration_opt("every", optarg, &o->every, &bad); break;
		case LO_JITTER: parse_int_opt("jitter", optarg, &o->jitter_pct, 0, &bad); break;
		case LO_ONCE: o->once = true; break;
		case '?':
		default:
			if (optopt && optopt < 256)
				fprintf(stderr, "vem %s: unknown or incomplete option '-%c'\n",
					cmd->name, optopt);
			else
				fprintf(stderr, "vem %s: unknown or incomplete option '%s'\n",
					cmd->name, argv[optind - 1]);
			bad = 1;
		}
	}
	if (!bad && (allowed & OPT_OUTPUT) && !(allowed & OPT_OUTFILE) && o->output &&
	    strcmp(o->output, "json") && strcmp(o->output, "text")) {
		fprintf(stderr, "vem %s: option '-o': expected 'json' or 'text', found '%s'\n",
			cmd->name, o->output);
		bad = 1;
	}
	if (o->output && !strcmp(o->output, "json") && !(allowed & OPT_OUTFILE))
		a->json = true;
	if (bad) {
		fprintf(stderr, "see 'vem %s --help'\n", cmd->name);
		return VEM_EXIT_USAGE;
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	if (o->argc > 0 && !(allowed & OPT_ARGS)) {
		fprintf(stderr, "vem %s: unexpected argument '%s'\nsee 'vem %s --help'\n",
			cmd->name, o->argv[0], cmd->name);
		return VEM_EXIT_USAGE;
	}
	return 0;
}

static void libvirt_quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;   /* errors are read where they happen and turned into vem errors */
}

int main(int argc, char **argv)
{
	int i = 1;
	const struct cli_command *c;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			vem_verbosity++;
		else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			vem_verbosity = 0;
		else if (!strcmp(a, "--version"))
			return cmd_version(0, NULL);
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage_main(stdout);
			return 0;
		} else {
			fprintf(stderr, "vem: unknown option '%s'\n\n", a);
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
	virSetErrorFunc(NULL, libvirt_quiet);
	if (virInitialize() < 0) {
		fprintf(stderr, "vem: cannot initialise libvirt\n");
		return VEM_EXIT_ERROR;
	}
	return c->run(argc - i, argv + i);
}
