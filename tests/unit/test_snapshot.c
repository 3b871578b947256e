/*
 * Unit tests: reading observed-state snapshots that someone crafted. Every
 * input here is hostile; each must be refused with an error that names the
 * key and the limit, never loaded with a wrapped or truncated number.
 */
#include "test.h"
#include "hv/hv_priv.h"

static const char *host_ok =
	"{\"name\": \"h1\", \"uri\": \"test:///default\", \"capacity\": {\"cpus\": 4, \"memory\": 1024}}";

/* Read text as a snapshot; on failure *msg (caller frees) holds the errors. */
static int read_text(const char *text, char **msg)
{
	struct errbuf e = ERRBUF_INIT;
	struct observed o;
	int rc = observed_read_json_buffer("snap.json", text, strlen(text), &o, &e);

	*msg = xstrdup(e.nr ? err_msg(&e) : "");
	if (rc == 0)
		observed_release(&o);
	errbuf_release(&e);
	return rc;
}

/* A snapshot of one host and the given domains (JSON objects, comma-separated). */
static int read_domains(const char *domains, char **msg)
{
	char *text = xasprintf("{\"cluster\": \"c\", \"hosts\": [%s], \"domains\": [%s]}",
			       host_ok, domains);
	int rc = read_text(text, msg);
	free(text);
	return rc;
}

TEST(sane_snapshot_loads)
{
	char *msg;
	CHECK(read_domains("{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": 4096, "
			   "\"memory\": 1e9, \"cpu_load\": 0.5}", &msg) == 0);
	CHECK_STR(msg, "");
	free(msg);
}

/* An owned domain's volumes survive the round trip, so an offline plan
 * knows what a removal would delete. */
TEST(volumes_round_trip)
{
	const char *text = "{\"cluster\": \"c\", \"hosts\": [{\"name\": \"h1\", \"uri\": \"test:///default\"}], "
		"\"domains\": [{\"name\": \"db\", \"host\": \"h1\", \"owned\": true, \"vm\": \"db\", "
		"\"volumes\": [\"/p/vem-c-db-disk0.qcow2\", \"/p/vem-c-db-seed.iso\", 7]}]}";
	struct errbuf e = ERRBUF_INIT;
	struct observed o, o2;
	struct strbuf sb = STRBUF_INIT;

	CHECK(observed_read_json_buffer("snap.json", text, strlen(text), &o, &e) == 0);
	CHECK_INT(o.n_domains, 1);
	CHECK_INT(o.domains[0].meta.n_volumes, 2);
	CHECK_STR(o.domains[0].meta.volumes[0], "/p/vem-c-db-disk0.qcow2");
	observed_write_json(&o, &sb);
	CHECK(observed_read_json_buffer("snap2.json", sb.buf, sb.len, &o2, &e) == 0);
	CHECK_INT(o2.domains[0].meta.n_volumes, 2);
	CHECK_STR(o2.domains[0].meta.volumes[1], "/p/vem-c-db-seed.iso");
	observed_release(&o);
	observed_release(&o2);
	strbuf_release(&sb);
	errbuf_release(&e);
}

/* A host's active pools and networks survive the round trip (sorted; a
 * non-string is skipped); a host without them (an older vem's snapshot)
 * stays unknown, which filters nothing. */
