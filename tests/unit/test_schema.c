/*
 * test_schema.c - the cluster file loader and the model: units, defaults,
 * replicas, overrides, merging directories, limits, spec hashes, the JSON
 * Schema. The error corpus (tests/schema/run) covers the messages.
 */
#include "test.h"
#include "schema/load.h"
#include "schema/load_priv.h"
#include "schema/keys.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOWDOWN 5
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

#define HOSTS "cluster: lab\nhosts:\n  - {name: h1, uri: \"qemu:///system\"}\n"

/* CPU time of this process in ms: a busy machine does not fail the test. */
static int64_t cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct cluster *load_str(const char *yaml, struct errbuf *err)
{
	return cfg_load_buffer("t.yaml", yaml, strlen(yaml), err);
}

/* Load yaml that must be valid; print the problems if it is not. */
static struct cluster *load_ok(const char *yaml)
{
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c = load_str(yaml, &err);
	if (!c)
		err_print(&err, stderr, "  unexpected");
	errbuf_release(&err);
	return c;
}

/* The problems of yaml that must fail, one per line. */
static char *load_fail(const char *yaml)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct cluster *c = load_str(yaml, &err);
	if (c) {
		cluster_free(c);
		strbuf_adds(&sb, "(loaded)");
	}
	for (size_t i = 0; i < err.nr; i++)
		strbuf_addf(&sb, "%d:%d: %s\n", err.items[i].line, err.items[i].col, err.items[i].msg);
	errbuf_release(&err);
	return strbuf_detach(&sb, NULL);
}

TEST(sizes)
{
	const char *why;
	uint64_t b;

	CHECK(!parse_size("0", &b, &why) && b == 0);
	CHECK(parse_size("4096", &b, &why) == -1);     /* a unit is required */
	CHECK(!parse_size("4096B", &b, &why) && b == 4096);
	CHECK(!parse_size("512MiB", &b, &why) && b == 512 * MiB);
	CHECK(!parse_size("1.5GiB", &b, &why) && b == 3 * GiB / 2);
	CHECK(!parse_size("1G", &b, &why) && b == GiB);   /* libvirt: G is GiB */
	CHECK(!parse_size("100MB", &b, &why) && b == 100000000ULL);
	CHECK(!parse_size("2 TiB", &b, &why) && b == 2 * 1024 * GiB);
	CHECK(parse_size("16383PiB", &b, &why) == -1);   /* no PiB unit */
	CHECK(parse_size("", &b, &why));
	CHECK(parse_size("MiB", &b, &why));
	CHECK(parse_size("-1MiB", &b, &why));
	CHECK(parse_size("2Gb", &b, &why));
	CHECK(parse_size("1.5", &b, &why));          /* half a byte */
	CHECK(parse_size("99999999TiB", &b, &why));   /* overflows 64 bits */
	CHECK(parse_size("18446744073709551616B", &b, &why));
	/* sizes stop at 1EiB: sums and products of sizes never overflow */
	CHECK(parse_size("18446744073709551615B", &b, &why) && strstr(why, "at most 1EiB"));
	CHECK(!parse_size("1152921504606846976B", &b, &why) && b == SIZE_MAX_BYTES);
	CHECK(parse_size("1152921504606846977B", &b, &why));
	CHECK(parse_size("1048577TiB", &b, &why) && strstr(why, "at most 1EiB"));
}

TEST(durations)
{
	const char *why;
	int64_t ms;

	CHECK(!parse_duration("0", &ms, &why) && ms == 0);
	CHECK(!parse_duration("90s", &ms, &why) && ms == 90000);
	CHECK(!parse_duration("10m", &ms, &why) && ms == 600000);
	CHECK(!parse_duration("1h30m", &ms, &why) && ms == 5400000);
	CHECK(!parse_duration("500ms", &ms, &why) && ms == 500);
	CHECK(!parse_duration("2d", &ms, &why) && ms == 172800000);
	CHECK(parse_duration("", &ms, &why));
	CHECK(parse_duration("10", &ms, &why));
	CHECK(parse_duration("1x", &ms, &why));
	CHECK(parse_duration("s", &ms, &why));
	CHECK(parse_duration("-1s", &ms, &why));
	CHECK(parse_duration("99999999999999999999d", &ms, &why));
	CHECK(parse_duration("9999999999999999d", &ms, &why));
}

