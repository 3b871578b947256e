/* Unit tests: desired x observed -> plan, and how plans are shown. */
#include "test.h"
#include "reconciler/plan.h"
#include "fixtures.h"
#include "hv/hv_priv.h"

static const char *base =
	"cluster: t\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 4, memory: 4GiB}}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 4, memory: 4GiB}}\n"
	"templates:\n"
	"  - {name: small, vcpus: 1, memory: 256MiB, kernel: /k}\n";

static struct cluster *cl(const char *vms)
{
	char *y = xasprintf("%s%s", base, vms);
	struct cluster *c = load_yaml(y);
	free(y);
	return c;
}

static struct plan build(const struct cluster *c, const struct observed *o, struct plan_options *po)
{
	struct plan p;
	struct errbuf err = ERRBUF_INIT;
	struct plan_options def;
	if (!po) {
		plan_options_default(&def);
		po = &def;
	}
	CHECK(plan_build(c, o, po, &p, &err) == 0);
	errbuf_release(&err);
	return p;
}

static size_t count(const struct plan *p, enum act_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->actions[i].kind == k;
	return n;
}

/* Host h's active pools and networks from comma-separated names ("" none). */
static void set_res(struct obs_host *h, const char *pools, const char *nets)
{
	const char *lists[2] = { pools, nets };
	char **v[2];
	size_t n[2];

	for (int k = 0; k < 2; k++) {
		char *copy = xstrdup(lists[k]), *save = NULL;
		v[k] = xcalloc(8, sizeof(char *));
		n[k] = 0;
		for (char *t = strtok_r(copy, ",", &save); t && n[k] < 7; t = strtok_r(NULL, ",", &save))
			v[k][n[k]++] = xstrdup(t);
		free(copy);
	}
	obs_host_set_resources(h, v[0], n[0], v[1], n[1]);
}

