/*
 * Unit tests: operations on one domain (hv/ops.c) on libvirt's test driver
 * (test://NODE, no root): define and start, stop, start, update, remove
 * with the disks it keeps, and what each refuses. The driver "runs" a
 * domain without a guest, shuts it down at once, and keeps volumes of dir
 * pools in memory; it has no migration (the lab's e2e tests cover that).
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "fixtures.h"

#include <libvirt/libvirt.h>

static char *node_file;

/* A host (h1) with pool "default" at /vt, a cluster of VMs web (diskless)
 * and db (two disks). */
static void ops_open(struct hv_fixture *f)
{
	char *yaml = test_hosts_yaml("ops", node_file, 1,
		"templates:\n"
		"  - {name: tiny, vcpus: 1, memory: 32MiB, kernel: /k}\n"
		"  - {name: data, vcpus: 1, memory: 32MiB, kernel: /k,\n"
		"     disks: [{size: 1GiB}, {size: 2GiB}]}\n"
		"vms:\n  - {name: web, template: tiny}\n  - {name: db, template: data}\n");
	struct hv_options opt;
	virStoragePoolPtr p;

	hv_options_default(&opt);
	opt.shutdown_timeout = 2000;
	opt.cache_dir = "/tmp/vem-test-cache";
	hv_fixture_open(f, yaml, &opt);
	free(yaml);
	p = virStoragePoolCreateXML(hv_conn(f->s, 0),
		"<pool type='dir'><name>default</name><target><path>/vt</path></target></pool>", 0);
	CHECK(p != NULL);
	if (p)
		virStoragePoolFree(p);
}

/* The domain's state (VIR_DOMAIN_*), -1 when there is none. */
static int dom_state(struct hv_fixture *f, const char *name)
{
	virDomainPtr d = virDomainLookupByName(hv_conn(f->s, 0), name);
	int st = -1, reason;

	if (!d)
		return -1;
	if (virDomainGetState(d, &st, &reason, 0) < 0)
		st = -1;
	virDomainFree(d);
	return st;
}

/* vem's metadata on the domain (released by the caller); -1 when none. */
static int dom_meta(struct hv_fixture *f, const char *name, struct vem_meta *m)
{
	virDomainPtr d = virDomainLookupByName(hv_conn(f->s, 0), name);
	char *xml = d ? virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0) : NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = xml ? hv_meta_parse(xml, m) : -1;
	free(xml);
	if (d)
		virDomainFree(d);
	return rc;
}

static bool has_vol(struct hv_fixture *f, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(hv_conn(f->s, 0), path);
	if (v)
		virStorageVolFree(v);
	return v != NULL;
}

TEST(lifecycle)
{
	struct hv_fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct vem_meta m;
	struct vm_spec *web;
	int64_t created;

	ops_open(&f);
	web = (struct vm_spec *)cluster_vm(f.c, "web");
	CHECK_INT(hv_domain_create(f.s, 0, web, &err), 0);
	CHECK_INT(dom_state(&f, "web"), VIR_DOMAIN_RUNNING);
	CHECK_INT(dom_meta(&f, "web", &m), 0);
	CHECK_STR(m.cluster, "ops");
	CHECK_STR(m.vm, "web");
	CHECK_STR(m.spec_hash, web->spec_hash);
	created = m.created_at;
	CHECK(created > 0);
	vem_meta_release(&m);
	/* again (a run killed mid-create): its own domain, taken over */
	CHECK_INT(hv_domain_create(f.s, 0, web, &err), 0);
	CHECK_INT(dom_meta(&f, "web", &m), 0);
	CHECK_INT(m.created_at, created);
	vem_meta_release(&m);

	CHECK_INT(hv_domain_stop(f.s, 0, "web", &err), 0);
	CHECK_INT(dom_state(&f, "web"), VIR_DOMAIN_SHUTOFF);
	CHECK_INT(hv_domain_stop(f.s, 0, "web", &err), 0);       /* stopped already */
	CHECK_INT(hv_domain_start(f.s, 0, "web", &err), 0);
	CHECK_INT(dom_state(&f, "web"), VIR_DOMAIN_RUNNING);
	CHECK_INT(hv_domain_start(f.s, 0, "web", &err), 0);      /* running already */

	/* a new spec: redefined, and the running domain's metadata too */
	snprintf(web->spec_hash, sizeof(web->spec_hash), "%s", "0123456789abcdef");
	web->cfg.memory = 16 * MiB;
	CHECK_INT(hv_domain_update(f.s, 0, web, true, &err), 0);
	CHECK_INT(dom_meta(&f, "web", &m), 0);
	CHECK_STR(m.spec_hash, "0123456789abcdef");
	vem_meta_release(&m);
	{
		virDomainPtr d = virDomainLookupByName(hv_conn(f.s, 0), "web");
		virDomainInfo info;
		CHECK(d && virDomainGetInfo(d, &info) == 0 && info.memory == 16 * 1024);
		if (d)
			virDomainFree(d);
	}

	CHECK_INT(hv_domain_remove(f.s, 0, "web", 0, &err), 0);
	CHECK_INT(dom_state(&f, "web"), -1);
	CHECK_INT(hv_domain_remove(f.s, 0, "web", 0, &err), 0);  /* gone already */
	if (err.nr)
		err_print(&err, stderr, "lifecycle");
	CHECK_INT(err.nr, 0);
	errbuf_release(&err);
	hv_fixture_close(&f);
}

