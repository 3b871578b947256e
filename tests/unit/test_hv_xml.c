/*
 * Unit tests: domain XML for each hypervisor, compared byte for byte with
 * the files in tests/hv/ (VEM_TEST_REGENERATE=1 rewrites them), accepted by
 * libvirt's test driver; ownership metadata, UUID marks, capabilities.
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "fixtures.h"

#include <libvirt/libvirt.h>
#include <unistd.h>

static const char *yaml =
	"cluster: lab\n"
	"hosts:\n  - {name: h1, uri: 'qemu+tcp://a/system'}\n"
	"images:\n  - {name: deb, url: 'https://example.org/d.qcow2', sha256: "
	"'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}\n"
	"templates:\n"
	"  - {name: tiny, vcpus: 1, memory: 32MiB, kernel: /var/lib/vem/guests/idle.elf}\n"
	"vms:\n"
	"  - {name: boot, template: tiny, cmdline: 'console=ttyS0', initrd: /boot/initrd}\n"
	"  - name: web\n"
	"    vcpus: 2\n    max-vcpus: 4\n    memory: 1GiB\n    max-memory: 2GiB\n"
	"    cpu-mode: host-model\n"
	"    disks: [{size: 10GiB, image: deb}, {size: 1GiB, bus: sata}]\n"
	"    networks: [{network: default, mac: '52:54:00:12:34:56'}, {bridge: br0, model: e1000}]\n"
	"  - {name: pv, hypervisor: xen, memory: 256MiB, kernel: /boot/vmlinuz, cmdline: 'root=/dev/xvda'}\n"
	"  - {name: ct, hypervisor: lxc, memory: 128MiB, networks: [{bridge: br0}]}\n";

static void check_file(const char *name, const char *got)
{
	char *path = xasprintf("tests/hv/%s", name);
	struct strbuf want = STRBUF_INIT;
	if (getenv("VEM_TEST_REGENERATE")) {
		FILE *f = fopen(path, "w");
		CHECK(f && fputs(got, f) >= 0 && fclose(f) == 0);
	} else if (strbuf_read_file(&want, path, 0)) {
		fprintf(stderr, "  cannot read %s (run with VEM_TEST_REGENERATE=1)\n", path);
		CHECK(0);
	} else {
		CHECK_STR(got, want.buf);
	}
	strbuf_release(&want);
	free(path);
}

static struct vem_meta meta_for(const struct cluster *c, const struct vm_spec *vm, size_t nvol)
{
	struct vem_meta m;
	memset(&m, 0, sizeof(m));
	m.cluster = xstrdup(c->name);
	m.vm = xstrdup(vm->name);
	m.template = xstrdup(vm->template);
	m.spec_hash = xstrdup(vm->spec_hash);
	m.revision = xstrdup("sha256:0123456789ab");
	m.created_at = 1795584000000;
	for (size_t i = 0; i < nvol; i++) {
		m.volumes = xrealloc(m.volumes, (i + 1) * sizeof(char *));
		m.volumes[i] = xasprintf("/var/lib/libvirt/images/vem-lab-%s-disk%zu.qcow2", vm->name, i);
		m.n_volumes++;
	}
	return m;
}

static char *xml_of(const struct cluster *c, const char *vm, enum hv_type t, size_t nvol)
{
	const struct vm_spec *v = cluster_vm(c, vm);
	struct vem_meta m = meta_for(c, v, nvol);
	struct errbuf err = ERRBUF_INIT;
	char uuid[37];
	char *x;
	hv_uuid_for(c->name, v->name, uuid);
	x = hv_domain_xml(c, v, t, uuid, &m, &err);
	if (!x)
		err_print(&err, stderr, "xml");
	vem_meta_release(&m);
	errbuf_release(&err);
	return x;
}

TEST(expected_xml_per_hypervisor)
{
	struct cluster *c = load_yaml(yaml);
	static const struct { const char *vm; enum hv_type t; size_t nvol; const char *file; } cases[] = {
		{ "boot", HV_QEMU, 0, "qemu-kernel-boot.xml" },
		{ "boot", HV_KVM, 0, "kvm-kernel-boot.xml" },
		{ "web", HV_KVM, 2, "kvm-disks-networks.xml" },
		{ "pv", HV_XEN, 0, "xen-pv.xml" },
		{ "ct", HV_LXC, 0, "lxc.xml" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *x = xml_of(c, cases[i].vm, cases[i].t, cases[i].nvol);
		CHECK(x != NULL);
		if (x)
			check_file(cases[i].file, x);
		free(x);
	}
	cluster_free(c);
}

/*
 * Every kind of domain vem writes passes libvirt's own schema
 * (virt-xml-validate, package libvirt-clients) and is defined by the test
 * driver: kvm and qemu with disks, networks, a cloud-init seed and kernel
 * boot, xen pv and hvm, lxc.
 */
