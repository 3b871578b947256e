/* Unit tests: placement constraints, explanations, balancing and repairs. */
#include "test.h"
#include "reconciler/place.h"
#include "fixtures.h"

static const char *hosts3 =
	"cluster: t\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 2, memory: 1GiB}, labels: {rack: a}}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 2, memory: 1GiB}, labels: {rack: a}}\n"
	"  - {name: h3, uri: 'qemu+tcp://c/system', capacity: {cpus: 2, memory: 1GiB}, labels: {rack: b}}\n"
	"templates:\n"
	"  - {name: s, vcpus: 1, memory: 128MiB, kernel: /k}\n";

static struct cluster *cl(const char *rest)
{
	char *y = xasprintf("%s%s", hosts3, rest);
	struct cluster *c = load_yaml(y);
	free(y);
	return c;
}

static struct plan build(const struct cluster *c, const struct observed *o)
{
	struct plan p;
	struct errbuf err = ERRBUF_INIT;
	struct plan_options po;
	plan_options_default(&po);
	CHECK(plan_build(c, o, &po, &p, &err) == 0);
	errbuf_release(&err);
	return p;
}

TEST(labels_and_allowed_hosts)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: s, placement: {labels: {rack: b}}}\n"
			       "  - {name: b, template: s, placement: {hosts: [h2]}}\n");
	struct observed o;
	struct load l;
	const char *why;
	obs_init(&o, c);
	load_init(&l, c, &o);
	CHECK(!place_feasible(&l, cluster_vm(c, "a"), 0, &why));
	CHECK(place_feasible(&l, cluster_vm(c, "a"), 2, &why));
	CHECK(!place_feasible(&l, cluster_vm(c, "b"), 0, &why));
	CHECK(place_feasible(&l, cluster_vm(c, "b"), 1, &why));
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
}

TEST(memory_reserve_and_vcpu_overcommit)
{
	struct cluster *c = load_yaml(
		"cluster: t\nhosts:\n"
		"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 1, memory: 1GiB}, reserve: 512MiB}\n"
		"templates:\n  - {name: s, vcpus: 2, memory: 256MiB, kernel: /k}\n"
		"vms:\n  - {name: a, template: s, replicas: 3}\n"
		"balance: {vcpu-overcommit: 4}\n");
	struct observed o;
	struct load l;
	const char *why;
	const struct vm_spec *v[3];
	long hosts[3];
	struct strbuf sb = STRBUF_INIT;
	obs_init(&o, c);
	load_init(&l, c, &o);
	for (int i = 0; i < 3; i++)
		v[i] = &c->vms[i];
	/* 512MiB usable: two of three fit */
	CHECK_INT(place_vms(&l, v, 3, hosts, &sb), 2);
	CHECK(hosts[2] == -1);
	CHECK_STR(sb.buf, "cannot place 'a-2': h1: needs 256MiB, 0B free\n");
	CHECK(!place_feasible(&l, v[2], 0, &why));
	strbuf_release(&sb);
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
}