TEST(creates_spread_over_hosts)
{
	struct cluster *c = cl("vms:\n  - {name: api, template: small, replicas: 2, placement: {spread: api}}\n");
	struct observed o;
	struct plan p;
	char *txt;
	obs_init(&o, c);
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 2);
	CHECK(p.actions[0].host != p.actions[1].host);
	txt = plan_text(&p, &o);
	CHECK_STR(txt, "+ create api-0 on h1\n+ create api-1 on h2\n"
		       "Plan: 2 to create, 0 to update, 0 to start, 0 to stop, 0 to remove, 0 to migrate.\n");
	free(txt);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(converged_means_no_changes)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n");
	struct observed o;
	struct plan p;
	char *txt;
	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, NULL, DOM_RUNNING, 0.1);
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 0);
	txt = plan_text(&p, &o);
	CHECK_STR(txt, "no changes\n");
	free(txt);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(start_and_stop_follow_state)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n  - {name: b, template: small, state: stopped}\n");
	struct observed o;
	struct plan p;
	char *txt;
	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, NULL, DOM_STOPPED, 0);
	obs_add(&o, c, 1, "b", true, NULL, DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_START), 1);
	CHECK_INT(count(&p, ACT_STOP), 1);
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "> start a on h1\n") != NULL);
	CHECK(strstr(txt, "< stop b on h2 (state: stopped)\n") != NULL);
	free(txt);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(memory_change_classified)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small, memory: 512MiB}\n"
			       "  - {name: b, template: small, memory: 128MiB, max-memory: 256MiB}\n");
	struct observed o;
	struct plan p;
	char *txt;
	obs_init(&o, c);
	/* both observed with the template's 256MiB and an older spec */
	obs_add(&o, c, 0, "a", true, "old", DOM_RUNNING, 0)->memory = 256 * MiB;
	o.domains[0].max_memory = 256 * MiB;
	obs_add(&o, c, 0, "b", true, "old", DOM_RUNNING, 0)->memory = 256 * MiB;
	o.domains[1].max_memory = 256 * MiB;
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_UPDATE), 2);
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "~ update a on h1: max-memory 256MiB -> 512MiB, memory 256MiB -> 512MiB (restart)\n") != NULL);
	CHECK(strstr(txt, "~ update b on h1: memory 256MiB -> 128MiB (live)\n") != NULL);
	free(txt);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(pruning_and_its_limits)
{
	struct cluster *c = cl("vms:\n  - {name: keep, template: small}\n");
	struct observed o;
	struct plan p;
	struct plan_options po;
	obs_init(&o, c);
	obs_add(&o, c, 0, "keep", true, NULL, DOM_RUNNING, 0);
	for (int i = 0; i < 4; i++) {
		char n[16];
		snprintf(n, sizeof(n), "old-%d", i);
		obs_add(&o, c, 1, n, true, "x", DOM_RUNNING, 0);
	}
	obs_add(&o, c, 1, "foreign", false, NULL, DOM_RUNNING, 0);

	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_REMOVE), 4);
	for (size_t i = 0; i < p.n; i++)
		CHECK(strcmp(p.actions[i].vm, "foreign") != 0);
	plan_release(&p);

	plan_options_default(&po);
	po.max_removals = 3;
	p = build(c, &o, &po);
	CHECK_INT(count(&p, ACT_REMOVE), 3);
	CHECK_INT(p.n_notes, 1);
	CHECK(strstr(p.notes[0], "1 removal held back by the removal budget of 3 per run") != NULL);
	CHECK_INT(p.held_budget, 1);
	plan_release(&p);

	plan_options_default(&po);
	po.prune = false;
	p = build(c, &o, &po);
	CHECK_INT(p.n, 0);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(empty_desired_state_refused)
{
	struct cluster *c = cl("");
	struct observed o;
	struct plan p;
	struct plan_options po;
	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, "x", DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	CHECK(p.refused);
	CHECK_INT(p.n, 0);
	CHECK(strstr(p.notes[0], "--allow-empty") != NULL);
	plan_release(&p);
	plan_options_default(&po);
	po.allow_empty = true;
	p = build(c, &o, &po);
	CHECK(!p.refused);
	CHECK_INT(count(&p, ACT_REMOVE), 1);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(offline_host_no_duplicates)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n  - {name: b, template: small}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	o.hosts[1].online = false;
	obs_add(&o, c, 0, "a", true, NULL, DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	/* b may be on the unreachable h2: not created */
	CHECK_INT(p.n, 0);
	CHECK_INT(p.n_notes, 1);
	CHECK(strstr(p.notes[0], "'b'") != NULL);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(duplicate_after_crashed_migration)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, NULL, DOM_STOPPED, 0);
	obs_add(&o, c, 1, "a", true, NULL, DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 1);
	CHECK(p.actions[0].kind == ACT_REMOVE && p.actions[0].host == 0);
	CHECK_STR(p.actions[0].reason, "duplicate; its volumes are kept");
	/* on shared storage the duplicate's volumes are the primary's */
	CHECK(p.actions[0].keep_disks == HV_KEEP_ALL);
	CHECK(!p.actions[0].destroys);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(unplaceable_is_explained)
{
	struct cluster *c = cl("vms:\n  - {name: big, template: small, memory: 16GiB}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.n_notes, 1);
	CHECK_STR(p.notes[0], "cannot place 'big': h1: needs 16GiB, 4GiB free; h2: needs 16GiB, 4GiB free");
	CHECK_INT(p.held_unplaceable, 1);
	CHECK_INT(plan_held(&p), 1);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(json_output)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n");
	struct observed o;
	struct plan p;
	struct strbuf sb = STRBUF_INIT;
	obs_init(&o, c);
	p = build(c, &o, NULL);
	plan_write_json(&p, c, &o, &sb);
	CHECK(strstr(sb.buf, "\"changes\": 1") != NULL);
	CHECK(strstr(sb.buf, "\"action\": \"create\"") != NULL);
	CHECK(strstr(sb.buf, "\"host\": \"h1\"") != NULL);
	strbuf_release(&sb);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}


static void add_volume(struct obs_domain *d, const char *path)
{
	d->meta.volumes = xrealloc(d->meta.volumes, (d->meta.n_volumes + 1) * sizeof(char *));
	d->meta.volumes[d->meta.n_volumes++] = xstrdup(path);
}

#define POOL "/var/lib/libvirt/images/"

TEST(volume_kinds)
{
	CHECK_INT(hv_volume_kind(POOL "vem-t-web-0-disk0.qcow2"), 0);
	CHECK_INT(hv_volume_kind(POOL "vem-t-web-0-disk12.qcow2"), 12);
	CHECK_INT(hv_volume_kind("vem-t-my-disk7-vm-disk1.qcow2"), 1);
	CHECK_INT(hv_volume_kind(POOL "vem-t-web-0-seed.iso"), HV_VOL_SEED);
	CHECK_INT(hv_volume_kind(POOL "vem-t-web-0-disk.qcow2"), HV_VOL_OTHER);
	CHECK_INT(hv_volume_kind(POOL "vem-t-web-0-disk1x.qcow2"), HV_VOL_OTHER);
	CHECK_INT(hv_volume_kind(POOL "vem-t-web-0-disk99999999999999999999.qcow2"), HV_VOL_OTHER);
	CHECK_INT(hv_volume_kind(POOL "data.qcow2"), HV_VOL_OTHER);
	CHECK_INT(hv_volume_kind(""), HV_VOL_OTHER);
	CHECK(hv_volume_deleted(POOL "vem-t-a-seed.iso", 3));
	CHECK(!hv_volume_deleted(POOL "vem-t-a-seed.iso", HV_KEEP_ALL));
	CHECK(!hv_volume_deleted(POOL "vem-t-a-disk0.qcow2", 1));
	CHECK(hv_volume_deleted(POOL "vem-t-a-disk1.qcow2", 1));
	CHECK(!hv_volume_deleted(POOL "other.img", 1));
	CHECK(hv_volume_deleted(POOL "other.img", 0));
}

/* 40 owned VMs leave the file: the budget of 10 holds for the plan, and a
 * plan given what is left of the run's budget removes nothing more. */
TEST(removal_budget_is_per_run)
{
	struct cluster *c = cl("vms:\n  - {name: keep, template: small}\n");
	struct observed o;
	struct plan p;
	struct plan_options po;
	obs_init(&o, c);
	obs_add(&o, c, 0, "keep", true, NULL, DOM_RUNNING, 0);
	for (int i = 0; i < 40; i++) {
		char n[16];
		snprintf(n, sizeof(n), "old-%02d", i);
		obs_add(&o, c, i % 2, n, true, "x", DOM_RUNNING, 0);
	}
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_REMOVE), 10);
	CHECK_INT(plan_removals(&p), 10);
	CHECK_INT(p.held_budget, 30);
	CHECK_INT(plan_held(&p), 30);
	plan_release(&p);
	plan_options_default(&po);
	po.max_removals = 0;        /* what exec_converge passes once 10 are done */
	p = build(c, &o, &po);
	CHECK_INT(count(&p, ACT_REMOVE), 0);
	CHECK_INT(p.held_budget, 40);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Adding cloud-init to a VM with a data disk recreates it: the data disk
 * is kept, nothing is destroyed, but it counts against the budget. */
TEST(recreate_keeps_data_disks)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small, disks: [{size: 1GiB}],"
			       " cloud-init: {user-data: examples/clusters/seed/web-user-data}}\n");
	struct observed o;
	struct plan p;
	struct plan_options po;
	struct obs_domain *d;
	char *txt;
	obs_init(&o, c);
	d = obs_add(&o, c, 0, "web", true, "old", DOM_RUNNING, 0);
	add_volume(d, POOL "vem-t-web-disk0.qcow2");
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 1);
	CHECK(p.actions[0].kind == ACT_UPDATE && p.actions[0].impact == IMPACT_RECREATE);
	CHECK_INT(p.actions[0].keep_disks, 1);
	CHECK(!p.actions[0].destroys);
	CHECK_INT(plan_removals(&p), 1);
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "(recreate) (data disks kept)") != NULL);
	free(txt);
	plan_release(&p);
	plan_options_default(&po);
	po.max_removals = 0;
	p = build(c, &o, &po);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_budget, 1);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* A recreate that drops a disk deletes its data: held without consent. */
