/* Unit tests: adopting domains that carry no vem metadata. */
#include "test.h"
#include "fixtures.h"
#include "hv/hv_priv.h"

static const char *base =
	"cluster: t\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 8, memory: 8GiB}}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 8, memory: 8GiB}}\n"
	"templates:\n"
	"  - {name: small, vcpus: 1, memory: 256MiB, kernel: /k}\n";

static struct cluster *cl(const char *rest)
{
	return load_yaml_parts(base, rest);
}

static struct plan build(const struct cluster *c, const struct observed *o, const char *adopt)
{
	struct plan_options po;
	plan_options_fixture(&po);
	if (adopt) {
		po.adopt = &adopt;
		po.n_adopt = 1;
	}
	return plan_fixture(c, o, &po);
}

/* Without consent a same-named foreign domain is not adopted, and no
 * second VM of that name is created on another host. */
TEST(never_implicit)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small}\n");
	struct observed o;
	struct plan p;

	obs_init(&o, c);
	obs_add(&o, c, 1, "web", false, NULL, DOM_RUNNING, 0.0);
	p = build(c, &o, NULL);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_blocked, 1);
	CHECK_STR(plan_held_why(&p, "web"), "not creating 'web': host 'h2' runs a domain of that name "
		  "that vem does not manage; adopt it (--adopt NAME or 'adopt: true') or rename the VM");
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(adopt_setting_and_flag)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small, adopt: true}\n"
			       "  - {name: api, template: small, replicas: 2}\n");
	struct observed o;
	struct plan p;
	struct obs_domain *d;
	char *txt;

	obs_init(&o, c);
	d = obs_add(&o, c, 1, "web", false, NULL, DOM_RUNNING, 0.0);
	d->memory = d->max_memory = 256 * MiB;
	d = obs_add(&o, c, 0, "api-0", false, NULL, DOM_RUNNING, 0.0);
	d->memory = d->max_memory = 128 * MiB;
	obs_add(&o, c, 1, "api-1", false, NULL, DOM_RUNNING, 0.0);   /* 256 MiB */
	p = build(c, &o, "api");
	txt = plan_text(&p, &o);
	CHECK_STR(txt, "& adopt api-0 on h1: max-memory 128MiB -> 256MiB, memory 128MiB -> 256MiB "
		       "(then updated, restart) (no vem metadata; adopted without a restart)\n"
		       "& adopt api-1 on h2 (no vem metadata; adopted without a restart)\n"
		       "& adopt web on h2 (no vem metadata; adopted without a restart)\n"
		       "Plan: 0 to create, 0 to update, 0 to start, 0 to stop, 0 to remove, 0 to migrate. "
		       "3 to adopt.\n");
	free(txt);
	plan_release(&p);
	/* without the flag only web (adopt: true) is adopted; api is held */
	p = build(c, &o, NULL);
	CHECK(p.n == 1 && p.actions[0].kind == ACT_ADOPT && str_eq(p.actions[0].vm, "web"));
	CHECK_INT(p.held_blocked, 2);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(never_another_clusters)
{
	struct cluster *c = cl("vms:\n  - {name: web, template: small, adopt: true}\n"
			       "  - {name: db, template: small, adopt: true, disks: [{size: 1GiB}]}\n");
	struct observed o;
	struct plan p;

	obs_init(&o, c);
	obs_add(&o, c, 0, "web", false, NULL, DOM_RUNNING, 0.0)->foreign_meta = true;
	obs_add(&o, c, 0, "db", false, NULL, DOM_RUNNING, 0.0);
	p = build(c, &o, NULL);
	CHECK_INT(p.held_blocked, 1);
	CHECK(plan_held_why(&p, "web") && strstr(plan_held_why(&p, "web"), "another cluster"));
	/* a VM with disks is adopted (its disks are matched when the adoption
	 * runs, hv/adopt.c): the plan sees no disk difference, which would
	 * recreate it */
	CHECK(p.n == 1 && p.actions[0].kind == ACT_ADOPT && str_eq(p.actions[0].vm, "db"));
	CHECK_INT(p.n ? p.actions[0].n_changes : 99, 0);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* On libvirt's test driver: the metadata is written into the running
 * domain without restarting it; a second adoption is a no-op; another
 * cluster cannot take it. The driver's own domain 'test' has a disk that
 * is no pool volume and that the file does not name: refused, untouched. */
TEST(adopt_on_test_driver)
{
	struct cluster *c = load_yaml("cluster: t\nhosts:\n  - {name: h1, uri: 'test:///default'}\n"
				      "vms:\n  - {name: bare, memory: 32MiB, adopt: true}\n"
				      "  - {name: test, memory: 32MiB, adopt: true}\n");
	struct cluster *other = load_yaml("cluster: u\nhosts:\n  - {name: h1, uri: 'test:///default'}\n"
					  "vms:\n  - {name: bare, memory: 32MiB, adopt: true}\n");
	static const char bare_xml[] =
		"<domain type='test'><name>bare</name><memory>32768</memory>"
		"<os><type>hvm</type></os></domain>";
	virDomainPtr t = NULL;
	struct errbuf err = ERRBUF_INIT;
	struct hv_options ho;
	struct hv_session *s, *s2;
	struct vem_meta m;
	virDomainPtr d;
	char *xml;
	unsigned id;

	hv_options_default(&ho);
	ho.cache_dir = "/tmp/vem-test-adopt-cache";
	s = hv_session_open(c, &ho);
	s2 = hv_session_open(other, &ho);
	if (!hv_host_online(s, 0) || !hv_host_online(s2, 0)) {
		fprintf(stderr, "  test:///default did not open\n");
		test_cur_failed = 1;
		goto out;
	}
	t = virDomainLookupByName(hv_conn(s, 0), "test");
	CHECK(t != NULL);
	CHECK_INT(hv_domain_adopt(s, 0, &c->vms[1], true, &err), -1);
	CHECK(strstr(err_msg(&err), "not adopting 'test': it has 1 disk and the cluster file names 0"));
	errbuf_release(&err);
	errbuf_init(&err);
	xml = t ? virDomainGetMetadata(t, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0) : NULL;
	CHECK(xml == NULL);
	free(xml);
	if (t)
		virDomainFree(t);
	d = virDomainDefineXML(hv_conn(s, 0), bare_xml);
	CHECK(d != NULL && virDomainCreate(d) == 0);
	id = d ? virDomainGetID(d) : 0;
	CHECK_INT(hv_domain_adopt(s, 0, &c->vms[0], false, &err), 0);
	CHECK(d && virDomainGetID(d) == id && virDomainIsActive(d) == 1);
	xml = d ? virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0) : NULL;
	CHECK(xml != NULL);
	if (xml && !hv_meta_parse(xml, &m)) {
		CHECK_STR(m.cluster, "t");
		CHECK_STR(m.vm, "bare");
		CHECK_STR(m.spec_hash, HV_ADOPTED_HASH);
		CHECK_INT(m.n_volumes, 0);
		vem_meta_release(&m);
	} else {
		CHECK(!"the metadata parses");
	}
	free(xml);
	CHECK_INT(hv_domain_adopt(s, 0, &c->vms[0], true, &err), 0);
	CHECK_INT(hv_domain_adopt(s2, 0, &other->vms[0], true, &err), -1);
	CHECK(strstr(err_msg(&err), "belongs to cluster 't'") != NULL);
	if (d)
		virDomainFree(d);
out:
	errbuf_release(&err);
	hv_session_free(s);
	hv_session_free(s2);
	cluster_free(c);
	cluster_free(other);
}

int main(void)
{
	RUN(never_implicit);
	RUN(adopt_setting_and_flag);
	RUN(never_another_clusters);
	RUN(adopt_on_test_driver);
	return test_done();
}
