/*
 * Unit tests: what a storage-aware migration reads from libvirt's XML (the
 * disks of a domain and which of them are read-only; a volume's format and
 * backing store), on XML that libvirt itself wrote where the test driver
 * can write it.
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "hv/storage.h"
#include "hv/storage_priv.h"
#include "fixtures.h"

#include <libvirt/libvirt.h>
#include <unistd.h>

static const char *dom =
	"<domain type='qemu'>\n  <name>web</name>\n  <devices>\n"
	"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
	"    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n"
	"      <source file='/var/lib/libvirt/images/vem-lab-web-disk0.qcow2'/>\n"
	"      <backingStore type='file'>\n        <format type='qcow2'/>\n"
	"        <source file='/var/lib/libvirt/images/vem-image-0123456789abcdef.qcow2'/>\n"
	"      </backingStore>\n"
	"      <target dev='vda' bus='virtio'/>\n    </disk>\n"
	"    <disk type=\"file\" device=\"disk\">\n"
	"      <source file=\"/srv/it&apos;s &amp; more.qcow2\" index=\"2\"/>\n"
	"      <target dev=\"sdb\" bus=\"sata\"/>\n    </disk>\n"
	"    <disk type='block' device='disk'>\n      <source dev='/dev/sdx'/>\n"
	"      <target dev='vdc' bus='virtio'/>\n    </disk>\n"
	"    <disk type='file' device='cdrom'>\n      <target dev='sdd' bus='sata'/>\n"
	"      <readonly/>\n    </disk>\n"
	"    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n"
	"      <source file='/var/lib/libvirt/images/vem-lab-web-seed.iso'/>\n"
	"      <target dev='sdz' bus='sata'/>\n      <readonly/>\n    </disk>\n"
	"    <diskette/>\n"
	"  </devices>\n</domain>\n";

TEST(disks_of_a_domain)
{
	struct storage_disk *d;
	size_t n = storage_disks_parse(dom, &d);

	/* the block device and the empty cdrom have no file source */
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(d[0].path, "/var/lib/libvirt/images/vem-lab-web-disk0.qcow2");
		CHECK_STR(d[0].target, "vda");
		CHECK(!d[0].readonly);
		CHECK_STR(d[1].path, "/srv/it's & more.qcow2");
		CHECK_STR(d[1].target, "sdb");
		CHECK(!d[1].readonly);
		CHECK_STR(d[2].path, "/var/lib/libvirt/images/vem-lab-web-seed.iso");
		CHECK_STR(d[2].target, "sdz");
		CHECK(d[2].readonly);
	}
	storage_disks_free(d, n);
	CHECK_INT(storage_disks_parse("<domain><devices/></domain>", &d), 0);
	CHECK(d == NULL);
	/* cut short: nothing past the cut */
	CHECK_INT(storage_disks_parse("<domain><disk type='file'><source file='/a'/>", &d), 0);
	storage_disks_free(d, 0);
}

/* The domain vem defines for a VM with two disks and a seed, read back from
 * libvirt's test driver: the writable disks and the read-only seed. */
TEST(disks_of_a_domain_libvirt_wrote)
{
	char md[] = "/tmp/vem-test-md.XXXXXX";
	int fd = mkstemp(md);
	char *yaml = xasprintf(
		"cluster: lab\nhosts:\n  - {name: h1, uri: 'test:///default'}\n"
		"vms:\n  - {name: web, hypervisor: qemu, memory: 64MiB,\n"
		"      disks: [{size: 1GiB}, {size: 1GiB, bus: sata}],\n"
		"      cloud-init: {meta-data: '%s'}}\n", md);
	struct cluster *c = load_yaml(yaml);
	const struct vm_spec *vm = cluster_vm(c, "web");
	struct vem_meta m;
	struct errbuf err = ERRBUF_INIT;
	virConnectPtr conn = virConnectOpen("test:///default");
	virDomainPtr dm = NULL;
	struct storage_disk *d = NULL;
	char *x, *back = NULL;
	size_t n = 0;

	memset(&m, 0, sizeof(m));
	m.cluster = xstrdup("lab");
	m.vm = xstrdup("web");
	m.n_volumes = 3;
	m.volumes = xcalloc(3, sizeof(char *));
	m.volumes[0] = xstrdup("/var/lib/libvirt/images/vem-lab-web-disk0.qcow2");
	m.volumes[1] = xstrdup("/var/lib/libvirt/images/vem-lab-web-disk1.qcow2");
	m.volumes[2] = xstrdup("/var/lib/libvirt/images/vem-lab-web-seed.iso");
	x = hv_domain_xml(c, vm, HV_QEMU, NULL, &m, &err);
	CHECK(x != NULL);
	CHECK(conn != NULL);
	if (x && conn)
		dm = virDomainDefineXML(conn, x);
	CHECK(dm != NULL);
	if (dm)
		back = virDomainGetXMLDesc(dm, 0);
	CHECK(back != NULL);
	if (back)
		n = storage_disks_parse(back, &d);
	CHECK_INT(n, 3);
	if (n == 3) {
		for (size_t i = 0; i < 3; i++)
			CHECK_STR(d[i].path, m.volumes[i]);
		CHECK_STR(d[0].target, "vda");
		CHECK_STR(d[1].target, "sdb");
		CHECK(!d[0].readonly && !d[1].readonly);
		CHECK(d[2].readonly);
	}
	storage_disks_free(d, n);
	if (dm) {
		virDomainUndefine(dm);
		virDomainFree(dm);
	}
	if (conn)
		virConnectClose(conn);
	free(back);
	free(x);
	vem_meta_release(&m);
	errbuf_release(&err);
	cluster_free(c);
	free(yaml);
	if (fd >= 0)
		close(fd);
	unlink(md);
}