TEST(destructive_recreate_needs_consent)
{
	struct cluster *c = cl("vms:\n  - {name: db, template: small, disks: [{size: 1GiB}]}\n");
	struct observed o;
	struct plan p;
	struct plan_options po;
	struct obs_domain *d;
	const char *allow[] = { "d*" };
	char *txt;
	obs_init(&o, c);
	d = obs_add(&o, c, 0, "db", true, "old", DOM_RUNNING, 0);
	add_volume(d, POOL "vem-t-db-disk0.qcow2");
	add_volume(d, POOL "vem-t-db-disk1.qcow2");
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_consent, 1);
	CHECK_INT(p.n_notes, 1);
	CHECK_STR(p.notes[0], "held: recreating 'db' on 'h1' would delete 1 data volume "
		  "(vem-t-db-disk1.qcow2); allow it with --allow-destroy db or "
		  "'allow-destroy: [db]' in the cluster file");
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "no changes can be made; not converged: 1 change would destroy data without consent (--allow-destroy)") != NULL);
	free(txt);
	plan_release(&p);

	plan_options_default(&po);
	po.allow_destroy = allow;
	po.n_allow_destroy = 1;
	p = build(c, &o, &po);
	CHECK_INT(p.n, 1);
	CHECK(p.actions[0].destroys);
	CHECK_INT(p.actions[0].keep_disks, 1);
	CHECK_INT(p.actions[0].n_volumes, 1);
	CHECK_STR(p.actions[0].volumes[0], POOL "vem-t-db-disk1.qcow2");
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "DESTROYS DATA: vem-t-db-disk1.qcow2") != NULL);
	CHECK(strstr(txt, "1 destroys data.") != NULL);
	free(txt);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Removing a VM with data: held; allowed by the file's allow-destroy. */