TEST(pools_and_networks_round_trip)
{
	const char *text = "{\"cluster\": \"c\", \"hosts\": ["
		"{\"name\": \"h1\", \"uri\": \"test:///default\", \"pools\": [\"fast\", \"default\", 3], "
		"\"networks\": [\"lan\"]}, "
		"{\"name\": \"h2\", \"uri\": \"test:///default\"}], \"domains\": []}";
	struct errbuf e = ERRBUF_INIT;
	struct observed o, o2;
	struct strbuf sb = STRBUF_INIT;

	CHECK(observed_read_json_buffer("snap.json", text, strlen(text), &o, &e) == 0);
	CHECK(o.hosts[0].resources_known && !o.hosts[1].resources_known);
	CHECK_INT(o.hosts[0].n_pools, 2);
	CHECK_STR(o.hosts[0].pools[0], "default");
	CHECK(obs_host_has_pool(&o.hosts[0], "fast") && !obs_host_has_pool(&o.hosts[0], "slow"));
	CHECK(obs_host_has_network(&o.hosts[0], "lan") && !obs_host_has_network(&o.hosts[0], "wan"));
	CHECK(obs_host_has_pool(&o.hosts[1], "slow") && obs_host_has_network(&o.hosts[1], "wan"));
	observed_write_json(&o, &sb);
	CHECK(strstr(sb.buf, "\"pools\"") != NULL);
	CHECK(observed_read_json_buffer("snap2.json", sb.buf, sb.len, &o2, &e) == 0);
	CHECK(o2.hosts[0].resources_known && !o2.hosts[1].resources_known);
	CHECK_INT(o2.hosts[0].n_pools, 2);
	CHECK_INT(o2.hosts[0].n_networks, 1);
	CHECK_STR(o2.hosts[0].pools[1], "fast");
	CHECK_STR(o2.hosts[0].networks[0], "lan");
	observed_release(&o);
	observed_release(&o2);
	strbuf_release(&sb);
	errbuf_release(&e);
}

/* Empty arrays and objects before any member (found by fuzz_snapshot:
 * memcpy to NULL + 0 under clang's UBSan). */
TEST(empty_containers_load)
{
	char *msg;
	CHECK(read_text("{\"hosts\": [], \"domains\": []}", &msg) == 0);
	free(msg);
	CHECK(read_text("{\"hosts\": [{\"name\": \"h\", \"labels\": {}, \"hv\": []}], \"domains\": []}",
			&msg) == 0);
	CHECK_STR(msg, "");
	free(msg);
}

/* hostile: (input, words the error must contain) */
static const struct {
	const char *domains;
	const char *want;
} bad_domains[] = {
	/* wraps to 1 when cast to int */
	{ "{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": 4294967297}", "'vcpus': 4294967297 is out of range (0..4096)" },
	/* two of these overflow an int when summed per host */
	{ "{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": 2147483647}", "'vcpus': 2147483647 is out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": -5}", "'vcpus': -5 is out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": 1e300}", "'vcpus': 1e300 is out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": 99999999999999999999999}", "out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"memory\": -1}", "'memory': -1 is out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"memory\": 1.8e19}", "'memory': 1.8e19 is out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"max_memory\": 9223372036854775807}", "'max_memory'" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"cpu_time\": -9223372036854775808}", "'cpu_time'" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"owned\": true, \"migrated_at\": -9223372036854775807}",
	  "'migrated_at'" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"cpu_load\": 1e200}", "'cpu_load': 1e200 is out of range" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"cpu_load\": -3}", "'cpu_load'" },
	{ "{\"name\": \"a\", \"host\": \"h1\", \"vcpus\": \"many\"}", "'vcpus': expected a number" },
};

/* Whether text (domains only, or a whole snapshot) is refused with want. */
static bool refused(const char *text, bool domains_only, const char *want)
{
	char *msg;
	int rc = domains_only ? read_domains(text, &msg) : read_text(text, &msg);
	bool ok = rc == -1 && strstr(msg, want);

	if (!ok)
		fprintf(stderr, "  input %s: rc %d, errors: %s\n", text, rc, msg);
	free(msg);
	return ok;
}

TEST(crafted_domain_numbers_refused)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_domains); i++)
		CHECK(refused(bad_domains[i].domains, true, bad_domains[i].want));
}

TEST(crafted_host_numbers_refused)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "{\"hosts\": [{\"name\": \"h\", \"capacity\": {\"cpus\": 4294967300}}]}",
		  "'cpus': 4294967300 is out of range (0..100000)" },
		{ "{\"hosts\": [{\"name\": \"h\", \"capacity\": {\"cpus\": -1}}]}", "'cpus'" },
		{ "{\"hosts\": [{\"name\": \"h\", \"capacity\": {\"memory\": 1e30}}]}", "'memory'" },
		{ "{\"hosts\": [{\"name\": \"h\", \"reserve\": -1}]}", "'reserve'" },
		{ "{\"taken_at\": -9223372036854775808, \"hosts\": []}", "'taken_at'" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(refused(bad[i].text, false, bad[i].want));
}

