/* Unit tests: placement constraints, explanations, balancing and repairs. */
#include "test.h"
#include "reconciler/place.h"
#include "reconciler/balance.h"
#include "fixtures.h"

#include <math.h>
#include <unistd.h>

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
	p = fixture_plan(c, &o, NULL);
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
	p = fixture_plan(c, &o, NULL);
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
	p = fixture_plan(c, &o, NULL);
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
	p = fixture_plan(c, &o, NULL);
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
	p2 = fixture_plan(c, &after, NULL);
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
	p = fixture_plan(c, &o, NULL);
	CHECK_INT(p.n, 0);   /* both moved a minute ago */
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);

	c = cl("vms:\n  - {name: warm, template: s, replicas: 2}\n"
	       "balance: {metrics: {cpu: 1.0, memory: 0.0}, threshold: 0.01, min-gain: 0.5}\n");
	obs_init(&o, c);
	obs_add(&o, c, 0, "warm-0", true, NULL, DOM_RUNNING, 0.2);
	obs_add(&o, c, 0, "warm-1", true, NULL, DOM_RUNNING, 0.2);
	p = fixture_plan(c, &o, NULL);
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
	p = fixture_plan(c, &o, NULL);
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

/*
 * A cluster past the size searched exhaustively (100 hosts, 1710 VMs of
 * mixed sizes, most on a third of the hosts, one host in maintenance,
 * spread, pinned and label-bound VMs): balancing keeps every hard
 * constraint, each move gains at least min-gain, and the score falls.
 */
TEST(balance_large_cluster_keeps_constraints)
{
	enum { NH = 100, HOT = 33 };
	struct strbuf y = STRBUF_INIT;
	struct cluster *c;
	struct observed o;
	struct plan p;
	uint64_t mem[NH] = { 0 };
	int vcpus[NH] = { 0 }, spread[NH] = { 0 };
	size_t *where, moves = 0, *moved;
	unsigned seed = 7;

	strbuf_adds(&y, "cluster: big\nhosts:\n");
	for (int h = 0; h < NH; h++)
		strbuf_addf(&y, "  - {name: h%03d, uri: 'qemu+tcp://h%d/system', capacity: {cpus: 16, memory: 16GiB}, "
			    "labels: {rack: %s}%s}\n", h, h, h % 2 ? "b" : "a", h == NH - 1 ? ", maintenance: true" : "");
	strbuf_adds(&y, "templates:\n  - {name: s, vcpus: 1, memory: 256MiB, kernel: /k}\n"
		    "vms:\n"
		    "  - {name: small, template: s, replicas: 1000}\n"
		    "  - {name: big, template: s, replicas: 400, memory: 1GiB, vcpus: 2}\n"
		    "  - {name: spr, template: s, replicas: 30, placement: {spread: spr}}\n"
		    "  - {name: pin, template: s, replicas: 30, placement: {hosts: [h000, h040, h050]}}\n"
		    "  - {name: rb, template: s, replicas: 250, placement: {labels: {rack: b}}}\n"
		    "balance: {metrics: {cpu: 1.0, memory: 1.0, vcpu: 1.0}, threshold: 0.0, min-gain: 0.0001,\n"
		    "          max-migrations: 400, cooldown: 0s}\n");
	c = load_yaml(y.buf);
	strbuf_release(&y);
	CHECK_INT(c->n_vms, 1710);
	obs_init(&o, c);
	where = xcalloc(c->n_vms, sizeof(*where));
	moved = xcalloc(c->n_vms, sizeof(*moved));
	/* skewed start: the first third while they fit, ten VMs on the maintenance host */
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *vm = &c->vms[i];
		size_t h;
		seed = seed * 1103515245 + 12345;
		h = (i % 200 == 0) ? NH - 1 : (seed >> 8) % HOT;
		for (size_t tries = 0;; tries++, h = (h + 1) % (NH - 1)) {
			const struct obs_host *oh = &o.hosts[h];
			bool ok = mem[h] + vm->cfg.max_memory <= oh->memory * 9 / 10 &&
				  vcpus[h] + vm->cfg.vcpus <= oh->cpus * 4;
			if (tries >= 2 * NH) {
				fprintf(stderr, "cannot place %s\n", vm->name);
				abort();
			}
			if (vm->placement.spread)
				ok = ok && !spread[h];
			if (vm->placement.n_hosts)
				ok = ok && (h == 0 || h == 40 || h == 50);
			if (vm->placement.labels.nr)
				ok = ok && h % 2 == 1;
			if (ok || (h == NH - 1 && tries == 0 && !vm->placement.n_hosts && !vm->placement.labels.nr))
				break;
		}
		mem[h] += vm->cfg.max_memory;
		vcpus[h] += vm->cfg.vcpus;
		spread[h] += vm->placement.spread != NULL;
		where[i] = h;
		obs_add(&o, c, h, vm->name, true, NULL, DOM_RUNNING, 0.05 + (double)((seed >> 4) % 100) / 100);
	}
	p = fixture_plan(c, &o, NULL);
	CHECK(p.n > 100);
	CHECK(p.score_after < 0.5 * p.score);
	for (size_t k = 0; k < p.n; k++) {
		const struct plan_action *a = &p.actions[k];
		size_t i = (size_t)(a->spec - c->vms);
		CHECK(a->kind == ACT_MIGRATE);
		CHECK(a->host == where[i]);
		CHECK(!moved[i]++);
		CHECK(a->dest != NH - 1);
		if (!strcmp(a->reason, "balance")) {
			CHECK(a->score_after <= a->score_before - 0.0001 + 1e-12);
			moves++;
		}
		if (k)
			CHECK(fabs(a->score_before - p.actions[k - 1].score_after) < 1e-9);
		if (a->spec->placement.n_hosts)
			CHECK(a->dest == 0 || a->dest == 40 || a->dest == 50);
		if (a->spec->placement.labels.nr)
			CHECK(a->dest % 2 == 1);
		mem[a->host] -= a->spec->cfg.max_memory;
		vcpus[a->host] -= a->spec->cfg.vcpus;
		spread[a->host] -= a->spec->placement.spread != NULL;
		mem[a->dest] += a->spec->cfg.max_memory;
		vcpus[a->dest] += a->spec->cfg.vcpus;
		spread[a->dest] += a->spec->placement.spread != NULL;
		where[i] = a->dest;
	}
	CHECK(moves <= 400);
	for (size_t h = 0; h < NH; h++) {
		CHECK(mem[h] <= o.hosts[h].memory);
		CHECK(vcpus[h] <= o.hosts[h].cpus * 4);
		CHECK(spread[h] <= 1);
	}
	CHECK_INT(mem[NH - 1], 0);
	free(where);
	free(moved);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