TEST(destructive_removal_needs_consent)
{
	struct cluster *c = cl("vms:\n  - {name: keep, template: small}\n");
	struct cluster *c2 = cl("allow-destroy: ['old-*']\nvms:\n  - {name: keep, template: small}\n");
	struct observed o;
	struct plan p;
	struct obs_domain *d;
	struct strbuf sb = STRBUF_INIT;
	obs_init(&o, c);
	obs_add(&o, c, 0, "keep", true, NULL, DOM_RUNNING, 0);
	d = obs_add(&o, c, 1, "old-1", true, "x", DOM_RUNNING, 0);
	add_volume(d, POOL "vem-t-old-1-disk0.qcow2");
	add_volume(d, POOL "vem-t-old-1-seed.iso");
	d = obs_add(&o, c, 1, "scratch", true, "x", DOM_STOPPED, 0);
	add_volume(d, POOL "vem-t-scratch-seed.iso");   /* no data: no consent needed */
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_REMOVE), 1);
	CHECK_STR(p.actions[0].vm, "scratch");
	CHECK(!p.actions[0].destroys);
	CHECK_INT(p.held_consent, 1);
	plan_release(&p);
	p = build(c2, &o, NULL);
	CHECK_INT(count(&p, ACT_REMOVE), 2);
	CHECK_INT(p.held_consent, 0);
	for (size_t i = 0; i < p.n; i++)
		if (!strcmp(p.actions[i].vm, "old-1")) {
			CHECK(p.actions[i].destroys);
			CHECK_INT(p.actions[i].keep_disks, 0);
			CHECK_INT(p.actions[i].n_volumes, 1);   /* the seed is not data */
		}
	plan_write_json(&p, c2, &o, &sb);
	CHECK(strstr(sb.buf, "\"destroys_data\": true") != NULL);
	CHECK(strstr(sb.buf, "vem-t-old-1-disk0.qcow2") != NULL);
	strbuf_release(&sb);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
	cluster_free(c2);
}

/* A VM that needs a label no host has is not converged, and says which. */
TEST(unplaceable_label_is_named)
{
	struct cluster *c = cl("vms:\n  - {name: gpu, template: small, placement: {labels: {gpu: 'yes'}}}\n"
			       "  - {name: ok, template: small}\n");
	struct observed o;
	struct plan p;
	char *txt;
	obs_init(&o, c);
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 1);
	CHECK_INT(p.held_unplaceable, 1);
	CHECK_STR(p.notes[0], "cannot place 'gpu': h1: lacks label gpu=yes; h2: lacks label gpu=yes");
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "Held back: 1 VM cannot be placed.") != NULL);
	free(txt);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* An update the host cannot make is shown by the plan, not tried. */
TEST(update_needs_the_hypervisor)
{
	struct cluster *c = cl("vms:\n  - {name: x, template: small, hypervisor: kvm}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	obs_add(&o, c, 0, "x", true, "old", DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_blocked, 1);
	CHECK_STR(p.notes[0], "cannot update 'x' on 'h1': the host does not offer hypervisor 'kvm'");
	plan_release(&p);
	o.hosts[0].hv_caps |= 1u << HV_KVM;
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_UPDATE), 1);
	CHECK_INT(plan_held(&p), 0);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* --target: only the VMs named (or their group) are planned. */
