/*
 * Unit tests: observation on libvirt's test driver, the rootless tier.
 * A test:///default host offers every hypervisor type, takes a VM that vem
 * creates, and is observed with the same results through the bulk stats
 * (which on this driver carry the state only, the rest from per-domain
 * calls) and through per-domain calls alone (the path of drivers without
 * bulk stats, such as LXC).
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "fixtures.h"

static const struct obs_domain *find(const struct observed *o, const char *name)
{
	for (size_t i = 0; i < o->n_domains; i++)
		if (!strcmp(o->domains[i].name, name))
			return &o->domains[i];
	return NULL;
}

TEST(test_driver_host_observed_both_ways)
{
	struct cluster *c = load_yaml(
		"cluster: sbx\nhosts:\n  - {name: t1, uri: 'test:///default'}\n"
		"templates:\n  - {name: tiny, vcpus: 2, memory: 64MiB, kernel: /k}\n"
		"vms:\n  - {name: web, template: tiny}\n");
	struct hv_options opt;
	struct hv_session *s;
	struct errbuf err = ERRBUF_INIT;
	struct observed bulk, each;

	hv_options_default(&opt);
	opt.sample_window = 0;
	opt.cache_dir = "/nonexistent/vem-test-cache";
	s = hv_session_open(c, &opt);
	CHECK(hv_host_online(s, 0));
	CHECK(hv_domain_create(s, 0, cluster_vm(c, "web"), &err) == 0);
	if (err.nr)
		err_print(&err, stderr, "create");
	CHECK(hv_observe(s, &bulk, &err) == 0);
	CHECK(bulk.n_hosts == 1 && bulk.hosts[0].hv_caps != 0);
	s->hosts[0].no_bulk_stats = true;
	CHECK(hv_observe(s, &each, &err) == 0);
	CHECK_INT(bulk.n_domains, each.n_domains);
	for (int k = 0; k < 2; k++) {
		const struct observed *o = k ? &each : &bulk;
		const struct obs_domain *w = find(o, "web"), *t = find(o, "test");
		CHECK(w != NULL && t != NULL);
		if (!w || !t)
			continue;
		CHECK(w->owned && !t->owned);
		CHECK_STR(w->meta.vm, "web");
		CHECK(w->state == DOM_RUNNING);
		CHECK_INT(w->vcpus, 2);
		CHECK(w->memory == 64 * MiB && w->max_memory == 64 * MiB);
		/* the driver's own domain: 2 vCPUs, 2 GiB of 8 GiB */
		CHECK(t->state == DOM_RUNNING);
		CHECK_INT(t->vcpus, 2);
		CHECK(t->memory == 2 * GiB && t->max_memory == 8 * GiB);
		CHECK(t->cpu_time > 0);
	}
	observed_release(&bulk);
	observed_release(&each);
	errbuf_release(&err);
	hv_session_free(s);
	cluster_free(c);
}

/* Each host's defined pools and active networks are observed (the test
 * driver has "default-pool" and "default"). A stopped pool is still listed
 * (apply starts a defined pool); an undefined one is not. */
TEST(pools_and_networks_observed)
{
	struct cluster *c = load_yaml(
		"cluster: sbx\nhosts:\n  - {name: t1, uri: 'test:///default'}\n"
		"templates:\n  - {name: tiny, vcpus: 1, memory: 64MiB, kernel: /k}\n"
		"vms:\n  - {name: web, template: tiny}\n");
	struct hv_options opt;
	struct hv_session *s;
	struct errbuf err = ERRBUF_INIT;
	struct observed o;
	virStoragePoolPtr pool;

	hv_options_default(&opt);
	opt.sample_window = 0;
	opt.cache_dir = "/nonexistent/vem-test-cache";
	s = hv_session_open(c, &opt);
	CHECK(hv_observe(s, &o, &err) == 0);
	CHECK(o.hosts[0].resources_known);
	CHECK(obs_host_has_pool(&o.hosts[0], "default-pool"));
	CHECK(!obs_host_has_pool(&o.hosts[0], "fast"));
	CHECK(obs_host_has_network(&o.hosts[0], "default"));
	observed_release(&o);
	pool = virStoragePoolLookupByName(hv_conn(s, 0), "default-pool");
	CHECK(pool != NULL && virStoragePoolDestroy(pool) == 0);
	CHECK(hv_observe(s, &o, &err) == 0);
	CHECK(o.hosts[0].resources_known && obs_host_has_pool(&o.hosts[0], "default-pool"));
	observed_release(&o);
	CHECK(pool != NULL && virStoragePoolUndefine(pool) == 0);
	if (pool)
		virStoragePoolFree(pool);
	CHECK(hv_observe(s, &o, &err) == 0);
	CHECK(o.hosts[0].resources_known && !obs_host_has_pool(&o.hosts[0], "default-pool"));
	observed_release(&o);
	errbuf_release(&err);
	hv_session_free(s);
	cluster_free(c);
}

