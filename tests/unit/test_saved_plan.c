/*
 * test_saved_plan.c - cli/saved_plan.c: a saved plan reads back as it was
 * written, and a file that is not one is refused with the reason.
 */
#include "test.h"
#include "fixtures.h"
#include "cli/saved_plan.h"

#include <unistd.h>

static const char *yaml =
	"cluster: t\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 8, memory: 8GiB}}\n"
	"templates:\n"
	"  - {name: small, vcpus: 1, memory: 256MiB, kernel: /k}\n"
	"vms:\n"
	"  - {name: web, template: small}\n";

static char *tmp_path(void)
{
	char *p = xasprintf("/tmp/vem-test-saved-plan.%ld", (long)getpid());
	unlink(p);
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* What saved_plan_read says of a file holding text (NULL: it read it). */
static char *read_error(const char *text)
{
	char *path = tmp_path(), *msg = NULL;
	struct errbuf err = ERRBUF_INIT;
	struct saved_plan sp;

	write_text(path, text);
	if (saved_plan_read(path, &sp, &err))
		msg = xstrdup(err.nr ? err.items[0].msg : "(no message)");
	else
		saved_plan_release(&sp);
	errbuf_release(&err);
	unlink(path);
	free(path);
	return msg;
}

TEST(round_trip)
{
	struct cluster *c = load_yaml(yaml);
	struct observed o;
	struct plan p;
	struct apply_args a;
	struct saved_plan sp;
	struct errbuf err = ERRBUF_INIT;
	const char *targets[] = { "web", "we\"ird\\name" };
	const char *destroy[] = { "db-0.qcow2" };
	char *path = tmp_path();

	free(c->source);
	c->source = xstrdup("git+https://example.org/c.git");
	free(c->revision);
	c->revision = xstrdup("0123abcd");
	obs_init(&o, c);
	memset(&a, 0, sizeof(a));
	plan_options_fixture(&a.plan);
	a.plan.prune = false;
	a.plan.allow_empty = true;
	a.plan.max_removals = 7;
	a.plan.targets = targets;
	a.plan.n_targets = 2;
	a.plan.allow_destroy = destroy;
	a.plan.n_allow_destroy = 1;
	p = plan_fixture(c, &o, &a.plan);

	CHECK_INT(saved_plan_write(path, &a, c, &o, &p, &err), 0);
	CHECK_INT(saved_plan_read(path, &sp, &err), 0);
	CHECK_STR(sp.cluster, "t");
	CHECK_STR(sp.source, "git+https://example.org/c.git");
	CHECK_STR(sp.revision, "0123abcd");
	CHECK_INT(strlen(sp.observed_digest), 64);
	CHECK_INT(strlen(sp.actions_digest), 64);
	CHECK(!sp.prune && sp.allow_empty && !sp.balance);
	CHECK_INT(sp.max_removals, 7);
	CHECK_INT(sp.n_targets, 2);
	CHECK_STR(sp.targets[1], "we\"ird\\name");
	CHECK_INT(sp.n_allow_destroy, 1);
	CHECK_STR(sp.allow_destroy[0], "db-0.qcow2");
	CHECK_INT(sp.n_adopt, 0);
	CHECK_INT(sp.changes, p.n);
	CHECK(sp.changes > 0);
	saved_plan_release(&sp);
	errbuf_release(&err);
	unlink(path);
	free(path);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

#define HEAD "{\"kind\": \"vem-saved-plan\", \"format\": 1, \"cluster\": \"t\", \"source\": \"s\", " \
	"\"revision\": \"r\", \"observed_digest\": \"o\", \"actions_digest\": \"a\", "

TEST(minimal_file_reads)
{
	char *e = read_error(HEAD "\"options\": {\"max_removals\": -1}}");
	CHECK(e == NULL);
	free(e);
}

/* Each broken file is refused, and the message says what is wrong. */
TEST(refusals)
{
	static const struct { const char *text, *says; } cases[] = {
		{ "", "not a saved plan" },
		{ "{\"kind\": \"something-else\"}", "not a saved plan" },
		{ "[1, 2]", "not a saved plan" },
		{ "kind: vem-saved-plan\nformat: 1\n", "not a saved plan" },
		{ "{\"kind\": \"vem-saved-plan\", \"format\": 2}", "format 2 is not supported" },
		{ "{\"kind\": \"vem-saved-plan\"}", "format ? is not supported" },
		{ "{\"kind\": \"vem-saved-plan\", \"format\": 1, \"cluster\": \"t\"}",
		  "'source' is missing" },
		{ HEAD "\"revision\": 5}", "not a saved plan" },
		{ HEAD "\"options\": []}", "'options' is missing or not an object" },
		{ HEAD "\"options\": {\"max_removals\": \"x\"}}", "bad 'options.max_removals'" },
		{ HEAD "\"options\": {\"max_removals\": 99999999}}", "bad 'options.max_removals'" },
		{ HEAD "\"options\": {\"max_removals\": 0, \"prune\": \"false\"}}",
		  "'options.prune' is not true or false" },
		{ HEAD "\"options\": {\"max_removals\": 0, \"targets\": \"web\"}}",
		  "'options.targets' is not a list" },
		{ HEAD "\"options\": {\"max_removals\": 0, \"targets\": [[\"web\"]]}}",
		  "not a string" },
		{ "{\"kind\": &k \"vem-saved-plan\", \"x\": *k}", "expected a value, found '&'" },
		{ "{\"kind\": \"vem-saved-plan\"} {}", "not a saved plan" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = read_error(cases[i].text);
		CHECK(e != NULL);
		if (e && !strstr(e, cases[i].says))
			fprintf(stderr, "case %zu: '%s' does not say '%s'\n", i, e, cases[i].says);
		CHECK(e && strstr(e, cases[i].says));
		free(e);
	}
}

/* Nesting deeper than the reader takes is refused, not a crash. */
TEST(deep_nesting)
{
	size_t n = 100000;
	char *t = xmalloc(2 * n + 1);
	char *e;

	memset(t, '[', n);
	memset(t + n, ']', n);
	t[2 * n] = '\0';
	e = read_error(t);
	CHECK(e != NULL);
	free(e);
	free(t);
}

TEST(missing_file)
{
	struct saved_plan sp;
	struct errbuf err = ERRBUF_INIT;

	CHECK_INT(saved_plan_read("/nonexistent/vem-plan.json", &sp, &err), -1);
	CHECK(err.nr && strstr(err.items[0].msg, "cannot read saved plan"));
	errbuf_release(&err);
}

int main(void)
{
	RUN(round_trip);
	RUN(minimal_file_reads);
	RUN(refusals);
	RUN(deep_nesting);
	RUN(missing_file);
	return test_done();
}