TEST(spread_group_explained)
{
	struct cluster *c = cl("vms:\n  - {name: api, template: s, replicas: 4, placement: {spread: api}}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	p = build(c, &o);
	CHECK_INT(p.n, 3);
	CHECK_INT(p.n_notes, 1);
	CHECK(strstr(p.notes[0], "cannot place 'api-") != NULL);
	CHECK(strstr(p.notes[0], "spread group 'api' already has a member here") != NULL);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(together_all_or_nothing)
{
	struct cluster *c = cl("vms:\n  - {name: db, template: s, replicas: 3, placement: {together: db}}\n"
			       "  - {name: huge, template: s, replicas: 2, memory: 600MiB, placement: {together: huge}}\n");
	struct observed o;
	struct plan p;
	size_t h = (size_t)-1, creates = 0;
	obs_init(&o, c);
	p = build(c, &o);
	for (size_t i = 0; i < p.n; i++) {
		CHECK(p.actions[i].kind == ACT_CREATE);
		CHECK(strncmp(p.actions[i].vm, "db-", 3) == 0);
		if (h == (size_t)-1)
			h = p.actions[i].host;
		CHECK(p.actions[i].host == h);
		creates++;
	}
	CHECK_INT(creates, 3);
	/* the two 600MiB members cannot share a 1GiB host: neither is placed */
	CHECK_INT(p.n_notes, 2);
	CHECK(strstr(p.notes[0], "together group 'huge' of 2 VMs must share a host") != NULL);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(maintenance_evacuates_over_several_hosts)
{
	struct cluster *c = load_yaml(
		"cluster: t\nhosts:\n"
		"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 8, memory: 4GiB}, maintenance: true}\n"
		"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 8, memory: 4GiB}}\n"
		"  - {name: h3, uri: 'qemu+tcp://c/system', capacity: {cpus: 8, memory: 4GiB}}\n"
		"templates:\n  - {name: s, vcpus: 1, memory: 256MiB, kernel: /k}\n"
		"vms:\n  - {name: v, template: s, replicas: 4}\n");
	struct observed o;
	struct plan p;
	size_t to[4] = { 0 };
	obs_init(&o, c);
	for (int i = 0; i < 4; i++) {
		char n[8];
		snprintf(n, sizeof(n), "v-%d", i);
		obs_add(&o, c, 0, n, true, NULL, DOM_RUNNING, 0.1);
	}
	p = build(c, &o);
	CHECK_INT(p.n, 4);
	for (size_t i = 0; i < p.n; i++) {
		CHECK(p.actions[i].kind == ACT_MIGRATE);
		CHECK_STR(p.actions[i].reason, "maintenance");
		CHECK(p.actions[i].dest != 0);
		to[p.actions[i].dest]++;
	}
	CHECK_INT(to[1], 2);
	CHECK_INT(to[2], 2);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(balance_spreads_busy_vms_without_ping_pong)
{
	struct cluster *c = cl("vms:\n  - {name: hot, template: s, replicas: 2}\n"
			       "balance: {metrics: {cpu: 1.0, memory: 0.0}, threshold: 0.25, cooldown: 0s}\n");
	struct observed o, after;
	struct plan p, p2;
	obs_init(&o, c);
	obs_add(&o, c, 0, "hot-0", true, NULL, DOM_RUNNING, 1.0);
	obs_add(&o, c, 0, "hot-1", true, NULL, DOM_RUNNING, 1.0);
	p = build(c, &o);
	CHECK_INT(p.n, 1);
	CHECK(p.actions[0].kind == ACT_MIGRATE && p.actions[0].host == 0 && p.actions[0].dest != 0);
	CHECK(p.actions[0].score_after < p.actions[0].score_before);
	CHECK(p.score_after <= 0.25 + 1e-9);
	/* apply the plan to the observation: balancing it again moves nothing */
	obs_init(&after, c);
	obs_add(&after, c, 0, "hot-0", true, NULL, DOM_RUNNING, 1.0);
	obs_add(&after, c, p.actions[0].dest, "hot-1", true, NULL, DOM_RUNNING, 1.0);
	if (!strcmp(p.actions[0].vm, "hot-0")) {
		after.domains[0].host = p.actions[0].dest;
		after.domains[1].host = 0;
	}
	p2 = build(c, &after);
	CHECK_INT(p2.n, 0);
	plan_release(&p);
	plan_release(&p2);
	observed_release(&o);
	observed_release(&after);
	cluster_free(c);
}

TEST(cooldown_and_min_gain)
{
	struct cluster *c = cl("vms:\n  - {name: hot, template: s, replicas: 2}\n"
			       "balance: {metrics: {cpu: 1.0, memory: 0.0}, threshold: 0.05, cooldown: 10m}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	obs_add(&o, c, 0, "hot-0", true, NULL, DOM_RUNNING, 1.0)->meta.migrated_at = time_now_ms() - 60000;
	obs_add(&o, c, 0, "hot-1", true, NULL, DOM_RUNNING, 1.0)->meta.migrated_at = time_now_ms() - 60000;
	p = build(c, &o);
	CHECK_INT(p.n, 0);   /* both moved a minute ago */
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);

	c = cl("vms:\n  - {name: warm, template: s, replicas: 2}\n"
	       "balance: {metrics: {cpu: 1.0, memory: 0.0}, threshold: 0.01, min-gain: 0.5}\n");
	obs_init(&o, c);
	obs_add(&o, c, 0, "warm-0", true, NULL, DOM_RUNNING, 0.2);
	obs_add(&o, c, 0, "warm-1", true, NULL, DOM_RUNNING, 0.2);
	p = build(c, &o);
	CHECK_INT(p.n, 0);   /* no single move gains 0.5 */
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(max_migrations_and_unowned_never_move)
{
	struct cluster *c = cl("vms:\n  - {name: hot, template: s, replicas: 4}\n"
			       "balance: {metrics: {cpu: 1.0, memory: 0.0}, threshold: 0.0, max-migrations: 1, cooldown: 0s}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	obs_add(&o, c, 0, "foreign", false, NULL, DOM_RUNNING, 1.0);
	for (int i = 0; i < 4; i++) {
		char n[8];
		snprintf(n, sizeof(n), "hot-%d", i);
		obs_add(&o, c, 0, n, true, NULL, DOM_RUNNING, 0.5);
	}
	p = build(c, &o);
	CHECK_INT(p.n, 1);
	CHECK(strcmp(p.actions[0].vm, "foreign") != 0);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(score_is_zero_when_balanced)
{
	struct cluster *c = cl("vms:\n  - {name: v, template: s, replicas: 3}\n");
	struct observed o;
	struct load l;
	obs_init(&o, c);
	for (int i = 0; i < 3; i++) {
		char n[8];
		snprintf(n, sizeof(n), "v-%d", i);
		obs_add(&o, c, (size_t)i, n, true, NULL, DOM_RUNNING, 0.5);
	}
	load_init(&l, c, &o);
	CHECK(load_score(&l) < 1e-9);
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
}

int main(void)
{
	RUN(labels_and_allowed_hosts);
	RUN(memory_reserve_and_vcpu_overcommit);
	RUN(spread_group_explained);
	RUN(together_all_or_nothing);
	RUN(maintenance_evacuates_over_several_hosts);
	RUN(balance_spreads_busy_vms_without_ping_pong);
	RUN(cooldown_and_min_gain);
	RUN(max_migrations_and_unowned_never_move);
	RUN(score_is_zero_when_balanced);
	return test_done();
}