/* The driver's own domain "test" carries no vem metadata: never changed. */
TEST(foreign_domain_left_alone)
{
	struct hv_fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct vm_spec *web;
	virDomainPtr d;

	ops_open(&f);
	d = virDomainDefineXML(hv_conn(f.s, 0), "<domain type='test'><name>web</name>"
			       "<memory>1024</memory><os><type>hvm</type></os></domain>");
	CHECK(d != NULL);
	web = (struct vm_spec *)cluster_vm(f.c, "web");
	CHECK_INT(hv_domain_create(f.s, 0, web, &err), -1);
	CHECK_STR(err_msg(&err), "vm 'web': host 'h1' already has a domain of that name that "
		  "this cluster does not own");
	errbuf_release(&err);
	errbuf_init(&err);
	CHECK_INT(hv_domain_update(f.s, 0, web, true, &err), -1);
	CHECK_STR(err_msg(&err), "vm 'web' on host 'h1' is not owned by this cluster");
	errbuf_release(&err);
	errbuf_init(&err);
	CHECK_INT(hv_domain_remove(f.s, 0, "web", 0, &err), -1);
	CHECK_STR(err_msg(&err), "refusing to remove 'web' on host 'h1': not owned by this cluster");
	CHECK_INT(dom_state(&f, "web"), VIR_DOMAIN_SHUTOFF);
	errbuf_release(&err);
	errbuf_init(&err);
	CHECK_INT(hv_domain_start(f.s, 0, "nosuch", &err), -1);
	CHECK(strstr(err_msg(&err), "cannot find domain 'nosuch' on host 'h1': ") != NULL);
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
	errbuf_release(&err);
	hv_fixture_close(&f);
}

/* Removing keeps disk i when i < keep_disks, every volume with
 * HV_KEEP_ALL, none with 0. */
TEST(remove_keeps_disks)
{
	static const struct {
		size_t keep;
		bool disk0, disk1;
	} cases[] = {
		{ 0, false, false }, { 1, true, false }, { 2, true, true }, { HV_KEEP_ALL, true, true },
	};

	for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
		struct hv_fixture f;
		struct errbuf err = ERRBUF_INIT;
		struct vem_meta m;

		ops_open(&f);
		CHECK_INT(hv_domain_create(f.s, 0, cluster_vm(f.c, "db"), &err), 0);
		if (err.nr)
			err_print(&err, stderr, "create db");
		CHECK_INT(dom_meta(&f, "db", &m), 0);
		CHECK_INT(m.n_volumes, 2);
		if (m.n_volumes == 2) {
			CHECK_INT(hv_volume_kind(m.volumes[0]), 0);
			CHECK_INT(hv_volume_kind(m.volumes[1]), 1);
			CHECK(has_vol(&f, m.volumes[0]) && has_vol(&f, m.volumes[1]));
			CHECK_INT(hv_domain_remove(f.s, 0, "db", cases[k].keep, &err), 0);
			CHECK_INT(dom_state(&f, "db"), -1);
			CHECK_INT(has_vol(&f, m.volumes[0]), cases[k].disk0);
			CHECK_INT(has_vol(&f, m.volumes[1]), cases[k].disk1);
		}
		vem_meta_release(&m);
		errbuf_release(&err);
		hv_fixture_close(&f);
	}
}

/* Every operation on a host that is offline says so and does nothing. */
TEST(offline_host_refused)
{
	struct cluster *c = load_yaml(
		"cluster: ops\nhosts:\n  - {name: gone, uri: 'qemu+tcp://127.0.0.1:1/system'}\n"
		"templates:\n  - {name: tiny, vcpus: 1, memory: 32MiB, kernel: /k}\n"
		"vms:\n  - {name: web, template: tiny}\n");
	struct hv_options opt;
	struct hv_session *s;
	struct errbuf err = ERRBUF_INIT;
	const struct vm_spec *web = cluster_vm(c, "web");

	hv_options_default(&opt);
	opt.connect_timeout = 2000;
	s = hv_session_open(c, &opt);
	CHECK(!hv_host_online(s, 0));
	CHECK_INT(hv_domain_create(s, 0, web, &err), -1);
	CHECK_STR(err_msg(&err), "host 'gone' is offline");
	errbuf_release(&err);
	errbuf_init(&err);
	CHECK_INT(hv_domain_remove(s, 0, "web", 0, &err), -1);
	CHECK_STR(err_msg(&err), "host 'gone' is offline");
	errbuf_release(&err);
	errbuf_init(&err);
	CHECK_INT(hv_domain_stop(s, 0, "web", &err), -1);
	CHECK(str_starts_with(err_msg(&err), "host 'gone' is offline: cannot connect to "));
	errbuf_release(&err);
	hv_session_free(s);
	cluster_free(c);
}

int main(void)
{
	int rc;

	node_file = test_node_file();
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(lifecycle);
	RUN(foreign_domain_left_alone);
	RUN(remove_keeps_disks);
	RUN(offline_host_refused);
	rc = test_done();
	unlink(node_file);
	free(node_file);
	return rc;
}