TEST(units_in_the_file)
{
	struct cluster *c = load_ok(HOSTS "templates:\n  - {name: t, memory: 1.5GiB, max-memory: 2G}\n"
				    "balance: {bandwidth: 100MiB/s, cooldown: 1h30m, sample-window: 250ms}\n");
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_INT(c->templates[0].cfg.memory, 3 * GiB / 2);
	CHECK_INT(c->templates[0].cfg.max_memory, 2 * GiB);   /* libvirt: G is GiB */
	CHECK_INT(c->balance.bandwidth, 100 * MiB);
	CHECK_INT(c->balance.cooldown, 5400000);
	CHECK_INT(c->balance.sample_window, 250);
	cluster_free(c);
}

TEST(defaults)
{
	struct cluster *c = load_ok(HOSTS "images:\n  - {name: i, url: \"https://x/i\", sha256: "
				    "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n"
				    "vms:\n  - name: solo\n    disks: [{image: i}]\n    networks: [{network: default}]\n");
	const struct vm_spec *v;

	CHECK(c != NULL);
	if (!c)
		return;
	v = cluster_vm(c, "solo");
	CHECK(v != NULL);
	if (!v)
		goto out;
	CHECK_INT(v->cfg.hypervisor, HV_AUTO);
	CHECK_INT(v->cfg.vcpus, 1);
	CHECK_INT(v->cfg.max_vcpus, 1);
	CHECK_INT(v->cfg.memory, 512 * MiB);
	CHECK_INT(v->cfg.max_memory, 512 * MiB);
	CHECK(v->cfg.cpu_mode == NULL);
	CHECK_STR(v->cfg.disks[0].bus, "virtio");
	CHECK_STR(v->cfg.nets[0].model, "virtio");
	CHECK_INT(v->state, VM_RUNNING);
	CHECK(!v->cfg.autostart);
	CHECK_INT(v->replica, -1);
	CHECK_STR(v->group, "solo");
	CHECK(v->template == NULL);
	CHECK_STR(cluster_image(c, "i")->format, "qcow2");
	CHECK_INT(c->hosts[0].reserve, 0);
	CHECK_INT(c->hosts[0].cpus, 0);
	CHECK(!c->hosts[0].maintenance);
	CHECK(c->balance.enabled);
	CHECK(c->balance.w_cpu == 1.0 && c->balance.w_memory == 0.5 && c->balance.w_vcpu == 0.0);
	CHECK(c->balance.threshold == 0.10 && c->balance.min_gain == 0.01);
	CHECK_INT(c->balance.max_migrations, 4);
	CHECK_INT(c->balance.max_parallel, 2);
	CHECK_INT(c->balance.cooldown, 600000);
	CHECK(c->balance.vcpu_overcommit == 4.0);
	CHECK_INT(c->balance.bandwidth, 0);
	CHECK_INT(c->balance.migration_timeout, 300000);
	CHECK_INT(c->balance.sample_window, 2000);
out:
	cluster_free(c);
}