TEST(volume_format_and_backing)
{
	/* as libvirt 9.0 writes an overlay of a dir pool */
	static const char *ov =
		"<volume type='file'>\n  <name>vem-lab-web-disk0.qcow2</name>\n"
		"  <key>/var/lib/libvirt/images/vem-lab-web-disk0.qcow2</key>\n"
		"  <capacity unit='bytes'>50331648</capacity>\n"
		"  <target>\n    <path>/var/lib/libvirt/images/vem-lab-web-disk0.qcow2</path>\n"
		"    <format type='qcow2'/>\n    <permissions>\n      <mode>0600</mode>\n"
		"    </permissions>\n    <compat>1.1</compat>\n  </target>\n"
		"  <backingStore>\n"
		"    <path>/var/lib/libvirt/images/vem-image-0123456789abcdef.qcow2</path>\n"
		"    <format type='raw'/>\n  </backingStore>\n</volume>\n";
	static const char *blank =
		"<volume type='file'>\n  <name>b.qcow2</name>\n"
		"  <target>\n    <path>/p/b.qcow2</path>\n    <format type=\"qcow2\"/>\n"
		"  </target>\n</volume>\n";
	char *fmt, *backing, *bfmt;

	storage_vol_xml_parse(ov, &fmt, &backing, &bfmt);
	CHECK_STR(fmt, "qcow2");
	CHECK_STR(backing, "/var/lib/libvirt/images/vem-image-0123456789abcdef.qcow2");
	CHECK_STR(bfmt, "raw");
	free(fmt);
	free(backing);
	free(bfmt);
	storage_vol_xml_parse(blank, &fmt, &backing, &bfmt);
	CHECK_STR(fmt, "qcow2");
	CHECK(backing == NULL && bfmt == NULL);
	free(fmt);
	storage_vol_xml_parse("<volume/>", &fmt, &backing, &bfmt);
	CHECK(!fmt && !backing && !bfmt);
}

/* ---- storage_move_prepare on two test:/// "hosts" (fixtures.h) ---- */
static char *node_file;

static const char *web_xml =
	"<domain type='qemu'><name>web</name><memory>65536</memory><os><type>hvm</type></os><devices>"
	"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
	"<source file='/vt/vem-lab-web-disk0.qcow2'/><target dev='vda' bus='virtio'/></disk>"
	"</devices></domain>";

static struct vem_meta web_meta(const char *path);

/* One move of web, whose disk is at path, from h1 to h2, each host with a
 * running pool "default" at /vt. */
struct move_test {
	struct hv_fixture f;
	struct hv_session *s;
	const char *path;
	struct vem_meta m;
	struct errbuf err;
	struct storage_move mv;
};

static void move_open(struct move_test *t, const char *storage, const char *path)
{
	char *yaml = test_hosts_yaml("lab", node_file, 2, storage);

	memset(t, 0, sizeof(*t));
	hv_fixture_open(&t->f, yaml, NULL);
	free(yaml);
	t->s = t->f.s;
	t->path = path;
	t->m = web_meta(path);
	errbuf_init(&t->err);
	for (size_t h = 0; h < 2; h++) {
		virStoragePoolPtr p = virStoragePoolDefineXML(hv_conn(t->s, h),
			"<pool type='dir'><name>default</name><target><path>/vt</path></target></pool>",
			0);
		CHECK(p != NULL);
		if (p) {
			CHECK(virStoragePoolCreate(p, 0) == 0);
			virStoragePoolFree(p);
		}
	}
}

static void move_close(struct move_test *t)
{
	storage_move_release(&t->mv);
	vem_meta_release(&t->m);
	errbuf_release(&t->err);
	hv_fixture_close(&t->f);
}