/* Many domains, each in range, whose vCPUs together overflow an int. */
TEST(vcpu_total_capped)
{
	struct strbuf sb = STRBUF_INIT;
	char *msg;
	/* 2^30 / 4096 = 262144 domains reach the cap; one more is over */
	for (int i = 0; i <= 262144; i++)
		strbuf_addf(&sb, "%s{\"name\":\"d%d\",\"host\":\"h1\",\"vcpus\":4096}", i ? "," : "", i);
	CHECK(read_domains(sb.buf, &msg) == -1);
	CHECK(strstr(msg, "the domains' vcpus add up to more than 2^30"));
	free(msg);
	strbuf_release(&sb);
}

/* A value budget: a big flat array is refused before it is all allocated. */
TEST(value_count_capped)
{
	size_t n = (1u << 23) + 10;
	char *text = xmalloc(2 * n + 16), *p = text, *msg;

	p += snprintf(p, 16, "{\"hosts\":[");
	for (size_t i = 0; i < n; i++) {
		*p++ = '0';
		*p++ = ',';
	}
	p[-1] = ']';
	*p++ = '}';
	*p = '\0';
	CHECK(read_text(text, &msg) == -1);
	CHECK(strstr(msg, "invalid snapshot: more than 8388608 values"));
	free(msg);
	free(text);
}

/* Domains need not come grouped by host (a generated snapshot's are
 * not): each finds its host by name, a duplicated host name means its
 * first host (as observed_host_index), an unknown one is an error. */
TEST(domains_find_hosts_in_any_order)
{
	struct strbuf sb = STRBUF_INIT;
	struct errbuf e = ERRBUF_INIT;
	struct observed o;
	char *msg = NULL;

	strbuf_adds(&sb, "{\"cluster\": \"c\", \"hosts\": [");
	for (int i = 0; i < 40; i++)
		strbuf_addf(&sb, "%s{\"name\": \"h%d\", \"uri\": \"test:///default\"}", i ? ", " : "",
			    i == 39 ? 3 : i);
	strbuf_adds(&sb, "], \"domains\": [");
	for (int k = 0; k < 100; k++)
		strbuf_addf(&sb, "%s{\"name\": \"d%d\", \"host\": \"h%d\"}", k ? ", " : "", k, (k * 7) % 39);
	strbuf_adds(&sb, "]}");
	CHECK(observed_read_json_buffer("snap.json", sb.buf, sb.len, &o, &e) == 0);
	CHECK_INT(o.n_domains, 100);
	for (int k = 0; k < 100; k++)
		CHECK_INT(o.domains[k].host, (k * 7) % 39);   /* h3: 3, not 39 */
	CHECK_INT(observed_host_index(&o, "h3"), 3);
	observed_release(&o);
	CHECK(read_text("{\"hosts\": [{\"name\": \"h1\"}, {\"name\": \"h2\"}], "
			"\"domains\": [{\"name\": \"a\", \"host\": \"h2\"}, {\"name\": \"b\", \"host\": \"h9\"}]}",
			&msg) != 0);
	CHECK(msg && strstr(msg, "domain names unknown host 'h9'"));
	free(msg);
	strbuf_release(&sb);
	errbuf_release(&e);
}

int main(void)
{
	RUN(sane_snapshot_loads);
	RUN(volumes_round_trip);
	RUN(pools_and_networks_round_trip);
	RUN(empty_containers_load);
	RUN(crafted_domain_numbers_refused);
	RUN(crafted_host_numbers_refused);
	RUN(vcpu_total_capped);
	RUN(value_count_capped);
	RUN(domains_find_hosts_in_any_order);
	return test_done();
}