TEST(libvirt_schema_accepts_every_domain)
{
	char md[] = "/tmp/vem-test-md.XXXXXX", xf[] = "/tmp/vem-test-dom.XXXXXX";
	int mfd = mkstemp(md), xfd = mkstemp(xf);
	char *y = xasprintf(
		"cluster: lab\nhosts:\n  - {name: h1, uri: 'test:///default'}\n"
		"images:\n  - {name: deb, url: 'https://example.org/d.qcow2', sha256: "
		"'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}\n"
		"vms:\n"
		"  - {name: boot, memory: 32MiB, kernel: /k, initrd: /i, cmdline: 'console=ttyS0'}\n"
		"  - name: full\n    vcpus: 2\n    max-vcpus: 4\n    memory: 1GiB\n    max-memory: 2GiB\n"
		"    disks: [{size: 10GiB, image: deb}, {size: 1GiB, bus: sata}, {size: 1GiB, bus: scsi}]\n"
		"    networks: [{network: default, mac: '52:54:00:12:34:56'}, {bridge: br0, model: e1000}]\n"
		"    cloud-init: {meta-data: '%s'}\n"
		"  - {name: pv, hypervisor: xen, memory: 256MiB, kernel: /boot/vmlinuz, cmdline: 'root=/dev/xvda'}\n"
		"  - {name: hvm, hypervisor: xen, memory: 256MiB, disks: [{size: 1GiB}],\n"
		"     networks: [{bridge: br0}], cloud-init: {meta-data: '%s'}}\n"
		"  - {name: ct, hypervisor: lxc, memory: 128MiB, networks: [{bridge: br0}]}\n",
		md, md);
	struct cluster *c;
	static const struct { const char *vm; enum hv_type t; size_t nvol; } cases[] = {
		{ "boot", HV_QEMU, 0 }, { "boot", HV_KVM, 0 }, { "full", HV_KVM, 4 },
		{ "full", HV_QEMU, 4 }, { "pv", HV_XEN, 0 }, { "hvm", HV_XEN, 2 }, { "ct", HV_LXC, 0 },
	};
	bool have = system("command -v virt-xml-validate >/dev/null 2>&1") == 0;
	virConnectPtr conn = virConnectOpen("test:///default");

	CHECK(mfd >= 0 && xfd >= 0);
	c = load_yaml(y);
	if (!have)
		printf("# virt-xml-validate missing (package libvirt-clients): schema not checked\n");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *x = xml_of(c, cases[i].vm, cases[i].t, cases[i].nvol);
		FILE *f;
		CHECK(x != NULL);
		if (!x)
			continue;
		f = fopen(xf, "w");
		CHECK(f && fputs(x, f) >= 0 && fclose(f) == 0);
		if (have) {
			char *cmd = xasprintf("virt-xml-validate %s domain >/dev/null 2>&1", xf);
			int rc = system(cmd);
			if (rc)
				fprintf(stderr, "  %s as %s does not validate:\n%s", cases[i].vm,
					hv_type_name(cases[i].t), x);
			CHECK(rc == 0);
			free(cmd);
		}
		if (conn) {
			virDomainPtr d = virDomainDefineXML(conn, x);
			if (!d)
				fprintf(stderr, "  test driver refused %s as %s: %s\n", cases[i].vm,
					hv_type_name(cases[i].t), hv_last_error());
			CHECK(d != NULL);
			if (d) {
				virDomainUndefine(d);
				virDomainFree(d);
			}
		}
		free(x);
	}
	if (conn)
		virConnectClose(conn);
	cluster_free(c);
	free(y);
	unlink(md);
	unlink(xf);
	if (mfd >= 0)
		close(mfd);
	if (xfd >= 0)
		close(xfd);
}