/* A volume named name in pool (by name) of host h. */
static bool make_vol(struct hv_session *s, size_t h, const char *pool, const char *name)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(hv_conn(s, h), pool);
	char *xml = xasprintf("<volume><name>%s</name><capacity unit='bytes'>1048576</capacity>"
			      "<target><format type='qcow2'/></target></volume>", name);
	virStorageVolPtr v = p ? virStorageVolCreateXML(p, xml, 0) : NULL;

	free(xml);
	if (p)
		virStoragePoolFree(p);
	if (v)
		virStorageVolFree(v);
	return v != NULL;
}

static bool has_vol(struct hv_session *s, size_t h, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(hv_conn(s, h), path);
	if (v)
		virStorageVolFree(v);
	return v != NULL;
}

static struct vem_meta web_meta(const char *path)
{
	struct vem_meta m;
	memset(&m, 0, sizeof(m));
	m.cluster = xstrdup("lab");
	m.vm = xstrdup("web");
	m.volumes = xcalloc(1, sizeof(char *));
	m.volumes[0] = xstrdup(path);
	m.n_volumes = 1;
	return m;
}

/* Host-local: the disk is made on dst, listed for libvirt to copy, and
 * dropped from dst again by the undo of a failed move. */
TEST(move_local_disk)
{
	struct move_test t;

	move_open(&t, "", "/vt/vem-lab-web-disk0.qcow2");
	CHECK(make_vol(t.s, 0, "default", "vem-lab-web-disk0.qcow2"));
	CHECK(!has_vol(t.s, 1, t.path));
	CHECK(storage_move_prepare(t.s, 0, 1, "web", web_xml, &t.m, &t.mv, &t.err) == 0);
	if (t.err.nr)
		err_print(&t.err, stderr, "prepare");
	CHECK_INT(t.mv.n_copy, 1);
	CHECK(t.mv.n_copy == 1 && !strcmp(t.mv.copy[0], "vda"));
	CHECK_INT(t.mv.n_created, 1);
	CHECK_INT(t.mv.n_local, 1);
	CHECK(has_vol(t.s, 1, t.path));
	CHECK(storage_move_undo(t.s, 1, "web", &t.mv, &t.err) == 0);
	CHECK(!has_vol(t.s, 1, t.path));
	CHECK(has_vol(t.s, 0, t.path));
	move_close(&t);
}

/* A leftover of an unfinished move on dst is replaced; a domain of that
 * name on dst stops the move before anything is made. */
TEST(move_refuses_a_domain_on_dst)
{
	struct move_test t;
	virDomainPtr d;

	move_open(&t, "", "/vt/vem-lab-web-disk0.qcow2");
	CHECK(make_vol(t.s, 0, "default", "vem-lab-web-disk0.qcow2"));
	CHECK(make_vol(t.s, 1, "default", "vem-lab-web-disk0.qcow2"));
	CHECK(storage_move_prepare(t.s, 0, 1, "web", web_xml, &t.m, &t.mv, &t.err) == 0);
	CHECK_INT(t.mv.n_created, 1);
	storage_move_release(&t.mv);
	d = virDomainDefineXML(hv_conn(t.s, 1), web_xml);
	CHECK(d != NULL);
	CHECK(storage_move_prepare(t.s, 0, 1, "web", web_xml, &t.m, &t.mv, &t.err) == -1);
	CHECK(strstr(err_msg(&t.err), "host 'h2' already has a domain 'web'") != NULL);
	CHECK_INT(t.mv.n_created, 0);
	/* and the undo keeps what a domain there may use */
	t.mv.created = xcalloc(1, sizeof(char *));
	t.mv.created[0] = xstrdup(t.path);
	t.mv.n_created = 1;
	CHECK(storage_move_undo(t.s, 1, "web", &t.mv, &t.err) == -1);
	CHECK(has_vol(t.s, 1, t.path));
	if (d)
		virDomainFree(d);
	move_close(&t);
}

/* Declared shared: nothing made, copied or dropped; dst must see it. */
TEST(move_shared_pool)
{
	struct move_test t;

	move_open(&t, "storage: {shared-pools: [default]}\n", "/vt/vem-lab-web-disk0.qcow2");
	CHECK(make_vol(t.s, 0, "default", "vem-lab-web-disk0.qcow2"));
	CHECK(storage_move_prepare(t.s, 0, 1, "web", web_xml, &t.m, &t.mv, &t.err) ==
	      HV_ERR_DETERMINISTIC);
	CHECK(strstr(err_msg(&t.err), "pool 'default' is declared shared, but host 'h2' has no "
		     "volume '/vt/vem-lab-web-disk0.qcow2'") != NULL);
	CHECK(!has_vol(t.s, 1, t.path));
	storage_move_release(&t.mv);
	errbuf_release(&t.err);
	errbuf_init(&t.err);
	CHECK(make_vol(t.s, 1, "default", "vem-lab-web-disk0.qcow2"));
	CHECK(storage_move_prepare(t.s, 0, 1, "web", web_xml, &t.m, &t.mv, &t.err) == 0);
	CHECK_INT(t.mv.n_copy, 0);
	CHECK_INT(t.mv.n_created, 0);
	CHECK_INT(t.mv.n_local, 0);
	move_close(&t);
}