TEST(replicas_and_overrides)
{
	struct cluster *c = load_ok(HOSTS
		"templates:\n"
		"  - {name: t, vcpus: 1, max-vcpus: 4, memory: 32MiB, kernel: /k, disks: [{size: 1GiB}]}\n"
		"vms:\n"
		"  - {name: web, template: t, replicas: 3, memory: 64MiB, placement: {spread: web}}\n"
		"  - {name: db, template: t, vcpus: 2, disks: [{size: 2GiB}, {size: 3GiB}], state: stopped}\n"
		"  - {name: none, template: t, replicas: 0}\n"
		"  - {name: aaa, template: t}\n");
	static const char *const names[] = { "aaa", "db", "web-0", "web-1", "web-2" };

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_INT(c->n_vms, 5);
	for (size_t i = 0; i < c->n_vms && i < 5; i++)
		CHECK_STR(c->vms[i].name, names[i]);   /* expanded and sorted */
	for (int r = 0; r < 3; r++) {
		char n[16];
		const struct vm_spec *v;
		snprintf(n, sizeof(n), "web-%d", r);
		v = cluster_vm(c, n);
		CHECK(v && v->replica == r && str_eq(v->group, "web") && str_eq(v->template, "t"));
		CHECK(v && v->cfg.memory == 64 * MiB && v->cfg.max_memory == 64 * MiB);
		CHECK(v && str_eq(v->placement.spread, "web") && v->cfg.n_disks == 1);
		CHECK(v && str_eq(v->cfg.kernel, "/k"));
	}
	CHECK(cluster_vm(c, "db")->cfg.vcpus == 2 && cluster_vm(c, "db")->cfg.max_vcpus == 4);
	CHECK_INT(cluster_vm(c, "db")->cfg.n_disks, 2);   /* the VM's list replaces the template's */
	CHECK_INT(cluster_vm(c, "db")->cfg.disks[1].size, 3 * GiB);
	CHECK_INT(cluster_vm(c, "db")->state, VM_STOPPED);
	CHECK_INT(cluster_vm(c, "aaa")->cfg.memory, 32 * MiB);
	CHECK(cluster_vm(c, "none") == NULL && cluster_vm(c, "none-0") == NULL);
	CHECK(cluster_vm(c, "web") == NULL);
	cluster_free(c);
}

TEST(anchors_and_merge_keys)
{
	struct cluster *c = load_ok(HOSTS
		"templates:\n"
		"  - &a {name: a, vcpus: 2, memory: 1GiB}\n"
		"  - {memory: 2GiB, <<: *a, name: b}\n");   /* own keys win wherever they are */
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_INT(c->n_templates, 2);
	CHECK_STR(c->templates[1].name, "b");
	CHECK_INT(c->templates[1].cfg.vcpus, 2);
	CHECK_INT(c->templates[1].cfg.memory, 2 * GiB);
	cluster_free(c);
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return p;
}

static void rm_tree(const char *dir, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

TEST(directory_merge)
{
	char dir[] = "/tmp/vem-test-XXXXXX";
	static const char *const files[] = { "a.yaml", "b.yml", "c.yaml", "notes.txt", ".hidden.yaml" };
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;

	CHECK(mkdtemp(dir) != NULL);
	free(write_tmp(dir, "a.yaml", "cluster: d\nhosts: [{name: h2, uri: \"qemu:///system\"}]\n"));
	free(write_tmp(dir, "b.yml", "cluster: d\nhosts: [{name: h1, uri: \"qemu:///system\"}]\n"
		       "templates: [{name: t, memory: 64MiB}]\nbalance: {threshold: 0.5}\n"));
	free(write_tmp(dir, "c.yaml", "vms: [{name: v, template: t, replicas: 2}]\n"));
	free(write_tmp(dir, "notes.txt", "this is not yaml: [\n"));
	free(write_tmp(dir, ".hidden.yaml", "garbage: [\n"));
	c = cfg_load(dir, &err);
	err_print(&err, stderr, "  unexpected");
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->name, "d");
		CHECK_INT(c->n_hosts, 2);
		CHECK(cluster_host(c, "h1") && cluster_host(c, "h2"));
		CHECK_STR(c->hosts[0].name, "h2");   /* files in name order */
		CHECK_INT(c->n_vms, 2);
		CHECK_INT(cluster_vm(c, "v-1")->cfg.memory, 64 * MiB);
		CHECK(c->balance.threshold == 0.5);
		CHECK_INT(c->n_files, 3);
	}
	cluster_free(c);
	errbuf_release(&err);
	rm_tree(dir, files, ARRAY_SIZE(files));
}

