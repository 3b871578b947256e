/*
 * Unit tests: what a storage-aware migration reads from libvirt's XML (the
 * disks of a domain and which of them are read-only; a volume's format and
 * backing store), on XML that libvirt itself wrote where the test driver
 * can write it.
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "hv/storage_priv.h"
#include "fixtures.h"

#include <libvirt/libvirt.h>
#include <unistd.h>

static void quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

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

int main(void)
{
	virSetErrorFunc(NULL, quiet);
	RUN(disks_of_a_domain);
	RUN(disks_of_a_domain_libvirt_wrote);
	RUN(volume_format_and_backing);
	return test_done();
}