TEST(targets_limit_the_plan)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small, replicas: 2}\n"
			       "  - {name: db, template: small}\n");
	struct observed o;
	struct plan p;
	struct plan_options po;
	const char *t1[] = { "web" }, *t2[] = { "db", "old" };
	obs_init(&o, c);
	obs_add(&o, c, 0, "old", true, "x", DOM_RUNNING, 0);
	plan_options_default(&po);
	po.targets = t1;
	po.n_targets = 1;
	p = build(c, &o, &po);
	CHECK_INT(count(&p, ACT_CREATE), 2);
	CHECK_INT(count(&p, ACT_REMOVE), 0);
	plan_release(&p);
	po.targets = t2;
	po.n_targets = 2;
	p = build(c, &o, &po);
	CHECK_INT(count(&p, ACT_CREATE), 1);
	CHECK_STR(p.actions[p.n - 1].vm, "db");
	CHECK_INT(count(&p, ACT_REMOVE), 1);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Saved plans compare digests: of the actions and of what was observed. */
TEST(digests_follow_what_matters)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n  - {name: b, template: small}\n");
	struct observed o;
	struct plan p;
	char d1[65], d2[65], o1[65], o2[65];
	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, NULL, DOM_RUNNING, 0.5);
	p = build(c, &o, NULL);
	plan_digest(&p, &o, d1);
	plan_observed_digest(&o, o1);
	CHECK_INT(strlen(d1), 64);
	o.domains[0].cpu_load = 0.9;            /* the load is not part of it */
	plan_observed_digest(&o, o2);
	CHECK_STR(o2, o1);
	set_res(&o.hosts[1], "default", "");     /* unknown -> known pools are */
	plan_observed_digest(&o, o2);
	CHECK(strcmp(o1, o2) != 0);
	memcpy(o1, o2, sizeof(o1));
	set_res(&o.hosts[1], "default,fast", "");
	plan_observed_digest(&o, o2);
	CHECK(strcmp(o1, o2) != 0);
	o.domains[0].state = DOM_STOPPED;       /* a state is */
	plan_observed_digest(&o, o2);
	CHECK(strcmp(o1, o2) != 0);
	plan_release(&p);
	p = build(c, &o, NULL);                 /* now also a start */
	plan_digest(&p, &o, d2);
	CHECK(strcmp(d1, d2) != 0);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* One libvirt host under two names: every VM looks duplicated. */
TEST(same_host_twice_refused)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	snprintf(o.hosts[0].host_uuid, sizeof(o.hosts[0].host_uuid), "%s",
		 "11111111-2222-3333-4444-555555555555");
	snprintf(o.hosts[1].host_uuid, sizeof(o.hosts[1].host_uuid), "%s",
		 "11111111-2222-3333-4444-555555555555");
	obs_add(&o, c, 0, "web", true, NULL, DOM_RUNNING, 0);
	obs_add(&o, c, 1, "web", true, NULL, DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	CHECK(p.refused);
	CHECK_INT(p.n, 0);
	CHECK_STR(p.notes[0], "hosts 'h1' and 'h2' are the same libvirt host (host UUID "
		  "11111111-2222-3333-4444-555555555555); list each host once");
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Two running copies of one VM: neither is touched. */
TEST(running_twice_is_left_alone)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	obs_add(&o, c, 0, "web", true, NULL, DOM_RUNNING, 0);
	obs_add(&o, c, 1, "web", true, "old", DOM_RUNNING, 0);
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_unsafe, 1);
	CHECK_STR(p.notes[0], "'web' runs on 2 hosts ('h1', 'h2'); vem does not touch it until "
		  "one copy is stopped by hand");
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

static const char *vms_on_resources =
	"vms:\n"
	"  - {name: fast, template: small, disks: [{size: 1GiB, pool: fast}]}\n"
	"  - {name: plain, template: small, disks: [{size: 1GiB}]}\n"
	"  - {name: nopool, template: small, disks: [{size: 1GiB, pool: gone}]}\n"
	"  - {name: nonet, template: small, networks: [{network: lan}]}\n";

/* A VM lands only where its pool is active; a pool or network no host has
 * holds the VM as unplaceable, named. */