TEST(duplicates_across_files)
{
	char dir[] = "/tmp/vem-test-XXXXXX";
	static const char *const files[] = { "a.yaml", "b.yaml" };
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	char *a, *b, *want;

	CHECK(mkdtemp(dir) != NULL);
	a = write_tmp(dir, "a.yaml", "cluster: d\nhosts:\n  - name: h1\n    uri: qemu:///system\n");
	b = write_tmp(dir, "b.yaml", "hosts:\n  - {name: h0, uri: \"qemu:///system\"}\n"
		      "  - {name: h1, uri: \"qemu:///system\"}\nbalance: {}\nbalance: {}\n");
	c = cfg_load(dir, &err);
	CHECK(c == NULL);
	CHECK_INT(err.nr, 2);
	if (err.nr == 2) {
		want = xasprintf("host 'h1' is defined twice (first at %s:3:5)", a);
		CHECK_STR(err.items[0].file, b);
		CHECK_INT(err.items[0].line, 3);
		CHECK_INT(err.items[0].col, 5);
		CHECK_STR(err.items[0].msg, want);
		free(want);
		CHECK(strstr(err.items[1].msg, "'balance' is set twice") != NULL);
	}
	cluster_free(c);
	errbuf_release(&err);
	free(a);
	free(b);
	rm_tree(dir, files, ARRAY_SIZE(files));
}

TEST(alias_bomb)
{
	struct strbuf sb = STRBUF_INIT;
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	int64_t t0;

	/* nine levels of ten merges: 10^9 mappings if expanded */
	strbuf_adds(&sb, HOSTS "templates:\n  - &l0 {name: t0, memory: 32MiB}\n");
	for (int i = 1; i < 10; i++) {
		strbuf_addf(&sb, "  - &l%d {name: t%d, <<: [", i, i);
		for (int j = 0; j < 10; j++)
			strbuf_addf(&sb, "%s*l%d", j ? ", " : "", i - 1);
		strbuf_adds(&sb, "]}\n");
	}
	t0 = cpu_ms();
	c = cfg_load_buffer("bomb.yaml", sb.buf, sb.len, &err);
	CHECK(c == NULL);
	CHECK(cpu_ms() - t0 < 1000 * SLOWDOWN);
	CHECK_INT(err.nr, 1);
	CHECK(strstr(err_msg(&err), "alias bomb") != NULL);
	cluster_free(c);
	errbuf_release(&err);
	strbuf_release(&sb);
}

TEST(limits)
{
	struct errbuf err = ERRBUF_INIT;
	size_t big = CFG_MAX_FILE_BYTES + 1;
	char *buf = xmalloc(big);
	struct strbuf deep = STRBUF_INIT;
	int64_t t0;
	char *out;

	memset(buf, ' ', big);
	CHECK(cfg_load_buffer("big.yaml", buf, big, &err) == NULL);
	CHECK(strstr(err_msg(&err), "larger than") != NULL);
	free(buf);
	errbuf_release(&err);

	strbuf_adds(&deep, HOSTS "balance:\n  metrics: ");
	for (int i = 0; i < 100; i++)
		strbuf_adds(&deep, "{cpu: 1, <<: ");
	strbuf_adds(&deep, "{}");
	for (int i = 0; i < 100; i++)
		strbuf_addc(&deep, '}');
	strbuf_addc(&deep, '\n');
	out = load_fail(deep.buf);
	CHECK(strstr(out, "nesting is deeper than 64 levels") != NULL);
	free(out);
	strbuf_release(&deep);

	/* a million '[': refused before libyaml's scanner goes quadratic */
	strbuf_adds(&deep, "cluster: x\nhosts: ");
	for (int i = 0; i < 1000000; i++)
		strbuf_addc(&deep, '[');
	t0 = cpu_ms();
	out = load_fail(deep.buf);
	CHECK(cpu_ms() - t0 < 1000 * SLOWDOWN);
	CHECK_STR(out, "2:71: nesting is deeper than 64 levels\n");
	free(out);
	strbuf_release(&deep);

	/* the first 1000 problems, then how many more */
	strbuf_adds(&deep, HOSTS "balance:\n");
	for (int i = 0; i < 1500; i++)
		strbuf_addf(&deep, "  k%d: 1\n", i);
	CHECK(load_str(deep.buf, &err) == NULL);
	CHECK_INT(err.nr, 1001);
	CHECK_STR(err.items[err.nr - 1].msg, "500 more problems not shown");
	errbuf_release(&err);
	strbuf_release(&deep);

	/* replicas are bounded too */
	out = load_fail(HOSTS "vms:\n  - &v {name: a, replicas: 100000}\n  - {<<: *v, name: b}\n"
			"  - {<<: *v, name: c}\n");
	CHECK_STR(out, "7:5: more than 200000 VMs after expanding replicas\n");
	free(out);
}

