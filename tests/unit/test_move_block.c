/*
 * Unit tests: a move that failed for a reason trying again cannot fix is
 * not proposed again. libvirt's error codes are classified; the block is
 * kept in the domain's vem metadata (round trip through its XML) and the
 * planner skips the blocked destination until the block ends.
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "fixtures.h"

static const char *yaml =
	"cluster: t\nhosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 8, memory: 4GiB}, maintenance: true}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 8, memory: 4GiB}}\n"
	"  - {name: h3, uri: 'qemu+tcp://c/system', capacity: {cpus: 8, memory: 4GiB}}\n"
	"templates:\n  - {name: s, vcpus: 1, memory: 256MiB, kernel: /k}\n"
	"vms:\n  - {name: v, template: s}\n";

TEST(libvirt_errors_classified)
{
	CHECK(hv_error_deterministic(VIR_ERR_MIGRATE_UNSAFE));
	CHECK(hv_error_deterministic(VIR_ERR_NO_SUPPORT));
	CHECK(hv_error_deterministic(VIR_ERR_CONFIG_UNSUPPORTED));
	CHECK(hv_error_deterministic(VIR_ERR_NO_STORAGE_POOL));
	CHECK(hv_error_deterministic(VIR_ERR_CPU_INCOMPATIBLE));
	/* connection trouble and aborts may go away */
	CHECK(!hv_error_deterministic(VIR_ERR_RPC));
	CHECK(!hv_error_deterministic(VIR_ERR_NO_CONNECT));
	CHECK(!hv_error_deterministic(VIR_ERR_SYSTEM_ERROR));
	CHECK(!hv_error_deterministic(VIR_ERR_OPERATION_ABORTED));
	CHECK(!hv_error_deterministic(VIR_ERR_OPERATION_TIMEOUT));
	CHECK(!hv_error_deterministic(VIR_ERR_OK));
}

TEST(blocks_round_trip_in_metadata)
{
	struct vem_meta m, back;
	struct strbuf sb = STRBUF_INIT;

	memset(&m, 0, sizeof(m));
	m.cluster = xstrdup("t");
	m.vm = xstrdup("v");
	vem_meta_block(&m, "h2", 5000, "sha256:abc", "Unsafe migration: <no shared storage> & more");
	vem_meta_block(&m, "h3", 7000, NULL, "first");
	vem_meta_block(&m, "h3", 9000, NULL, "renewed");
	CHECK_INT(m.n_blocks, 2);
	hv_meta_xml(&sb, &m, "");
	CHECK(hv_meta_parse(sb.buf, &back) == 0);
	CHECK_INT(back.n_blocks, 2);
	CHECK(vem_meta_blocked(&back, "h2", 4999, NULL) != NULL);
	CHECK(vem_meta_blocked(&back, "h2", 5000, NULL) == NULL);
	CHECK(vem_meta_blocked(&back, "h1", 0, NULL) == NULL);
	if (vem_meta_blocked(&back, "h2", 0, NULL))
		CHECK_STR(vem_meta_blocked(&back, "h2", 0, NULL)->why,
			  "Unsafe migration: <no shared storage> & more");
	if (vem_meta_blocked(&back, "h3", 8000, NULL))
		CHECK_STR(vem_meta_blocked(&back, "h3", 8000, NULL)->why, "renewed");
	CHECK(vem_meta_blocked(&back, "h3", 8000, NULL) != NULL);
	/* another revision of the cluster file ends a block that has one */
	CHECK(vem_meta_blocked(&back, "h2", 0, "sha256:abc") != NULL);
	CHECK(vem_meta_blocked(&back, "h2", 0, "sha256:def") == NULL);
	CHECK(vem_meta_blocked(&back, "h3", 0, "sha256:def") != NULL);
	{
		struct vem_meta cp;
		vem_meta_copy(&cp, &back);
		CHECK_INT(cp.n_blocks, 2);
		CHECK(cp.blocks != back.blocks);
		vem_meta_release(&cp);
	}
	vem_meta_release(&m);
	/* a damaged entry is ignored, not fatal */
	CHECK(hv_meta_parse("<vem:vm><vem:cluster>t</vem:cluster><vem:name>v</vem:name>"
			    "<vem:blocked>h2 soon - x</vem:blocked></vem:vm>", &m) == 0);
	CHECK_INT(m.n_blocks, 0);
	vem_meta_release(&m);
	vem_meta_release(&back);
	strbuf_release(&sb);
}

