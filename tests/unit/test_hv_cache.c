/*
 * Unit tests: the observation cache (hv/cache.c) on its own, and as
 * observation uses it on libvirt's test driver (test:///default, no root).
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "hv/cache.h"
#include "fixtures.h"

#include <sys/stat.h>
#include <unistd.h>

static const char H[] = "11111111-1111-4111-8111-111111111111";
static const char D1[] = "22222222-2222-4222-8222-222222222222";
static const char D2[] = "33333333-3333-4333-8333-333333333333";

/* A fresh cache directory of this test run. */
static char *tmp_dir(void)
{
	char *d = xstrdup("/tmp/vem-test-cache.XXXXXX");
	if (!mkdtemp(d)) {
		perror(d);
		abort();
	}
	return d;
}

static void rm_dir(const char *dir, const char *cluster)
{
	char *f = xasprintf("%s/observe/%s.tsv", dir, cluster), *o = xasprintf("%s/observe", dir);
	unlink(f);
	rmdir(o);
	rmdir(dir);
	free(f);
	free(o);
}

static void meta_fill(struct vem_meta *m, const char *vm, const char *hash)
{
	memset(m, 0, sizeof(*m));
	m->cluster = xstrdup("c");
	m->vm = xstrdup(vm);
	m->template = xstrdup("tiny");
	m->spec_hash = xstrdup(hash);
	m->created_at = 1000;
	m->migrated_at = 2000;
	m->n_volumes = 2;
	m->volumes = xcalloc(2, sizeof(char *));
	m->volumes[0] = xstrdup("/p/web-disk0.qcow2");
	m->volumes[1] = xstrdup("/p/web-seed.iso");
}

TEST(cache_round_trip)
{
	char *dir = tmp_dir();
	struct meta_cache *mc = meta_cache_load("c", dir);
	struct meta_cache_entry *e;
	struct vem_meta m;

	CHECK(!meta_cache_entry(mc, H, D1, false));
	meta_fill(&m, "web", "abc");
	meta_cache_put(mc, H, D1, &m, 2, 64 * MiB);
	meta_cache_put(mc, H, D2, NULL, 1, 32 * MiB);
	e = meta_cache_entry(mc, H, D1, false);
	CHECK(e && e->has_meta && e->used && e->fetched_at > 0);
	if (e) {
		e->cpu_time = 5000000;
		e->sampled_at = 42;
		e->cpu_load = 0.5;
		e->load_at = 43;
		e->obs_at = 44;        /* memory only */
		e->obs_vcpus = 2;
	}
	meta_cache_save(mc);
	meta_cache_free(mc);

	mc = meta_cache_load("c", dir);
	e = meta_cache_entry(mc, H, D1, false);
	CHECK(e != NULL);
	if (e) {
		CHECK(e->has_meta && !e->used);
		CHECK_STR(e->meta.cluster, "c");
		CHECK_STR(e->meta.vm, "web");
		CHECK_STR(e->meta.template, "tiny");
		CHECK_STR(e->meta.spec_hash, "abc");
		CHECK(!e->meta.revision);
		CHECK_INT(e->meta.created_at, 1000);
		CHECK_INT(e->meta.migrated_at, 2000);
		CHECK_INT(e->meta.n_volumes, 2);
		if (e->meta.n_volumes == 2)
			CHECK_STR(e->meta.volumes[1], "/p/web-seed.iso");
		CHECK_INT(e->vcpus, 2);
		CHECK(e->max_memory == 64 * MiB);
		CHECK_INT(e->cpu_time, 5000000);
		CHECK_INT(e->sampled_at, 42);
		CHECK(e->cpu_load == 0.5);
		CHECK_INT(e->load_at, 43);
		CHECK_INT(e->obs_at, 0);
		CHECK_INT(e->obs_vcpus, 0);
	}
	e = meta_cache_entry(mc, H, D2, false);
	CHECK(e && !e->has_meta && e->fetched_at > 0 && e->vcpus == 1);
	/* nothing used since the load: saving keeps nothing */
	meta_cache_save(mc);
	meta_cache_free(mc);
	mc = meta_cache_load("c", dir);
	CHECK(!meta_cache_entry(mc, H, D1, false));
	CHECK(!meta_cache_entry(mc, H, D2, false));
	meta_cache_free(mc);
	vem_meta_release(&m);
	rm_dir(dir, "c");
	free(dir);
}

TEST(cache_forget_and_unsafe_fields)
{
	char *dir = tmp_dir();
	struct meta_cache *mc = meta_cache_load("c", dir);
	struct meta_cache_entry *e;
	struct vem_meta m, tab;

	meta_fill(&m, "web", "abc");
	meta_cache_put(mc, H, D1, &m, 2, 64 * MiB);
	meta_cache_forget(mc, H, D1);
	e = meta_cache_entry(mc, H, D1, false);
	CHECK(e && !e->has_meta && e->fetched_at == 0 && !e->meta.vm);
	/* a field the file cannot hold (a tab, a '|' in a volume) is not
	 * saved: the metadata is read from libvirt next time */
	meta_fill(&tab, "we\tb", "abc");
	meta_cache_put(mc, H, D1, &tab, 2, 64 * MiB);
	vem_meta_release(&m);
	meta_fill(&m, "api", "def");
	free(m.volumes[0]);
	m.volumes[0] = xstrdup("/p/a|b");
	meta_cache_put(mc, H, D2, &m, 2, 64 * MiB);
	meta_cache_save(mc);
	meta_cache_free(mc);
	mc = meta_cache_load("c", dir);
	for (int k = 0; k < 2; k++) {
		e = meta_cache_entry(mc, H, k ? D2 : D1, false);
		CHECK(e && !e->has_meta && e->fetched_at == 0);
	}
	meta_cache_free(mc);
	vem_meta_release(&m);
	vem_meta_release(&tab);
	rm_dir(dir, "c");
	free(dir);
}