TEST(all_problems_sorted)
{
	char *out = load_fail("hosts:\n  - {name: h1, uri: x}\n  - {name: h1, uri: \"qemu:///system\"}\n"
			      "vms:\n  - {name: v, vcpus: 0, memroy: 1GiB, template: nope}\n"
			      "balance: {threshold: 7}\n");
	CHECK_STR(out,
		  "1:1: missing required key 'cluster' (the cluster's name)\n"
		  "2:5: host 'h1': 'x' is not a libvirt URI like qemu+tcp://10.0.0.1/system\n"
		  "3:5: host 'h1' is defined twice (first at t.yaml:2:5)\n"
		  "5:5: vm 'v': unknown template 'nope'\n"
		  "5:22: 'vcpus' must be at least 1, found '0'\n"
		  "5:25: unknown key 'memroy' in vm 'v'; did you mean 'memory'?\n"
		  "6:22: 'threshold' must be at most 1, found '7'\n");
	free(out);
}

TEST(impossible_values)
{
	char *out = load_fail(HOSTS "templates:\n  - {name: t, memory: 2GiB, max-memory: 1GiB, vcpus: 4, max-vcpus: 2}\n"
			      "vms:\n  - {name: v, template: t, replicas: -3}\n");
	CHECK(strstr(out, "memory 2GiB is above max-memory 1GiB") != NULL);
	CHECK(strstr(out, "vcpus 4 is above max-vcpus 2") != NULL);
	CHECK(strstr(out, "'replicas' must be at least 0, found '-3'") != NULL);
	free(out);
	out = load_fail(HOSTS "templates:\n  - {name: t, networks: [{network: a, bridge: b}, {bridge: c, mac: zz}]}\n");
	CHECK(strstr(out, "has both 'network' and 'bridge'") != NULL);
	CHECK(strstr(out, "'zz' is not a unicast MAC address") != NULL);
	free(out);
}

static const char *hash_of(const char *yaml, const char *vm, char out[17])
{
	struct cluster *c = load_ok(yaml);
	const struct vm_spec *v = c ? cluster_vm(c, vm) : NULL;
	memcpy(out, v ? v->spec_hash : "missing", v ? 17 : 8);
	cluster_free(c);
	return out;
}

TEST(spec_hash)
{
	char h1[17], h2[17], h3[17], h4[17], h5[17], h6[17];
	const char *base = HOSTS "vms:\n  - {name: v, memory: 64MiB}\n";

	hash_of(base, "v", h1);
	CHECK_INT(strlen(h1), 16);
	CHECK(strspn(h1, "0123456789abcdef") == 16);
	hash_of(base, "v", h2);
	CHECK_STR(h1, h2);   /* same spec, same hash */
	/* state, placement, other VMs and spelling do not change it */
	hash_of(HOSTS "vms:\n  - {name: v, memory: 65536KiB, state: stopped, placement: {spread: x}}\n"
		"  - {name: w}\n", "v", h3);
	CHECK_STR(h3, h1);
	/* through a template: the same configuration, the same hash */
	hash_of(HOSTS "templates: [{name: t, memory: 64MiB}]\nvms:\n  - {name: v, template: t}\n", "v", h6);
	CHECK_STR(h6, h1);
	hash_of(HOSTS "vms:\n  - {name: v, memory: 128MiB}\n", "v", h4);
	CHECK(strcmp(h4, h1) != 0);   /* memory changed */
	hash_of("cluster: other\nhosts: [{name: h1, uri: \"qemu:///system\"}]\nvms:\n  - {name: v, memory: 64MiB}\n",
		"v", h5);
	CHECK(strcmp(h5, h1) != 0);   /* another cluster's VM */
}

/* The hashes are stored on every host: the same spec must give the same
 * hash from one version of vem to the next, or every VM looks changed.
 * These values were taken before the JSON writer was made cheaper. */