TEST(disks_need_volumes)
{
	struct cluster *c = load_yaml(yaml);
	struct errbuf err = ERRBUF_INIT;
	char *x = hv_domain_xml(c, cluster_vm(c, "web"), HV_KVM, NULL, NULL, &err);
	CHECK(x == NULL);
	CHECK(strstr(err_msg(&err), "vm 'web'") != NULL);
	errbuf_release(&err);
	cluster_free(c);
}

TEST(test_driver_accepts_qemu_xml)
{
	struct cluster *c = load_yaml(yaml);
	virConnectPtr conn = virConnectOpen("test:///default");
	char *x = xml_of(c, "boot", HV_QEMU, 0);
	virDomainPtr d;
	char *back;
	struct vem_meta m;
	CHECK(conn != NULL);
	d = conn && x ? virDomainDefineXML(conn, x) : NULL;
	CHECK(d != NULL);
	if (d) {
		char uuid[VIR_UUID_STRING_BUFLEN], want[37];
		virDomainGetUUIDString(d, uuid);
		hv_uuid_for("lab", "boot", want);
		CHECK_STR(uuid, want);
		back = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0);
		CHECK(back != NULL);
		CHECK(back && hv_meta_parse(back, &m) == 0);
		if (back) {
			CHECK_STR(m.cluster, "lab");
			CHECK_STR(m.vm, "boot");
			CHECK_STR(m.spec_hash, cluster_vm(c, "boot")->spec_hash);
			CHECK(m.created_at == 1795584000000);
			vem_meta_release(&m);
		}
		free(back);
		virDomainUndefine(d);
		virDomainFree(d);
	}
	free(x);
	if (conn)
		virConnectClose(conn);
	cluster_free(c);
}

TEST(resolve_type_from_capabilities)
{
	enum hv_type t;
	CHECK(hv_resolve_type(HV_AUTO, (1u << HV_KVM) | (1u << HV_QEMU), &t) == 0 && t == HV_KVM);
	CHECK(hv_resolve_type(HV_AUTO, 1u << HV_QEMU, &t) == 0 && t == HV_QEMU);
	CHECK(hv_resolve_type(HV_AUTO, 1u << HV_XEN, &t) == -1);
	CHECK(hv_resolve_type(HV_XEN, 1u << HV_XEN, &t) == 0 && t == HV_XEN);
	CHECK(hv_resolve_type(HV_LXC, 1u << HV_QEMU, &t) == -1);
}

TEST(capabilities_parsed)
{
	char uuid[37];
	unsigned caps = hv_caps_parse(
		"<capabilities><host><uuid>5ee1ab00-0001-4000-8000-000000000002</uuid></host>"
		"<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/>"
		"<domain type='kvm'/></arch></guest></capabilities>", uuid);
	CHECK(caps == ((1u << HV_QEMU) | (1u << HV_KVM)));
	CHECK_STR(uuid, "5ee1ab00-0001-4000-8000-000000000002");
	CHECK(hv_caps_parse("<capabilities><host/></capabilities>", uuid) == 0);
}

/* libvirt's test driver offers every type (it defines them all), so that
 * test:///default hosts can take VMs; read from the driver itself. */