static const char *hosts4 =
	"cluster: t\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 4, memory: 4GiB}}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 4, memory: 4GiB}}\n"
	"  - {name: h3, uri: 'qemu+tcp://c/system', capacity: {cpus: 4, memory: 4GiB}}\n"
	"  - {name: h4, uri: 'qemu+tcp://d/system', capacity: {cpus: 4, memory: 4GiB}}\n"
	"templates:\n"
	"  - {name: s, vcpus: 1, memory: 512MiB, kernel: /k}\n";

/* Where each VM of c is after plan p, from where the observation put it. */
static void apply_moves(const struct cluster *c, const struct plan *p, size_t *where)
{
	for (size_t k = 0; k < p->n; k++) {
		const struct plan_action *a = &p->actions[k];
		size_t i = (size_t)(a->spec - c->vms);
		CHECK(a->kind == ACT_MIGRATE);
		CHECK(a->host == where[i]);
		where[i] = a->dest;
	}
}

/* Pack mode: 8 VMs of 512MiB on 4 hosts of 4GiB, 20% headroom (at most 6
 * per host): two hosts can be emptied, and the plan says which. */
TEST(pack_empties_hosts_within_headroom)
{
	char *y = xasprintf("%svms:\n  - {name: a, template: s, replicas: 8}\n"
			    "balance: {mode: pack, max-migrations: 100}\n", hosts4);
	struct cluster *c = load_yaml(y);
	struct observed o;
	struct plan p;
	size_t where[8], per[4] = { 0 }, empty = 0;
	char *name;

	free(y);
	CHECK_INT(c->balance.mode, BALANCE_PACK);
	obs_init(&o, c);
	for (size_t i = 0; i < 8; i++) {
		name = xasprintf("a-%zu", i);
		where[i] = i % 4;
		obs_add(&o, c, where[i], name, true, NULL, DOM_RUNNING, 0.1);
		free(name);
	}
	p = fixture_plan(c, &o, NULL);
	apply_moves(c, &p, where);
	for (size_t k = 0; k < p.n; k++)
		CHECK_STR(p.actions[k].reason, "pack");
	CHECK_INT(p.n, 4);
	for (size_t i = 0; i < 8; i++)
		per[where[i]]++;
	for (size_t h = 0; h < 4; h++) {
		CHECK(per[h] <= 6);
		empty += per[h] == 0;
	}
	CHECK_INT(empty, 2);
	CHECK_INT(p.n_notes, 1);
	CHECK(p.n_notes && strstr(p.notes[0], "pack: 2 of 4 hosts can be emptied"));
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Pack mode keeps hard constraints: a host with a foreign domain stays, a
 * spread group keeps one member per host, max-migrations holds, and a
 * tighter headroom frees fewer hosts. */
TEST(pack_keeps_constraints)
{
	char *y = xasprintf("%svms:\n  - {name: a, template: s, replicas: 6}\n"
			    "  - {name: sp, template: s, replicas: 2, placement: {spread: sp}}\n"
			    "balance: {mode: pack, max-migrations: 100, pack-headroom: 0.3}\n", hosts4);
	struct cluster *c = load_yaml(y);
	struct observed o;
	struct plan p;
	size_t where[8], per[4] = { 0 };
	char *name;

	free(y);
	obs_init(&o, c);
	/* a-0..a-5 on h1..h3 two each; sp-0 on h3, sp-1 on h4; foreign on h1 */
	for (size_t i = 0; i < 6; i++) {
		name = xasprintf("a-%zu", i);
		where[i] = i / 2;
		obs_add(&o, c, where[i], name, true, NULL, DOM_RUNNING, 0.1);
		free(name);
	}
	where[6] = 2;
	where[7] = 3;
	obs_add(&o, c, 2, "sp-0", true, NULL, DOM_RUNNING, 0.1);
	obs_add(&o, c, 3, "sp-1", true, NULL, DOM_RUNNING, 0.1);
	obs_add(&o, c, 0, "foreign", false, NULL, DOM_RUNNING, 0.1);
	p = fixture_plan(c, &o, NULL);
	apply_moves(c, &p, where);
	/* 30% headroom: 2.8GiB usable, 5 VMs of 512MiB; h1 also carries the
	 * foreign domain (256MiB), 5 still fit beside it */
	for (size_t i = 0; i < 8; i++)
		per[where[i]]++;
	for (size_t h = 0; h < 4; h++)
		CHECK(per[h] <= 5);
	CHECK(where[6] != where[7]);
	/* the foreign domain pins h1; the other 8 fill two hosts, the spread
	 * pair on two different ones: h1 and one more stay */
	CHECK_INT((per[1] == 0) + (per[2] == 0) + (per[3] == 0), 2);
	CHECK(p.n_notes == 1 && strstr(p.notes[0], "pack: 2 of 4 hosts") && !strstr(p.notes[0], "h1"));
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);

	/* the same with max-migrations 1: no host empties with one move */
	y = xasprintf("%svms:\n  - {name: a, template: s, replicas: 6}\n"
		      "balance: {mode: pack, max-migrations: 1}\n", hosts4);
	c = load_yaml(y);
	free(y);
	obs_init(&o, c);
	for (size_t i = 0; i < 6; i++) {
		name = xasprintf("a-%zu", i);
		obs_add(&o, c, i / 2, name, true, NULL, DOM_RUNNING, 0.1);
		free(name);
	}
	p = fixture_plan(c, &o, NULL);
	CHECK_INT(p.n, 0);
	/* h4 was empty from the start: it is the one host reported */
	CHECK(p.n_notes == 1 && strstr(p.notes[0], "pack: 1 of 4 hosts") && strstr(p.notes[0], ": h4"));
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* No single move helps, a swap does: h1 carries two busy VMs, h2 two idle
 * ones (512MiB each) and a 1GiB VM each; 512MiB is free on each host.
 * Moving a busy VM alone evens CPU but unbalances memory, which weighs
 * more; exchanging a busy with an idle VM evens both. The idle one goes
 * first (the busy one has no room on h2 before it leaves). */
TEST(balance_swaps_when_no_single_move_helps)
{
	struct cluster *c = load_yaml(
		"cluster: t\nhosts:\n"
		"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 4, memory: 2560MiB}}\n"
		"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 4, memory: 2560MiB}}\n"
		"templates:\n  - {name: s, vcpus: 1, memory: 512MiB, kernel: /k}\n"
		"vms:\n  - {name: busy, template: s, replicas: 2}\n"
		"  - {name: idle, template: s, replicas: 2}\n"
		"  - {name: big, template: s, replicas: 2, memory: 1GiB}\n"
		"balance: {metrics: {cpu: 1.0, memory: 2.0}, threshold: 0.0, min-gain: 0.001, cooldown: 0s}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	/* h1: busy-0, busy-1, big-0 (2GiB of 2.5); h2: idle-0, idle-1, big-1 */
	obs_add(&o, c, 0, "busy-0", true, NULL, DOM_RUNNING, 1.0);
	obs_add(&o, c, 0, "busy-1", true, NULL, DOM_RUNNING, 1.0);
	obs_add(&o, c, 0, "big-0", true, NULL, DOM_RUNNING, 0.0);
	obs_add(&o, c, 1, "idle-0", true, NULL, DOM_RUNNING, 0.0);
	obs_add(&o, c, 1, "idle-1", true, NULL, DOM_RUNNING, 0.0);
	obs_add(&o, c, 1, "big-1", true, NULL, DOM_RUNNING, 0.0);
	p = fixture_plan(c, &o, NULL);
	CHECK_INT(p.n, 2);
	if (p.n == 2) {
		const struct plan_action *a = &p.actions[0], *b = &p.actions[1];
		CHECK_STR(a->reason, "swap");
		CHECK_STR(b->reason, "swap");
		CHECK(a->dest == b->host && b->dest == a->host);
		CHECK(!strncmp(a->vm, "idle", 4) && a->dest == 0);
		CHECK(!strncmp(b->vm, "busy", 4) && b->dest == 1);
		CHECK(p.score_after < 0.5 * p.score);
	}
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Placement on a large cluster tries a bounded set of hosts: every VM is
 * still placed where the constraints allow, and a VM that fits only a host
 * outside that set (a big host already half full) still finds it. */
TEST(place_many_on_large_cluster)
{
	enum { NH = 101, NV = 2000 };
	struct strbuf y = STRBUF_INIT;
	struct cluster *c;
	struct observed o;
	struct load l;
	const struct vm_spec **v;
	long *where;
	uint64_t mem[NH] = { 0 };
	int spread[NH] = { 0 };
	struct strbuf why = STRBUF_INIT;

	strbuf_adds(&y, "cluster: big\nhosts:\n");
	for (int h = 0; h < NH - 1; h++)
		strbuf_addf(&y, "  - {name: h%03d, uri: 'qemu+tcp://h%d/system', capacity: {cpus: 16, memory: 8GiB}, "
			    "labels: {rack: %s}}\n", h, h, h % 2 ? "b" : "a");
	strbuf_adds(&y, "  - {name: huge, uri: 'qemu+tcp://huge/system', capacity: {cpus: 64, memory: 64GiB}}\n"
		    "templates:\n  - {name: s, vcpus: 1, memory: 256MiB, kernel: /k}\n"
		    "vms:\n"
		    "  - {name: small, template: s, replicas: 1900}\n"
		    "  - {name: spr, template: s, replicas: 40, placement: {spread: spr}}\n"
		    "  - {name: pin, template: s, replicas: 29, placement: {hosts: [h007, h070]}}\n"
		    "  - {name: rb, template: s, replicas: 30, placement: {labels: {rack: b}}}\n"
		    "  - {name: jumbo, template: s, memory: 24GiB}\n");
	c = load_yaml(y.buf);
	strbuf_release(&y);
	CHECK_INT(c->n_vms, NV);
	obs_init(&o, c);
	/* the big host is already half full with a foreign domain: it is the
	 * most used host by memory, so not among the least used */
	obs_add(&o, c, NH - 1, "foreign", false, NULL, DOM_RUNNING, 0)->max_memory = 32 * GiB;
	load_init(&l, c, &o);
	v = xcalloc(NV, sizeof(*v));
	where = xcalloc(NV, sizeof(*where));
	for (size_t i = 0; i < NV; i++)
		v[i] = &c->vms[i];
	CHECK_INT(place_vms(&l, v, NV, where, &why), NV);
	CHECK_STR(why.buf, "");
	for (size_t i = 0; i < NV; i++) {
		long h = where[i];
		CHECK(h >= 0);
		if (h < 0)
			continue;
		mem[h] += v[i]->cfg.max_memory;
		spread[h] += v[i]->placement.spread != NULL;
		if (v[i]->placement.n_hosts)
			CHECK(h == 7 || h == 70);
		if (v[i]->placement.labels.nr)
			CHECK(h % 2 == 1 && h < NH - 1);
		if (!strcmp(v[i]->name, "jumbo"))
			CHECK(h == NH - 1);
	}
	for (size_t h = 0; h < NH; h++) {
		CHECK(mem[h] + (h == NH - 1 ? 32 * GiB : 0) <= o.hosts[h].memory);
		CHECK(spread[h] <= 1);
	}
	/* spread evenly: 2000 VMs of 256MiB on 100 hosts of 8GiB */
	CHECK(load_score(&l) < 0.05);
	strbuf_release(&why);
	free(v);
	free(where);
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
}

/* Balancing on mixed hosts, from a skewed start, with everything the
 * search may try (lookahead, swaps, and the pruning pass that undoes moves
 * worth too little): run in the plan's order, every migration leaves from
 * where the VM is, fits its destination's memory and vCPUs at that moment,
 * keeps spread groups apart and pinned VMs on their hosts, and the scores
 * chain (each move starts at the score the one before it ended at). With
 * these numbers the pruning pass drops one of 22 moves. */
/* Replays one move against the hosts' tallies (where each VM is, memory,
 * vCPUs, spread members per host) and checks the hard constraints hold on
 * its destination when it runs. */
static void replay_move(const struct cluster *c, const struct observed *o, size_t *where,
			uint64_t *used, int *vcpus, size_t *spread_on, const struct vm_spec *vm,
			size_t host, size_t d)
{
	size_t i = (size_t)(vm - c->vms);

	CHECK(host == where[i]);
	used[host] -= vm->cfg.max_memory;
	vcpus[host] -= vm->cfg.vcpus;
	spread_on[host] -= vm->placement.spread != NULL;
	used[d] += vm->cfg.max_memory;
	vcpus[d] += vm->cfg.vcpus;
	spread_on[d] += vm->placement.spread != NULL;
	where[i] = d;
	CHECK(used[d] <= o->hosts[d].memory - o->hosts[d].reserve);
	CHECK(vcpus[d] <= o->hosts[d].cpus * c->balance.vcpu_overcommit + 1e-9);
	CHECK(spread_on[d] <= 1);
}

/* Replay a balance result's moves in order: each holds the hard
 * constraints when it runs (replay_move), each starts where the one
 * before ended, and no VM moves twice. */
static void replay_plan(const struct cluster *c, const struct observed *o, size_t *where,
			uint64_t *used, int *vcpus, size_t *spread_on, const struct balance_result *r)
{
	for (size_t k = 0; k < r->n_moves; k++) {
		const struct balance_move *m = &r->moves[k];
		for (size_t j = 0; j < k; j++)
			CHECK(r->moves[j].vm != m->vm);
		replay_move(c, o, where, used, vcpus, spread_on, m->vm, m->host, m->dest);
		if (k)
			CHECK(fabs(m->score_before - r->moves[k - 1].score_after) < 1e-9);
	}
}

TEST(balance_moves_hold_constraints_in_order)
{
	enum { NH = 6, NV = 48 };
	static const char *mem[NH] = { "8GiB", "8GiB", "16GiB", "16GiB", "32GiB", "32GiB" };
	struct strbuf y = STRBUF_INIT;
	struct cluster *c;
	struct observed o;
	struct plan p;
	size_t where[NV];
	uint64_t used[NH] = { 0 };
	int vcpus[NH] = { 0 };
	size_t spread_on[NH] = { 0 };

	strbuf_adds(&y, "cluster: mixed\nhosts:\n");
	for (int h = 0; h < NH; h++)
		strbuf_addf(&y, "  - {name: h%d, uri: 'qemu+tcp://h%d/system', capacity: {cpus: %d, memory: %s}}\n",
			    h, h, h < 2 ? 8 : 16, mem[h]);
	strbuf_adds(&y, "templates:\n  - {name: s, vcpus: 1, memory: 256MiB, kernel: /k}\n"
		    "vms:\n"
		    "  - {name: a, template: s, replicas: 24}\n"
		    "  - {name: b, template: s, replicas: 16, memory: 1GiB, vcpus: 2}\n"
		    "  - {name: sp, template: s, replicas: 4, memory: 512MiB, placement: {spread: sp}}\n"
		    "  - {name: pin, template: s, replicas: 4, memory: 768MiB, placement: {hosts: [h0, h4]}}\n"
		    "balance: {threshold: 0.0, min-gain: 0.003, max-migrations: 1000, cooldown: 0s}\n");
	c = load_yaml(y.buf);
	strbuf_release(&y);
	CHECK_INT(c->n_vms, NV);
	obs_init(&o, c);
	/* skewed: most on the two small hosts, spread members apart */
	for (size_t i = 0; i < NV; i++) {
		const struct vm_spec *vm = &c->vms[i];
		size_t h = vm->placement.spread ? i % 4 : vm->placement.n_hosts ? 0 : i % 3 == 2 ? 2 : i % 2;
		where[i] = h;
		obs_add(&o, c, h, vm->name, true, NULL, DOM_RUNNING, 0.05 * (double)(i % 7));
		used[h] += vm->cfg.max_memory;
		vcpus[h] += vm->cfg.vcpus;
		spread_on[h] += vm->placement.spread != NULL;
	}
	p = fixture_plan(c, &o, NULL);
	CHECK(p.n >= 10);
	CHECK(p.score_after < p.score);
	for (size_t k = 0; k < p.n; k++) {
		const struct plan_action *a = &p.actions[k];
		size_t d = a->dest;
		const struct vm_spec *vm = a->spec;
		CHECK(a->kind == ACT_MIGRATE);
		replay_move(c, &o, where, used, vcpus, spread_on, vm, a->host, d);
		if (vm->placement.n_hosts)
			CHECK(d == 0 || d == 4);
		if (k)
			CHECK(fabs(a->score_before - p.actions[k - 1].score_after) < 1e-9);
	}
	if (p.n)
		CHECK(fabs(p.actions[p.n - 1].score_after - p.score_after) < 1e-9);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Snapshots: what is written reads back the same; a syntax error names its place. */
TEST(snapshot_round_trip)
{
	struct cluster *c = cl("vms:\n  - {name: v, template: s, replicas: 2}\n");
	struct observed o, back;
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	char path[] = "/tmp/vem-test-snapshot-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	CHECK(fd >= 0);
	obs_init(&o, c);
	free(o.hosts[0].labels.items[0].value);
	o.hosts[0].labels.items[0].value = xstrdup("a \"quoted\"\\ \xc3\xa9\t\x01");
	obs_add(&o, c, 1, "v-0", true, NULL, DOM_RUNNING, 0.25)->meta.migrated_at = 1234;
	obs_add(&o, c, 2, "foreign", false, NULL, DOM_STOPPED, -1);
	observed_write_json(&o, &sb);
	f = fdopen(fd, "w");
	fputs(sb.buf, f);
	fclose(f);
	CHECK(observed_read_json(path, &back, &err) == 0);
	CHECK_INT(back.n_hosts, 3);
	CHECK_INT(back.n_domains, 2);
	CHECK_STR(labels_get(&back.hosts[0].labels, "rack"), "a \"quoted\"\\ \xc3\xa9\t\x01");
	CHECK_INT(back.hosts[2].memory, o.hosts[2].memory);
	CHECK_INT(back.hosts[2].cpus, 2);
	CHECK_STR(back.domains[0].meta.vm, "v-0");
	CHECK_INT(back.domains[0].host, 1);
	CHECK_INT(back.domains[0].meta.migrated_at, 1234);
	CHECK(fabs(back.domains[0].cpu_load - 0.25) < 1e-9);
	CHECK(!back.domains[1].owned && back.domains[1].state == DOM_STOPPED);
	observed_release(&back);

	f = fopen(path, "w");
	fputs("{\"hosts\": [{\"name\": \"a\",\n  \"online\": tru}], \"domains\": []}", f);
	fclose(f);
	CHECK(observed_read_json(path, &back, &err) == -1);
	CHECK_STR(err_msg(&err), "invalid snapshot: unknown literal");
	CHECK_INT(err.items[0].line, 2);
	CHECK_INT(err.items[0].col, 13);
	unlink(path);
	strbuf_release(&sb);
	errbuf_release(&err);
	observed_release(&o);
	cluster_free(c);
}

/*
 * The stopping rule: a skewed cluster like the benchmark's (20 hosts, 250
 * VMs of 512MiB..8GiB and 1..8 vCPUs, three in four on the first third of
 * the hosts, some spread apart), with a near-zero min-gain, as the hbal
 * benchmark runs it. Before balancing, steepest descent is run on trial
 * and undone (the first move starts from the observed score), as hbal runs
 * it (the reference: it goes on with gains below min-gain and moves VMs
 * again, here to 0.03376 in 62 moves) and as a plan (min-gain, each VM
 * once: 0.03377 in 60). The search ends no worse than the reference, here
 * in fewer moves (46 against 62), stops by the rule (3% below the
 * reference's score, or 1% once it made as many moves) and not a move
 * later; and every move holds the hard constraints when it runs. Without
 * the rule (balance_done always false) the last two checks of the stop
 * fail: the search goes on past the reference's move count; with the
 * margins before (10% and 4%) it stops 2 moves later, at 0.84 of the
 * reference, and the check of 0.88 fails. Without the reference going on,
 * the checks against the plain descent fail.
 */
/* balance: as the hbal benchmark runs it */
static const char *const bench_balance =
	"balance: {metrics: {cpu: 1.0, memory: 1.0, vcpu: 4.0}, threshold: 0.0,\n"
	"          min-gain: 0.00005, max-migrations: 100000, cooldown: 0s}\n";

/* Hosts of 16 CPUs and 64 GiB, or with mixed, of the sweep's "mixed" sizes
 * (8 to 48 CPUs, 32 to 256 GiB) and its loads (one VM in ten busy, the
 * rest nearly idle). */
static struct cluster *stop_cluster_seed(struct observed *o, const char *balance, size_t *where,
					 uint64_t *used, int *vcpus, size_t *spread_on, unsigned seed,
					 bool mixed)
{
	enum { NH = 20, NV = 250 };
	static const int cpus_of[] = { 8, 16, 24, 32, 48 }, gib_of[] = { 32, 64, 96, 128, 256 };
	struct strbuf y = STRBUF_INIT;
	struct cluster *c;

	strbuf_adds(&y, "cluster: stop\nhosts:\n");
	for (int h = 0; h < NH; h++) {
		unsigned k = 1;
		if (mixed) {
			seed = seed * 1103515245 + 12345;
			k = (seed >> 8) % 5;
		}
		strbuf_addf(&y, "  - {name: h%02d, uri: 'qemu+tcp://h%d/system', capacity: {cpus: %d, memory: %dGiB}}\n",
			    h, h, cpus_of[k], gib_of[k]);
	}
	strbuf_adds(&y, "templates:\n  - {name: s, vcpus: 1, memory: 512MiB, kernel: /k}\nvms:\n");
	for (int v = 0; v < NV; v++) {
		seed = seed * 1103515245 + 12345;
		strbuf_addf(&y, "  - {name: v%03d, template: s, memory: %uMiB, vcpus: %u%s}\n", v,
			    512u << ((seed >> 8) % 5), 1u << ((seed >> 12) % 4),
			    v % 25 == 0 ? ", placement: {spread: sp}" : "");
	}
	strbuf_adds(&y, balance);
	c = load_yaml(y.buf);
	strbuf_release(&y);
	obs_init(o, c);
	/* three in four VMs on the first third of the hosts while they fit
	 * (90% of memory, 4 vCPUs per CPU), spread members apart */
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *vm = &c->vms[i];
		size_t h;
		double load;
		seed = seed * 1103515245 + 12345;
		h = vm->placement.spread ? 7 + i / 25 : (seed >> 8) % 4 ? (seed >> 12) % 7 : (seed >> 12) % NH;
		while (used[h] + vm->cfg.max_memory > o->hosts[h].memory * 9 / 10 ||
		       vcpus[h] + vm->cfg.vcpus > o->hosts[h].cpus * 4 ||
		       (vm->placement.spread && spread_on[h]))
			h = (h + 1) % NH;
		where[i] = h;
		used[h] += vm->cfg.max_memory;
		vcpus[h] += vm->cfg.vcpus;
		spread_on[h] += vm->placement.spread != NULL;
		if (!mixed)
			load = (double)((seed >> 4) % 100) / 100 * vm->cfg.vcpus;
		else if ((seed >> 4) % 10 == 0)
			load = (0.6 + 0.4 * (double)((seed >> 16) % 100) / 100) * vm->cfg.vcpus;
		else
			load = 0.02 * (double)((seed >> 16) % 100) / 100 * vm->cfg.vcpus;
		obs_add(o, c, h, vm->name, true, NULL, DOM_RUNNING, load);
	}
	return c;
}

static struct cluster *stop_cluster(struct observed *o, const char *balance, size_t *where,
				    uint64_t *used, int *vcpus, size_t *spread_on)
{
	return stop_cluster_seed(o, balance, where, used, vcpus, spread_on, 1, false);
}

TEST(balance_stops_below_steepest_descent)
{
	size_t where[250];
	uint64_t used[20] = { 0 };
	int vcpus[20] = { 0 };
	size_t spread_on[20] = { 0 };
	struct observed o;
	struct cluster *c = stop_cluster(&o, bench_balance, where, used, vcpus, spread_on);
	struct balance_options opt = { .balance = true, .now = time_now_ms() };
	struct balance_result r;
	struct load l;
	double start, last_before;
	size_t n;

	CHECK_INT(c->n_vms, 250);
	load_init(&l, c, &o);
	start = load_score(&l);
	balance_run(&l, &opt, &r);
	n = r.n_moves;
	CHECK(r.descent_moves >= 10);
	CHECK(r.descent_score < 0.5 * start);
	/* the reference goes on where the plain descent stops */
	CHECK(r.descent_moves > r.plain_moves);
	CHECK(r.descent_score < r.plain_score);
	CHECK(r.fallback_score <= r.plain_score);
	CHECK(n >= 1);
	if (n) {
		const struct balance_move *lm = &r.moves[n - 1];
		/* the trial descent was undone: the search starts from the observed state */
		CHECK(fabs(r.moves[0].score_before - start) < 1e-9);
		/* no worse than steepest descent, in fewer moves */
		CHECK(lm->score_after <= r.descent_score);
		CHECK((int)n < r.descent_moves);    /* 46 against 62 */
		/* stopped by the rule, and not a move later */
		CHECK(lm->score_after <= 0.97 * r.descent_score ||
		      ((int)n >= r.descent_moves && lm->score_after <= 0.99 * r.descent_score));
		/* ... and does not go on toward the margins before (10%, 4%:
		 * 0.84 of the reference, in 48 moves) */
		CHECK(lm->score_after > 0.88 * r.descent_score);
		last_before = lm->score_before;
		CHECK(last_before > 0.97 * r.descent_score);
		CHECK(!((int)n - 1 >= r.descent_moves && last_before <= 0.99 * r.descent_score));
		CHECK(fabs(lm->score_after - load_score(&l)) < 1e-9);
	}
	replay_plan(c, &o, where, used, vcpus, spread_on, &r);
	balance_result_release(&r);
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
}

/* With a small max-migrations (the default is 4) the descent is bounded
 * the same way: the reference is what 4 steepest moves reach, and the
 * search stops within those 4 moves no worse than them. */
TEST(balance_stop_rule_with_few_migrations)
{
	static const char *bal = "balance: {metrics: {cpu: 1.0, memory: 1.0, vcpu: 4.0}, threshold: 0.0,\n"
				 "          min-gain: 0.00005, max-migrations: 4, cooldown: 0s}\n";
	size_t where[250];
	uint64_t used[20] = { 0 };
	int vcpus[20] = { 0 };
	size_t spread_on[20] = { 0 };
	struct observed o;
	struct cluster *c = stop_cluster(&o, bal, where, used, vcpus, spread_on);
	struct balance_options opt = { .balance = true, .now = time_now_ms() };
	struct balance_result r;
	struct load l;

	load_init(&l, c, &o);
	balance_run(&l, &opt, &r);
	CHECK_INT(r.descent_moves, 4);
	CHECK(r.n_moves >= 1 && r.n_moves <= 4);
	if (r.n_moves)
		CHECK(r.moves[r.n_moves - 1].score_after <= r.descent_score + 1e-12);
	balance_result_release(&r);
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
}

/* The stop cluster of a seed balanced: its scores and moves, every move
 * replayed (the hard constraints hold when it runs, the scores chain). */
struct stop_run {
	double score, ref, fallback;
	size_t moves, swaps;
	int ref_moves, net_moves;
};

static struct stop_run stop_run_seed(unsigned seed, bool mixed)
{
	size_t where[250];
	uint64_t used[20] = { 0 };
	int vcpus[20] = { 0 };
	size_t spread_on[20] = { 0 };
	struct observed o;
	struct cluster *c = stop_cluster_seed(&o, bench_balance, where, used, vcpus, spread_on, seed, mixed);
	struct balance_options opt = { .balance = true, .now = time_now_ms() };
	struct balance_result r;
	struct load l;
	struct stop_run out = { 0 };

	load_init(&l, c, &o);
	balance_run(&l, &opt, &r);
	out.score = load_score(&l);
	out.ref = r.descent_score;
	out.fallback = r.fallback_score;
	out.moves = r.n_moves;
	out.ref_moves = r.descent_moves;
	out.net_moves = r.net_moves;
	for (size_t k = 0; k < r.n_moves; k++)
		out.swaps += !strcmp(r.moves[k].reason, "swap");
	replay_plan(c, &o, where, used, vcpus, spread_on, &r);
	balance_result_release(&r);
	load_release(&l);
	observed_release(&o);
	cluster_free(c);
	return out;
}

/*
 * Swaps until the reference: on the stop cluster of seed 8 single moves
 * run out (none gains min-gain) at 0.0279, above the reference's 0.0262,
 * and every swap left gains less than 4% of the score (the bound for a
 * swap when no single move is left). While the score is above the
 * reference such swaps are taken: the search ends at 0.0254, below the
 * reference, and every move holds the hard constraints when it runs.
 * Before, it stopped at 0.0279 (6.5% above the reference).
 */
TEST(balance_swaps_until_the_reference)
{
	struct stop_run x = stop_run_seed(8, false);

	CHECK(x.ref > 0);
	CHECK(x.score <= x.ref);
	CHECK(x.swaps >= 2);
}

/*
 * The search again after the fallback: on the stop cluster of seed 94 the
 * search ends at 0.02575, worse than the plain descent (0.02458, 50 moves)
 * and the reference (0.02455, whose net moves are 51). From each descent's
 * last move the search goes on (single moves one ahead, swaps): from the
 * plain descent it ends at 0.02350, below the reference; from the net
 * moves, which end where no single move gains, at 0.02455. The better is
 * planned, every move holding the hard constraints when it runs. Before
 * the search went on after a fallback, the plan was the fallback's moves
 * alone (0.02458); planning the net moves without trying both, 0.02455.
 */
TEST(balance_searches_again_after_the_fallback)
{
	struct stop_run x = stop_run_seed(94, false);

	CHECK_INT(x.net_moves, 51);
	CHECK(x.score < x.ref - 0.0005);
}

/*
 * The reference's net moves: on the stop cluster of seed 199 the reference
 * (steepest descent as hbal runs it) moves one VM twice and ends at 0.02838
 * in 60 moves; its longest prefix that is a plan, and the plain descent,
 * end at 0.03228, and the search at 0.03047, above the reference. Each VM
 * moved once from where it was to where the reference leaves it (59
 * migrations, ordered so each fits when it runs) is a plan that ends at
 * the reference's score: it is planned, the search goes on from it and
 * ends at 0.02590, every move holding the hard constraints when it runs and
 * no VM moving twice. Before, the plan ended at the search's 0.03047.
 */
TEST(balance_plans_the_references_net_moves)
{
	struct stop_run x = stop_run_seed(199, false);

	CHECK_INT(x.ref_moves, 60);
	CHECK_INT(x.net_moves, 59);
	CHECK(fabs(x.fallback - x.ref) < 1e-12);
	CHECK(x.score < x.ref);
}

/*
 * When the search ends worse than steepest descent (it can: on this cluster
 * of mixed host sizes, 12 hosts and 120 VMs, its lookahead and swaps end at
 * 0.0729 where the plain descent reaches 0.0710 in 66 moves; the reference,
 * on another path, 0.0720), the plan is the better of the plain descent and
 * the reference's longest prefix that is a plan, here the plain descent's
 * moves: the result is never worse than it, each move holds the hard
 * constraints when it runs, and no VM moves twice. Without the fallback the
 * plan ended at the search's worse score.
 */
/*
 * Hosts of different CPU counts (the stop cluster of seed 118 with the
 * sweep's "mixed" hosts and loads): vem's own steepest descent ends in a
 * poor local minimum, 0.02918 after 70 moves; the descents that count CPU
 * load absolute, in units of each host size, reach 0.02386 by vem's score.
 * The stopping rule measures the search against the lowest: it ends at
 * 0.02293 in 63 moves, every move holding the hard constraints when it runs
 * and no VM moving twice. Before, measured against vem's descent alone, it
 * stopped at 0.02830 (3% below it) after 53 moves.
 */
TEST(balance_stops_below_the_absolute_cpu_descents)
{
	struct stop_run x = stop_run_seed(118, true);

	CHECK_INT(x.ref_moves, 70);
	CHECK(x.score < 0.85 * x.ref);
	CHECK(x.moves <= (size_t)x.ref_moves);
}

TEST(balance_falls_back_to_steepest_descent)
{
	enum { NH = 12 };
	struct strbuf y = STRBUF_INIT;
	struct cluster *c;
	struct observed o;
	struct balance_options opt = { .balance = true, .now = time_now_ms() };
	struct balance_result r;
	struct load l;
	size_t where[120];
	uint64_t used[NH] = { 0 };
	int vcpus[NH] = { 0 };
	size_t spread_on[NH] = { 0 };
	bool moved[120] = { false };
	unsigned seed = 2;

	strbuf_adds(&y, "cluster: fb\nhosts:\n");
	for (int h = 0; h < NH; h++)
		strbuf_addf(&y, "  - {name: h%02d, uri: 'qemu+tcp://h%d/system', capacity: {cpus: %d, memory: %dGiB}}\n",
			    h, h, h % 3 ? 16 : 32, 16 << (h % 3));
	strbuf_adds(&y, "templates:\n  - {name: s, vcpus: 1, memory: 512MiB, kernel: /k}\n"
		    "vms:\n"
		    "  - {name: a, template: s, replicas: 60}\n"
		    "  - {name: b, template: s, replicas: 40, memory: 2GiB, vcpus: 2}\n"
		    "  - {name: c, template: s, replicas: 12, memory: 4GiB, vcpus: 4}\n"
		    "  - {name: sp, template: s, replicas: 8, memory: 1GiB, placement: {spread: sp}}\n"
		    "balance: {metrics: {cpu: 1.0, memory: 1.0, vcpu: 4.0}, threshold: 0.0,\n"
		    "          min-gain: 0.00005, max-migrations: 100000, cooldown: 0s}\n");
	c = load_yaml(y.buf);
	strbuf_release(&y);
	CHECK_INT(c->n_vms, 120);
	obs_init(&o, c);
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm_spec *vm = &c->vms[i];
		size_t h;
		seed = seed * 1103515245 + 12345;
		h = vm->placement.spread ? 4 + i % 8 : (seed >> 8) % 4 == 0 ? (seed >> 12) % NH : (seed >> 12) % 4;
		while (used[h] + vm->cfg.max_memory > o.hosts[h].memory * 9 / 10 ||
		       vcpus[h] + vm->cfg.vcpus > o.hosts[h].cpus * 4 ||
		       (vm->placement.spread && spread_on[h]))
			h = (h + 1) % NH;
		where[i] = h;
		used[h] += vm->cfg.max_memory;
		vcpus[h] += vm->cfg.vcpus;
		spread_on[h] += vm->placement.spread != NULL;
		obs_add(&o, c, h, vm->name, true, NULL, DOM_RUNNING, (double)((seed >> 4) % 100) / 100 * vm->cfg.vcpus);
	}
	load_init(&l, c, &o);
	balance_run(&l, &opt, &r);
	CHECK(r.descent_moves > 0);
	CHECK(r.descent_score > r.plain_score);
	CHECK_INT(r.n_moves, r.plain_moves);
	CHECK(fabs(r.fallback_score - r.plain_score) < 1e-12);
	CHECK(fabs(load_score(&l) - r.plain_score) < 1e-9);
	for (size_t k = 0; k < r.n_moves; k++) {
		const struct balance_move *m = &r.moves[k];
		size_t i = (size_t)(m->vm - c->vms);
		CHECK_STR(m->reason, "balance");
		CHECK(!moved[i]);
		moved[i] = true;
		replay_move(c, &o, where, used, vcpus, spread_on, m->vm, m->host, m->dest);
		CHECK(m->score_after < m->score_before);
		if (k)
			CHECK(fabs(m->score_before - r.moves[k - 1].score_after) < 1e-9);
	}
	if (r.n_moves)
		CHECK(fabs(r.moves[r.n_moves - 1].score_after - r.plain_score) < 1e-9);
	balance_result_release(&r);
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
	RUN(balance_large_cluster_keeps_constraints);
	RUN(snapshot_round_trip);
	RUN(pack_empties_hosts_within_headroom);
	RUN(pack_keeps_constraints);
	RUN(balance_swaps_when_no_single_move_helps);
	RUN(place_many_on_large_cluster);
	RUN(balance_moves_hold_constraints_in_order);
	RUN(balance_stops_below_steepest_descent);
	RUN(balance_stop_rule_with_few_migrations);
	RUN(balance_falls_back_to_steepest_descent);
	RUN(balance_swaps_until_the_reference);
	RUN(balance_searches_again_after_the_fallback);
	RUN(balance_plans_the_references_net_moves);
	RUN(balance_stops_below_the_absolute_cpu_descents);
	return test_done();
}