TEST(spec_hash_pinned)
{
	char h[17];

	hash_of(HOSTS "vms:\n  - {name: v, memory: 64MiB}\n", "v", h);
	CHECK_STR(h, "11a4b6e9369bff8d");
	hash_of(HOSTS "vms:\n  - {name: web-1, vcpus: 3, max-vcpus: 8, memory: 3GiB, max-memory: 16GiB,\n"
		"      cpu-mode: host-passthrough, kernel: /boot/vmlinuz, initrd: /boot/initrd.img,\n"
		"      cmdline: \"console=ttyS0 x=\\\"q\\\" b=\\\\ t=\\t \\u00e9 \\u0001\",\n"
		"      disks: [{size: 10GiB, bus: virtio}, {size: 1TiB}],\n"
		"      networks: [{network: default, mac: \"52:54:00:12:34:56\", model: virtio}]}\n",
		"web-1", h);
	CHECK_STR(h, "253a0d7cd0b6509a");
}

/* A cloud-init file counts by its content: the same cluster in another
 * directory (a new git work tree) has the same hashes. */
static void hash_in_dir(const char *user_data, char out[17])
{
	char dir[] = "/tmp/vem-test-XXXXXX";
	static const char *const files[] = { "c.yaml", "user-data" };
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	const struct vm_spec *v;

	strcpy(out, "missing");
	if (!mkdtemp(dir))
		return;
	free(write_tmp(dir, "user-data", user_data));
	free(write_tmp(dir, "c.yaml", HOSTS "vms:\n  - {name: v, cloud-init: {user-data: user-data}}\n"));
	c = cfg_load(dir, &err);
	err_print(&err, stderr, "  unexpected");
	v = c ? cluster_vm(c, "v") : NULL;
	if (v)
		memcpy(out, v->spec_hash, 17);
	cluster_free(c);
	errbuf_release(&err);
	rm_tree(dir, files, ARRAY_SIZE(files));
}

TEST(spec_hash_cloud_init_by_content)
{
	char a[17], b[17], d[17];

	hash_in_dir("#cloud-config\nhostname: v\n", a);
	hash_in_dir("#cloud-config\nhostname: v\n", b);
	CHECK(strcmp(a, "missing") != 0);
	CHECK_STR(a, b);                 /* another directory, same content */
	hash_in_dir("#cloud-config\nhostname: w\n", d);
	CHECK(strcmp(a, d) != 0);        /* content changed */
}

/* The spec hashes of 40 VMs, one cloud-init file each (prefix + i, with
 * content number (i + shift) % 5), into hashes[i]; false when the cluster
 * does not load. */
static bool hashes_many_files(const char *prefix, int shift, char hashes[40][17])
{
	char dir[] = "/tmp/vem-test-XXXXXX";
	char *names[41] = { 0 };
	struct strbuf yaml = STRBUF_INIT;
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	bool ok = true;

	if (!mkdtemp(dir))
		return false;
	strbuf_adds(&yaml, HOSTS "vms:\n");
	for (int i = 0; i < 40; i++) {
		char text[64];
		names[i] = xasprintf("%s%d", prefix, i);
		snprintf(text, sizeof(text), "#cloud-config\nhostname: x%d\n", (i + shift) % 5);
		free(write_tmp(dir, names[i], text));
		strbuf_addf(&yaml, "  - {name: v%d, cloud-init: {user-data: %s}}\n", i, names[i]);
	}
	names[40] = xstrdup("c.yaml");
	free(write_tmp(dir, "c.yaml", yaml.buf));
	c = cfg_load(dir, &err);
	err_print(&err, stderr, "  unexpected");
	for (int i = 0; i < 40; i++) {
		char name[8];
		const struct vm_spec *v;
		snprintf(name, sizeof(name), "v%d", i);
		v = c ? cluster_vm(c, name) : NULL;
		ok = ok && v;
		memcpy(hashes[i], v ? v->spec_hash : "missing", v ? 17 : 8);
	}
	cluster_free(c);
	errbuf_release(&err);
	rm_tree(dir, (const char *const *)names, 41);
	for (int i = 0; i < 41; i++)
		free(names[i]);
	strbuf_release(&yaml);
	return ok;
}