/* What vem stores with virDomainSetMetadata (a move's time, blocks) is
 * what it reads back; the prefixed form with its own xmlns declaration is
 * refused by libvirt ("failed to create a new XML namespace"). */
TEST(metadata_set_on_a_domain)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	virDomainPtr d = conn ? virDomainDefineXML(conn,
		"<domain type='test'><name>metaset</name><memory>65536</memory>"
		"<os><type>hvm</type></os></domain>") : NULL;
	struct vem_meta m, back;
	struct strbuf sb = STRBUF_INIT;
	char *xml = NULL;

	memset(&m, 0, sizeof(m));
	memset(&back, 0, sizeof(back));
	m.cluster = xstrdup("t");
	m.vm = xstrdup("metaset");
	m.migrated_at = 1795584000123;
	vem_meta_block(&m, "h2", 1795584600000, "sha256:ab", "Unsafe migration: it's <unsafe>");
	CHECK(d != NULL);
	if (d) {
		hv_meta_xml(&sb, &m, "");
		CHECK(virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, sb.buf, VEM_META_PREFIX,
					   VEM_META_NS, VIR_DOMAIN_AFFECT_CONFIG) < 0);
		CHECK(hv_meta_set(d, &m, VIR_DOMAIN_AFFECT_CONFIG) == 0);
		xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS,
					   VIR_DOMAIN_AFFECT_CONFIG);
	}
	CHECK(xml && hv_meta_parse(xml, &back) == 0);
	CHECK_STR(back.cluster, "t");
	CHECK(back.migrated_at == 1795584000123);
	CHECK_INT(back.n_blocks, 1);
	if (back.n_blocks) {
		CHECK_STR(back.blocks[0].host, "h2");
		CHECK_STR(back.blocks[0].revision, "sha256:ab");
		CHECK_STR(back.blocks[0].why, "Unsafe migration: it's <unsafe>");
	}
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
	if (conn)
		virConnectClose(conn);
	free(xml);
	strbuf_release(&sb);
	vem_meta_release(&m);
	vem_meta_release(&back);
}

static struct plan build_at(const struct cluster *c, const struct observed *o, int64_t now)
{
	struct plan_options po;
	struct errbuf err = ERRBUF_INIT;
	struct plan p;

	plan_options_default(&po);
	po.now = now;
	if (plan_build(c, o, &po, &p, &err))
		err_print(&err, stderr, "plan");
	errbuf_release(&err);
	return p;
}

/* Maintenance on h1: h2 is blocked for v, so v goes to h3; with both
 * blocked it stays and the plan says why; after the block, h2 again. */
TEST(blocked_destination_skipped)
{
	struct cluster *c = load_yaml(yaml);
	struct observed o;
	struct obs_domain *d;
	struct plan p;
	int64_t now = 1000000;

	free(c->revision);
	c->revision = xstrdup("sha256:first");
	obs_init(&o, c);
	d = obs_add(&o, c, 0, "v", true, NULL, DOM_RUNNING, 0.1);
	p = build_at(c, &o, now);
	CHECK_INT(p.n, 1);
	CHECK(p.n == 1 && p.actions[0].dest == 1);   /* h2 by name when equal */
	plan_release(&p);

	vem_meta_block(&d->meta, "h2", now + 600000, c->revision, "Unsafe migration");
	p = build_at(c, &o, now);
	CHECK_INT(p.n, 1);
	CHECK(p.n == 1 && p.actions[0].kind == ACT_MIGRATE && p.actions[0].dest == 2);
	plan_release(&p);

	vem_meta_block(&d->meta, "h3", now + 600000, c->revision, "no pool");
	p = build_at(c, &o, now);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.n_notes, 1);
	if (p.n_notes) {
		CHECK(strstr(p.notes[0], "h2: an earlier move failed: Unsafe migration") != NULL);
		CHECK(strstr(p.notes[0], "h3: an earlier move failed: no pool") != NULL);
	}
	plan_release(&p);

	p = build_at(c, &o, now + 600000);
	CHECK_INT(p.n, 1);
	CHECK(p.n == 1 && p.actions[0].dest == 1);
	plan_release(&p);

	/* an edited cluster file ends them before that */
	free(c->revision);
	c->revision = xstrdup("sha256:edited");
	p = build_at(c, &o, now);
	CHECK_INT(p.n, 1);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

int main(void)
{
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(libvirt_errors_classified);
	RUN(blocks_round_trip_in_metadata);
	RUN(metadata_set_on_a_domain);
	RUN(blocked_destination_skipped);
	return test_done();
}