TEST(capabilities_of_the_test_driver)
{
	virConnectPtr conn = virConnectOpen("test:///default");
	char *xml = conn ? virConnectGetCapabilities(conn) : NULL;
	char uuid[37];
	enum hv_type t;
	unsigned caps;

	CHECK(xml != NULL);
	caps = xml ? hv_caps_parse(xml, uuid) : 0;
	CHECK(caps == ((1u << HV_KVM) | (1u << HV_QEMU) | (1u << HV_XEN) | (1u << HV_LXC)));
	CHECK(hv_resolve_type(HV_AUTO, caps, &t) == 0 && t == HV_KVM);
	free(xml);
	if (conn)
		virConnectClose(conn);
}

TEST(uuid_mark_and_stability)
{
	char a[37], b[37], other[37];
	hv_uuid_for("lab", "api-0", a);
	hv_uuid_for("lab", "api-0", b);
	hv_uuid_for("lab", "api-1", other);
	CHECK_STR(a, b);
	CHECK(strcmp(a, other) != 0);
	CHECK(hv_uuid_marked("lab", a) && hv_uuid_marked("lab", other));
	CHECK(!hv_uuid_marked("prod", a));
	CHECK(a[14] == '4');
}

TEST(credentials_never_shown)
{
	char *s = hv_uri_display("qemu+tcp://admin:s3cret@10.0.0.1/system");
	CHECK_STR(s, "qemu+tcp://admin:****@10.0.0.1/system");
	free(s);
	s = hv_uri_display("qemu+ssh://root@h/system?keyfile=/k");
	CHECK_STR(s, "qemu+ssh://root@h/system?keyfile=/k");
	free(s);
	s = hv_uri_display("qemu+ssh://root:s3cret@h");   /* no path after the host */
	CHECK_STR(s, "qemu+ssh://root:****@h");
	free(s);
	s = hv_uri_display("qemu+tcp://h/system?x=a:b@c");   /* '@' only in the query */
	CHECK_STR(s, "qemu+tcp://h/system?x=a:b@c");
	free(s);
	/* ssh quotes user:password@host back in its errors */
	s = hv_error_scrub("qemu+ssh://root:s3cret@h:22/system",
			   "Cannot recv data: @@@@@@@@\n@    WARNING    @\n@@@@@@@@\n"
			   "Offending key\nroot:s3cret@h: Permission denied (publickey).\n");
	CHECK_STR(s, "Cannot recv data: @@@@@@@@ @    WARNING    @ Offending key "
		  "root:****@h: Permission denied (publickey).");
	free(s);
	s = hv_error_scrub("qemu+tcp://h/system", "no route\n");
	CHECK_STR(s, "no route");
	free(s);
}

TEST(metadata_round_trip)
{
	struct vem_meta m, back;
	struct strbuf sb = STRBUF_INIT;
	memset(&m, 0, sizeof(m));
	m.cluster = xstrdup("lab");
	m.vm = xstrdup("a<b");
	m.spec_hash = xstrdup("0123456789abcdef");
	m.migrated_at = 42;
	m.volumes = xcalloc(2, sizeof(char *));
	m.volumes[0] = xstrdup("/v/a");
	m.volumes[1] = xstrdup("/v/b");
	m.n_volumes = 2;
	hv_meta_xml(&sb, &m, "");
	CHECK(hv_meta_parse(sb.buf, &back) == 0);
	CHECK_STR(back.vm, "a<b");
	CHECK(back.migrated_at == 42 && back.n_volumes == 2);
	CHECK_STR(back.volumes[1], "/v/b");
	CHECK(back.template == NULL);
	vem_meta_release(&m);
	vem_meta_release(&back);
	strbuf_release(&sb);
	CHECK(hv_meta_parse("<other/>", &back) == -1);
}


int main(void)
{
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(expected_xml_per_hypervisor);
	RUN(libvirt_schema_accepts_every_domain);
	RUN(disks_need_volumes);
	RUN(test_driver_accepts_qemu_xml);
	RUN(resolve_type_from_capabilities);
	RUN(capabilities_parsed);
	RUN(capabilities_of_the_test_driver);
	RUN(uuid_mark_and_stability);
	RUN(credentials_never_shown);
	RUN(metadata_round_trip);
	return test_done();
}