/* One cloud-init file per VM, 40 paths: each VM's hash follows its file's
 * content, not its path, however many paths there are. */
TEST(spec_hash_many_cloud_init_files)
{
	char a[40][17], b[40][17], d[40][17], all[65];
	size_t same = 0, differ = 0;

	CHECK(hashes_many_files("u", 0, a));
	CHECK(hashes_many_files("another-name-", 0, b));
	CHECK(hashes_many_files("u", 1, d));
	for (int i = 0; i < 40; i++) {
		same += !strcmp(a[i], b[i]);
		differ += strcmp(a[i], d[i]) != 0;
	}
	CHECK_INT(same, 40);
	CHECK_INT(differ, 40);
	/* the values themselves, taken before the paths had a hash table */
	sha256_hex(a, sizeof(a), all);
	CHECK_STR(all, "752fa0a746f955da258da17ad7adfe803fea450cdafa9e46bafe13546128a301");
}

TEST(model_helpers)
{
	enum hv_type t;
	struct label items[] = { { "a", "1" }, { "rack", "b" } };
	struct labels l = { items, 2 };

	CHECK_STR(hv_type_name(HV_AUTO), "auto");
	CHECK_STR(hv_type_name(HV_LXC), "lxc");
	CHECK(!hv_type_parse("xen", &t) && t == HV_XEN);
	CHECK(!hv_type_parse("qemu", &t) && t == HV_QEMU);
	CHECK(hv_type_parse("vmware", &t) == -1);
	CHECK(hv_type_parse("KVM", &t) == -1);
	CHECK_STR(labels_get(&l, "rack"), "b");
	CHECK(labels_get(&l, "zone") == NULL);
	CHECK(cfg_valid_name("api-1.a_b") && !cfg_valid_name("-a") && !cfg_valid_name("a b") && !cfg_valid_name(""));
	CHECK(cfg_valid_uri("qemu+tcp://10.0.0.1/system") && cfg_valid_uri("qemu:///system"));
	CHECK(!cfg_valid_uri("10.0.0.1") && !cfg_valid_uri("qemu://a b/system") && !cfg_valid_uri("://x"));
	CHECK(cfg_valid_mac("52:54:00:ab:CD:ef") && !cfg_valid_mac("53:54:00:ab:cd:ef") && !cfg_valid_mac("52:54:00:ab:cd"));
	CHECK(!cfg_valid_sha256("ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"));
	cluster_free(NULL);
}

TEST(json_output)
{
	struct cluster *c = load_ok(HOSTS "vms:\n  - {name: v, memory: 1GiB, replicas: 1}\n");
	struct strbuf sb = STRBUF_INIT, again = STRBUF_INIT;

	CHECK(c != NULL);
	if (!c)
		return;
	cluster_write_json(c, NULL, &sb);
	CHECK(strstr(sb.buf, "\"memory\": 1073741824") != NULL);
	CHECK(strstr(sb.buf, "\"name\": \"v-0\"") != NULL);
	CHECK(strstr(sb.buf, "\"cooldown\": 600000") != NULL);
	cluster_write_json(c, NULL, &again);
	CHECK_STR(again.buf, sb.buf);
	cluster_free(c);
	strbuf_release(&sb);
	strbuf_release(&again);
}

/* Every key of every table is in the schema, and the committed copy is current. */
static void schema_has_table(const char *schema, const struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		char *k = xasprintf("\"%s\": {", t->keys[i].name);
		if (!strstr(schema, k)) {
			fprintf(stderr, "  schema lacks %s\n", k);
			test_cur_failed = 1;
		}
		free(k);
		if (t->keys[i].sub)
			schema_has_table(schema, t->keys[i].sub);
	}
	if (t->with)
		schema_has_table(schema, t->with);
}