TEST(pools_and_networks_decide_placement)
{
	struct cluster *c = cl(vms_on_resources);
	struct observed o;
	struct plan p;
	char *txt;
	obs_init(&o, c);
	set_res(&o.hosts[0], "default", "default");
	set_res(&o.hosts[1], "default,fast", "");
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 2);
	for (size_t i = 0; i < p.n; i++)
		if (!strcmp(p.actions[i].vm, "fast"))
			CHECK_STR(o.hosts[p.actions[i].host].name, "h2");
	CHECK_INT(p.held_unplaceable, 2);
	CHECK_STR(plan_held_why(&p, "nopool"),
		  "cannot place 'nopool': pool 'gone' is not defined on any online host");
	CHECK_STR(plan_held_why(&p, "nonet"),
		  "cannot place 'nonet': network 'lan' is not active on any online host");
	txt = plan_text(&p, &o);
	CHECK(strstr(txt, "Held back: 2 VMs cannot be placed.") != NULL);
	free(txt);
	plan_release(&p);

	/* the only host with 'fast' is in maintenance: not placed, said by name */
	o.hosts[1].maintenance = true;
	p = build(c, &o, NULL);
	CHECK_STR(plan_held_why(&p, "fast"),
		  "cannot place 'fast': pool 'fast' is not defined on any online host");
	plan_release(&p);
	o.hosts[1].maintenance = false;

	/* where some host has it, each host that lacks it says so */
	obs_add(&o, c, 1, "hog", false, NULL, DOM_RUNNING, 0)->memory = 4 * GiB;
	o.domains[o.n_domains - 1].max_memory = 4 * GiB;
	p = build(c, &o, NULL);
	CHECK(plan_held_why(&p, "fast") != NULL &&
	      strstr(plan_held_why(&p, "fast"), "h1: pool 'fast' is not defined") != NULL);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* A snapshot of an older vem (or a host whose pools could not be listed)
 * says nothing about them: unknown filters nothing. */
TEST(unknown_resources_filter_nothing)
{
	struct cluster *c = cl(vms_on_resources);
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 4);
	CHECK_INT(plan_held(&p), 0);
	plan_release(&p);
	/* one host known without the pool, the other unknown: there */
	set_res(&o.hosts[0], "default", "");
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 4);
	for (size_t i = 0; i < p.n; i++)
		if (!strcmp(p.actions[i].vm, "nopool") || !strcmp(p.actions[i].vm, "nonet"))
			CHECK_STR(o.hosts[p.actions[i].host].name, "h2");
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* An existing VM's restart, recreate (here: 'a' gains a disk) or start on a host without its pool
 * or network is held with the reason, not tried at apply. */
TEST(update_needs_the_pool_and_network)
{
	struct cluster *c = cl("vms:\n"
			       "  - {name: a, template: small, memory: 512MiB, disks: [{size: 1GiB, pool: fast}]}\n"
			       "  - {name: b, template: small, networks: [{network: lan}]}\n"
			       "  - {name: l, template: small, memory: 128MiB, max-memory: 256MiB,"
			       " networks: [{network: lan}]}\n");
	struct observed o;
	struct plan p;
	obs_init(&o, c);
	set_res(&o.hosts[0], "default", "");
	set_res(&o.hosts[1], "default,fast", "lan");
	obs_add(&o, c, 0, "a", true, "old", DOM_RUNNING, 0)->memory = 256 * MiB;
	o.domains[0].max_memory = 256 * MiB;
	obs_add(&o, c, 0, "b", true, NULL, DOM_STOPPED, 0);
	obs_add(&o, c, 0, "l", true, "old", DOM_RUNNING, 0)->memory = 256 * MiB;
	o.domains[2].max_memory = 256 * MiB;
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_START), 0);
	CHECK_INT(p.held_blocked, 2);
	CHECK_STR(plan_held_why(&p, "a"), "cannot recreate 'a' on 'h1': pool 'fast' is not defined there");
	CHECK_STR(plan_held_why(&p, "b"), "cannot start 'b' on 'h1': network 'lan' is not active there");
	/* a live change needs nothing new from the host */
	CHECK_INT(count(&p, ACT_UPDATE), 1);
	CHECK(plan_held_why(&p, "l") == NULL);
	plan_release(&p);
	/* the host gains them: planned */
	set_res(&o.hosts[0], "default,fast", "lan");
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_UPDATE), 2);
	CHECK_INT(count(&p, ACT_START), 1);
	CHECK_INT(plan_held(&p), 0);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

