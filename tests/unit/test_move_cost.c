/*
 * Unit tests: what a move copies. A VM's host-local disk bytes count in the
 * cost of its migration (per move and in the plan's summary), balancing
 * prefers the cheap move, and disks in a pool declared shared cost nothing.
 */
#include "test.h"
#include "fixtures.h"

#define YAML_FMT \
	"cluster: t\nhosts:\n" \
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 4, memory: 8GiB}%s}\n" \
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 4, memory: 8GiB}}\n" \
	"templates:\n  - {name: s, vcpus: 1, memory: 256MiB, kernel: /k}\n" \
	"vms:\n  - {name: big, template: s}\n  - {name: small, template: s}\n%s"

static struct plan plan_for(const char *maint, const char *extra, struct cluster **cp,
			    struct observed *o)
{
	char *y = xasprintf(YAML_FMT, maint, extra);
	struct obs_domain *d;

	*cp = load_yaml(y);
	free(y);
	obs_init(o, *cp);
	/* two equally busy VMs on h1; big has a 40 GiB disk of its own */
	d = obs_add(o, *cp, 0, "big", true, NULL, DOM_RUNNING, 1.0);
	d->disk_bytes = 40 * GiB;
	obs_add(o, *cp, 0, "small", true, NULL, DOM_RUNNING, 1.0);
	return fixture_plan(*cp, o, NULL);
}

TEST(balance_moves_the_cheap_vm)
{
	struct cluster *c;
	struct observed o;
	struct plan p = plan_for("", "", &c, &o);

	CHECK_INT(p.n, 1);
	if (p.n == 1) {
		CHECK_STR(p.actions[0].vm, "small");
		CHECK(p.actions[0].bytes == 256 * MiB);
	}
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(shared_disks_cost_nothing)
{
	struct cluster *c;
	struct observed o;
	struct plan p = plan_for("", "storage: {shared-pools: [default]}\n", &c, &o);

	/* equal again: the first by name */
	CHECK_INT(p.n, 1);
	if (p.n == 1) {
		CHECK_STR(p.actions[0].vm, "big");
		CHECK(p.actions[0].bytes == 256 * MiB);
	}
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(evacuation_shows_what_it_copies)
{
	struct cluster *c;
	struct observed o;
	struct plan p = plan_for(", maintenance: true", "", &c, &o);
	char *text;

	CHECK_INT(p.n, 2);
	for (size_t i = 0; i < p.n; i++)
		CHECK(p.actions[i].bytes == (strcmp(p.actions[i].vm, "big") ? 256 * MiB
					     : 40 * GiB + 256 * MiB));
	text = plan_text(&p, &o);
	CHECK(text && strstr(text, "Moves copy 40.5GiB.") != NULL);
	if (text && !strstr(text, "Moves copy 40.5GiB."))
		fprintf(stderr, "%s", text);
	free(text);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

int main(void)
{
	RUN(balance_moves_the_cheap_vm);
	RUN(shared_disks_cost_nothing);
	RUN(evacuation_shows_what_it_copies);
	return test_done();
}