TEST(cache_of_another_version_is_ignored)
{
	char *dir = tmp_dir();
	struct meta_cache *mc = meta_cache_load("c", dir);
	char *path = xasprintf("%s/observe/c.tsv", dir);
	char *line = xasprintf("# vem observation cache 1\n%s/%s\t0\t1\t1\t1\t1\t1\t0\t1\n", H, D1);
	FILE *f;

	meta_cache_free(mc);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(line, f);
		fclose(f);
	}
	mc = meta_cache_load("c", dir);
	CHECK(!meta_cache_entry(mc, H, D1, false));
	meta_cache_free(mc);
	free(path);
	free(line);
	rm_dir(dir, "c");
	free(dir);
}

/* Many entries: the table grows and every one is found again. */
TEST(cache_many_entries)
{
	struct meta_cache *mc = meta_cache_load("c", "/nonexistent/vem-test-cache");
	char uuid[37];
	size_t missing = 0;

	for (int i = 0; i < 5000; i++) {
		snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
		meta_cache_put(mc, H, uuid, NULL, i % 7, (uint64_t)i);
	}
	for (int i = 0; i < 5000; i++) {
		struct meta_cache_entry *e;
		snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
		e = meta_cache_entry(mc, H, uuid, false);
		if (!e || e->max_memory != (uint64_t)i)
			missing++;
	}
	CHECK_INT(missing, 0);
	meta_cache_free(mc);
}

/* Observation reads vem's metadata once and then trusts the cache until
 * something vem does (or the ttl) says otherwise. */
TEST(observation_uses_the_cache)
{
	struct cluster *c = load_yaml(
		"cluster: sbx\nhosts:\n  - {name: t1, uri: 'test:///default'}\n"
		"templates:\n  - {name: tiny, vcpus: 1, memory: 32MiB, kernel: /k}\n"
		"vms:\n  - {name: web, template: tiny}\n");
	char *dir = tmp_dir();
	struct hv_options opt;
	struct hv_session *s;
	struct errbuf err = ERRBUF_INIT;
	struct observed o;
	const struct obs_domain *w = NULL;
	struct vem_meta m;
	virDomainPtr d;

	hv_options_default(&opt);
	opt.cache_dir = dir;
	s = hv_session_open(c, &opt);
	CHECK(hv_domain_create(s, 0, cluster_vm(c, "web"), &err) == 0);
	CHECK(hv_observe(s, &o, &err) == 0);
	observed_release(&o);
	/* the metadata changes behind vem's back */
	d = virDomainLookupByName(hv_conn(s, 0), "web");
	CHECK(d != NULL);
	memset(&m, 0, sizeof(m));
	m.cluster = xstrdup("sbx");
	m.vm = xstrdup("web");
	m.spec_hash = xstrdup("changed");
	CHECK(d && hv_meta_set(d, &m, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG) == 0);
	CHECK(hv_observe(s, &o, &err) == 0);
	for (size_t i = 0; i < o.n_domains; i++)
		if (!strcmp(o.domains[i].name, "web"))
			w = &o.domains[i];
	CHECK(w && w->owned && !str_eq(w->meta.spec_hash, "changed"));
	observed_release(&o);
	/* forgotten: read from libvirt again */
	{
		char uuid[37] = "";
		if (d)
			virDomainGetUUIDString(d, uuid);
		pthread_mutex_lock(&s->cache_lock);
		meta_cache_forget(s->cache, s->hosts[0].host_uuid, uuid);
		pthread_mutex_unlock(&s->cache_lock);
	}
	CHECK(hv_observe(s, &o, &err) == 0);
	w = NULL;
	for (size_t i = 0; i < o.n_domains; i++)
		if (!strcmp(o.domains[i].name, "web"))
			w = &o.domains[i];
	CHECK(w && w->owned && str_eq(w->meta.spec_hash, "changed"));
	observed_release(&o);
	if (d)
		virDomainFree(d);
	vem_meta_release(&m);
	if (err.nr)
		err_print(&err, stderr, "observe");
	errbuf_release(&err);
	hv_session_free(s);
	cluster_free(c);
	rm_dir(dir, "sbx");
	free(dir);
}

int main(void)
{
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(cache_round_trip);
	RUN(cache_forget_and_unsafe_fields);
	RUN(cache_of_another_version_is_ignored);
	RUN(cache_many_entries);
	RUN(observation_uses_the_cache);
	return test_done();
}