/* A destination without the pool: named as such, and deterministic (the
 * message for a host that stopped answering is kept for dead connections). */
TEST(move_names_a_missing_pool)
{
	struct move_test t;
	virStoragePoolPtr p;

	move_open(&t, "", "/vt/vem-lab-web-disk0.qcow2");
	CHECK(make_vol(t.s, 0, "default", "vem-lab-web-disk0.qcow2"));
	p = virStoragePoolLookupByName(hv_conn(t.s, 1), "default");
	CHECK(p != NULL);
	if (p) {
		CHECK(virStoragePoolDestroy(p) == 0);
		CHECK(virStoragePoolUndefine(p) == 0);
		virStoragePoolFree(p);
	}
	CHECK(storage_move_prepare(t.s, 0, 1, "web", web_xml, &t.m, &t.mv, &t.err) ==
	      HV_ERR_DETERMINISTIC);
	CHECK(strstr(err_msg(&t.err), "host 'h2' has no storage pool 'default'") != NULL);
	CHECK(strstr(err_msg(&t.err), "stopped answering") == NULL);
	move_close(&t);
}

/* A host-local volume is never copied onto a pool declared shared. */
TEST(move_never_onto_shared)
{
	struct move_test t;
	char *xml = xstrdup(web_xml);
	virStoragePoolPtr p;

	move_open(&t, "storage: {shared-pools: [default]}\n", "/vl/vem-lab-web-disk0.qcow2");
	p = virStoragePoolCreateXML(hv_conn(t.s, 0),
		"<pool type='dir'><name>local</name><target><path>/vl</path></target></pool>", 0);
	memcpy(strstr(xml, "/vt/"), "/vl/", 4);
	CHECK(p != NULL);
	CHECK(make_vol(t.s, 0, "local", "vem-lab-web-disk0.qcow2"));
	CHECK(storage_move_prepare(t.s, 0, 1, "web", xml, &t.m, &t.mv, &t.err) ==
	      HV_ERR_DETERMINISTIC);
	CHECK(strstr(err_msg(&t.err), "is host-local (pool 'local') and is never copied onto "
		     "pool 'default', declared shared") != NULL);
	CHECK_INT(t.mv.n_created, 0);
	if (p)
		virStoragePoolFree(p);
	free(xml);
	move_close(&t);
}

/* A disk volume on src at a path that dst's pool cannot give: refused, with
 * where each host keeps it (the one same-target-path check). */
TEST(move_needs_the_same_target_path)
{
	struct move_test t;
	char *xml = xstrdup(web_xml);
	virStoragePoolPtr p;

	move_open(&t, "", "/vl/vem-lab-web-disk0.qcow2");
	/* h1 keeps the disk in pool "default" at /vl; h2's "default" is at /vt */
	p = virStoragePoolLookupByName(hv_conn(t.s, 0), "default");
	CHECK(p && virStoragePoolDestroy(p) == 0 && virStoragePoolUndefine(p) == 0);
	if (p)
		virStoragePoolFree(p);
	p = virStoragePoolCreateXML(hv_conn(t.s, 0),
		"<pool type='dir'><name>default</name><target><path>/vl</path></target></pool>", 0);
	CHECK(p != NULL);
	memcpy(strstr(xml, "/vt/"), "/vl/", 4);
	CHECK(make_vol(t.s, 0, "default", "vem-lab-web-disk0.qcow2"));
	CHECK(storage_move_prepare(t.s, 0, 1, "web", xml, &t.m, &t.mv, &t.err) ==
	      HV_ERR_DETERMINISTIC);
	CHECK_STR(err_msg(&t.err), "moving the volumes of 'web' to host 'h2': "
		  "host 'h2' would keep volume 'vem-lab-web-disk0.qcow2' at "
		  "'/vt/vem-lab-web-disk0.qcow2', host 'h1' keeps it at "
		  "'/vl/vem-lab-web-disk0.qcow2': the pools must have the same target path");
	if (p)
		virStoragePoolFree(p);
	free(xml);
	move_close(&t);
}

int main(void)
{
	int rc;

	node_file = test_node_file();
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(disks_of_a_domain);
	RUN(disks_of_a_domain_libvirt_wrote);
	RUN(volume_format_and_backing);
	RUN(move_local_disk);
	RUN(move_refuses_a_domain_on_dst);
	RUN(move_shared_pool);
	RUN(move_names_a_missing_pool);
	RUN(move_never_onto_shared);
	RUN(move_needs_the_same_target_path);
	rc = test_done();
	unlink(node_file);
	free(node_file);
	return rc;
}