static const struct obs_host *host_named(const struct observed *o, const char *name)
{
	long i = observed_host_index(o, name);
	return i < 0 ? NULL : &o->hosts[i];
}

/* The cluster file's host settings reach observed hosts one way, whether
 * observed live or read from a snapshot: the URI's password masked, the
 * capacity overrides, reserve, maintenance and labels. */
TEST(host_settings_applied_one_way)
{
	struct cluster *c = load_yaml(
		"cluster: sbx\nhosts:\n"
		"  - {name: t1, uri: 'test:///default', capacity: {cpus: 3, memory: 3GiB},\n"
		"     labels: {rack: a}, maintenance: true}\n"
		"  - {name: h2, uri: 'qemu+tcp://admin:s3cr3t@127.0.0.1:1/system', reserve: 1GiB,\n"
		"     labels: {rack: b, disk: ssd}}\n");
	struct hv_options opt;
	struct hv_session *s;
	struct errbuf err = ERRBUF_INIT;
	struct strbuf json = STRBUF_INIT;
	struct observed live, snap, partial;

	hv_options_default(&opt);
	opt.connect_timeout = 2000;
	opt.cache_dir = "/nonexistent/vem-test-cache";
	s = hv_session_open(c, &opt);
	CHECK(hv_host_online(s, 0) && !hv_host_online(s, 1));
	CHECK(hv_observe(s, &live, &err) == 0);
	/* the same snapshot read back, and one that lacks h2 */
	observed_write_json(&live, &json);
	CHECK(observed_read_json_buffer("s.json", json.buf, json.len, &snap, &err) == 0);
	observed_apply_cluster(&snap, c);
	CHECK(observed_read_json_buffer("s.json", json.buf, json.len, &partial, &err) == 0);
	free(partial.hosts[1].name);
	partial.hosts[1].name = xstrdup("gone");
	observed_apply_cluster(&partial, c);
	for (int k = 0; k < 3; k++) {
		const struct observed *o = k == 0 ? &live : k == 1 ? &snap : &partial;
		const struct obs_host *t1 = host_named(o, "t1"), *h2 = host_named(o, "h2");
		CHECK(t1 && h2);
		if (!t1 || !h2)
			continue;
		CHECK_STR(t1->uri, "test:///default");
		CHECK(h2->uri && !strstr(h2->uri, "s3cr3t") && strstr(h2->uri, "admin"));
		CHECK(!h2->online && h2->error && !strstr(h2->error, "s3cr3t"));
		CHECK_INT(t1->cpus, 3);
		CHECK(t1->memory == 3 * GiB);
		CHECK(t1->maintenance && !h2->maintenance);
		CHECK(h2->reserve == 1 * GiB && t1->reserve == 0);
		CHECK_STR(labels_get(&t1->labels, "rack"), "a");
		CHECK_INT(h2->labels.nr, 2);
		CHECK_STR(labels_get(&h2->labels, "disk"), "ssd");
	}
	CHECK_STR(host_named(&live, "h2")->uri, host_named(&partial, "h2")->uri);
	CHECK_STR(host_named(&partial, "h2")->error, "not in the snapshot");
	if (err.nr)
		err_print(&err, stderr, "observe");
	observed_release(&live);
	observed_release(&snap);
	observed_release(&partial);
	strbuf_release(&json);
	errbuf_release(&err);
	hv_session_free(s);
	cluster_free(c);
}

int main(void)
{
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(test_driver_host_observed_both_ways);
	RUN(pools_and_networks_observed);
	RUN(host_settings_applied_one_way);
	return test_done();
}