static int image_checks, images_checked;

/* A checker that finds the image named "bad" unreachable. */
static void fake_check(const struct image_spec *const *imgs, size_t n, char **why)
{
	image_checks++;
	images_checked += (int)n;
	for (size_t i = 0; i < n; i++)
		why[i] = !strcmp(imgs[i]->name, "bad") ? xstrdup("not reachable: HTTP 404 (u)") : NULL;
}

/* A VM to create (or recreate) on an image that cannot be had is held at
 * plan time with the reason; the creates' distinct images are checked in
 * one call, and nothing is checked for a VM that stays as it is. */
TEST(unreachable_image_held)
{
	struct cluster *c = cl("images:\n"
			       "  - {name: bad, url: 'https://example.org/bad.qcow2', sha256: '"
			       "0000000000000000000000000000000000000000000000000000000000000000'}\n"
			       "  - {name: ok, url: 'https://example.org/ok.qcow2', sha256: '"
			       "1111111111111111111111111111111111111111111111111111111111111111'}\n"
			       "vms:\n"
			       "  - {name: a, template: small, replicas: 2, disks: [{image: bad}]}\n"
			       "  - {name: b, template: small, disks: [{image: ok}, {image: bad}]}\n"
			       "  - {name: g, template: small, disks: [{image: ok}]}\n"
			       "  - {name: run, template: small, disks: [{image: bad}]}\n");
	struct observed o;
	struct plan p;
	struct plan_options po;
	obs_init(&o, c);
	obs_add(&o, c, 0, "run", true, NULL, DOM_RUNNING, 0);
	plan_options_default(&po);
	CHECK(po.check_images == NULL);
	po.check_images = fake_check;
	p = build(c, &o, &po);
	CHECK_INT(image_checks, 1);
	CHECK_INT(images_checked, 2);
	CHECK_INT(count(&p, ACT_CREATE), 1);
	CHECK_STR(p.actions[0].vm, "g");
	CHECK_INT(p.held_blocked, 3);
	CHECK_STR(plan_held_why(&p, "a-1"),
		  "cannot create 'a-1': image 'bad' is not reachable: HTTP 404 (u)");
	CHECK(plan_held_why(&p, "b") != NULL && plan_held_why(&p, "run") == NULL);
	plan_release(&p);
	/* a recreate makes its disks again: their images are checked too */
	free(o.domains[0].meta.spec_hash);
	o.domains[0].meta.spec_hash = xstrdup("old");
	p = build(c, &o, &po);
	CHECK_INT(image_checks, 3);
	CHECK_STR(plan_held_why(&p, "run"),
		  "cannot recreate 'run': image 'bad' is not reachable: HTTP 404 (u)");
	CHECK_INT(count(&p, ACT_UPDATE), 0);
	plan_release(&p);
	/* without a checker (the default) the plan contacts nothing */
	p = build(c, &o, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 4);
	CHECK_INT(image_checks, 3);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

int main(void)
{
	RUN(creates_spread_over_hosts);
	RUN(converged_means_no_changes);
	RUN(start_and_stop_follow_state);
	RUN(memory_change_classified);
	RUN(pruning_and_its_limits);
	RUN(empty_desired_state_refused);
	RUN(offline_host_no_duplicates);
	RUN(duplicate_after_crashed_migration);
	RUN(unplaceable_is_explained);
	RUN(json_output);
	RUN(volume_kinds);
	RUN(removal_budget_is_per_run);
	RUN(recreate_keeps_data_disks);
	RUN(destructive_recreate_needs_consent);
	RUN(destructive_removal_needs_consent);
	RUN(same_host_twice_refused);
	RUN(unplaceable_label_is_named);
	RUN(update_needs_the_hypervisor);
	RUN(targets_limit_the_plan);
	RUN(digests_follow_what_matters);
	RUN(running_twice_is_left_alone);
	RUN(pools_and_networks_decide_placement);
	RUN(unknown_resources_filter_nothing);
	RUN(update_needs_the_pool_and_network);
	RUN(unreachable_image_held);
	return test_done();
}