TEST(json_schema)
{
	struct strbuf gen = STRBUF_INIT, committed = STRBUF_INIT;

	cfg_write_json_schema(&gen);
	schema_has_table(gen.buf, &tbl_top);
	CHECK(strstr(gen.buf, "\"$schema\": \"https://json-schema.org/draft/2020-12/schema\"") != NULL);
	CHECK(strstr(gen.buf, "\"default\": \"512MiB\"") != NULL);
	if (strbuf_read_file(&committed, "schema/vem-cluster.schema.json", 0)) {
		fprintf(stderr, "  cannot read schema/vem-cluster.schema.json (run from the repository)\n");
		test_cur_failed = 1;
	} else if (strcmp(gen.buf, committed.buf)) {
		fprintf(stderr, "  schema/vem-cluster.schema.json is stale: ./vem schema > schema/vem-cluster.schema.json\n");
		test_cur_failed = 1;
	}
	strbuf_release(&gen);
	strbuf_release(&committed);
}

/* The man page names every key in bold (".B key" or ".BR key ..."). */
static void man_has_table(const char *man, const struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *k = t->keys[i].name;
		char *b = xasprintf("\n.B %s\n", k), *br = xasprintf("\n.BR %s ", k);
		if (!strstr(man, b) && !strstr(man, br)) {
			fprintf(stderr, "  docs/vem-cluster.yaml.5 does not document '%s' (%s)\n", k, t->name);
			test_cur_failed = 1;
		}
		free(b);
		free(br);
		if (t->keys[i].sub)
			man_has_table(man, t->keys[i].sub);
	}
	if (t->with)
		man_has_table(man, t->with);
}

TEST(man_page)
{
	struct strbuf man = STRBUF_INIT;

	if (strbuf_read_file(&man, "docs/vem-cluster.yaml.5", 0)) {
		fprintf(stderr, "  cannot read docs/vem-cluster.yaml.5 (run from the repository)\n");
		test_cur_failed = 1;
	} else {
		man_has_table(man.buf, &tbl_top);
	}
	strbuf_release(&man);
}

TEST(twenty_thousand_vms)
{
	struct strbuf sb = STRBUF_INIT;
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	int64_t t0, w0, ms, wall;

	strbuf_adds(&sb, "cluster: big\nhosts:\n");
	for (int i = 0; i < 100; i++)
		strbuf_addf(&sb, "  - {name: h%d, uri: \"qemu+tcp://10.0.%d.%d/system\", labels: {rack: r%d}}\n",
			    i, i / 250, i % 250, i % 4);
	strbuf_adds(&sb, "templates:\n  - {name: t, vcpus: 1, memory: 32MiB, kernel: /k}\nvms:\n");
	for (int i = 0; i < 20000; i++)
		strbuf_addf(&sb, "  - name: vm%05d\n    template: t\n    memory: %dMiB\n"
			    "    placement: {hosts: [h%d, h%d], spread: g%d}\n", i, 32 + i % 8, i % 100, (i + 1) % 100, i % 50);
	t0 = cpu_ms();
	w0 = time_mono_ms();
	c = cfg_load_buffer("big.yaml", sb.buf, sb.len, &err);
	ms = cpu_ms() - t0;
	wall = time_mono_ms() - w0;
	err_print(&err, stderr, "  unexpected");
	CHECK(c && c->n_vms == 20000);
	printf("# 20000 vms (%zu bytes) loaded in %lld ms of CPU (%lld ms wall)\n", sb.len,
	       (long long)ms, (long long)wall);
	CHECK(ms < 1000 * SLOWDOWN);
	cluster_free(c);
	errbuf_release(&err);
	strbuf_release(&sb);
}

int main(void)
{
	RUN(sizes);
	RUN(durations);
	RUN(units_in_the_file);
	RUN(defaults);
	RUN(replicas_and_overrides);
	RUN(anchors_and_merge_keys);
	RUN(directory_merge);
	RUN(duplicates_across_files);
	RUN(alias_bomb);
	RUN(limits);
	RUN(all_problems_sorted);
	RUN(impossible_values);
	RUN(spec_hash);
	RUN(spec_hash_cloud_init_by_content);
	RUN(spec_hash_pinned);
	RUN(spec_hash_many_cloud_init_files);
	RUN(model_helpers);
	RUN(json_output);
	RUN(json_schema);
	RUN(man_page);
	RUN(twenty_thousand_vms);
	return test_done();
}
