/* Unit tests: rolling changes (max-unavailable, readiness), probes. */
#include "test.h"
#include "fixtures.h"
#include "reconciler/rollout.h"
#include "hv/hv_priv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *base =
	"cluster: t\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 64, memory: 64GiB}}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 64, memory: 64GiB}}\n"
	"templates:\n"
	"  - {name: small, vcpus: 1, memory: 256MiB, kernel: /k}\n";

static struct cluster *cl(const char *rest)
{
	return load_yaml_parts(base, rest);
}

/* Every VM of c observed on host (i % 2), running, with an old spec of
 * 128 MiB (a change of memory and max-memory: a restart), except those
 * named in same (already at the desired spec). */
static void observe_old(struct observed *o, const struct cluster *c, const char *const *same)
{
	obs_init(o, c);
	for (size_t i = 0; i < c->n_vms; i++) {
		bool cur = false;
		struct obs_domain *d;
		for (size_t k = 0; same && same[k]; k++)
			cur |= str_eq(same[k], c->vms[i].name);
		d = obs_add(o, c, i % 2, c->vms[i].name, true, cur ? NULL : "old", DOM_RUNNING, 0.0);
		if (!cur)
			d->memory = d->max_memory = 128 * MiB;
	}
}

static struct plan build(const struct cluster *c, const struct observed *o,
			 const struct plan_unready *u, size_t nu)
{
	struct plan_options po;
	plan_options_fixture(&po);
	po.unready = u;
	po.n_unready = nu;
	return plan_fixture(c, o, &po);
}

static bool has_note(const struct plan *p, const char *needle)
{
	for (size_t i = 0; i < p->n_notes; i++)
		if (strstr(p->notes[i], needle))
			return true;
	return false;
}

/* The order is by replica index (api-2 before api-10), one at a time. */
TEST(one_at_a_time_in_replica_order)
{
	struct cluster *c = cl("vms:\n  - {name: api, template: small, replicas: 12}\n");
	struct observed o;
	struct plan p;
	const char *done0[] = { "api-0", "api-1", NULL };

	observe_old(&o, c, NULL);
	p = build(c, &o, NULL, 0);
	CHECK_INT(p.n, 1);
	CHECK(p.n == 1 && str_eq(p.actions[0].vm, "api-0") && p.actions[0].impact == IMPACT_RESTART);
	CHECK_INT(p.held_waiting, 11);
	CHECK(plan_held(&p) == 11);
	CHECK(has_note(&p, "rollout of 'api' continues next round (max-unavailable 1): 'api-0' is changed first"));
	CHECK(plan_held_why(&p, "api-5") != NULL);
	plan_release(&p);
	observed_release(&o);

	/* two done: the next is api-2, not api-10 */
	observe_old(&o, c, done0);
	p = build(c, &o, NULL, 0);
	CHECK(p.n == 1 && str_eq(p.actions[0].vm, "api-2"));
	CHECK_INT(p.held_waiting, 9);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

TEST(percentage_and_cluster_default)
{
	struct cluster *c = cl("rollout: {max-unavailable: 2}\n"
			       "vms:\n  - {name: api, template: small, replicas: 12, rollout: {max-unavailable: 25%}}\n"
			       "  - {name: web, template: small, replicas: 4}\n");
	struct observed o;
	struct plan p;
	size_t api = 0, web = 0;

	CHECK_INT(c->rollout.max_unavailable, 2);
	CHECK_INT(cluster_vm(c, "api-0")->rollout.max_unavailable, -25);
	observe_old(&o, c, NULL);
	p = build(c, &o, NULL, 0);
	for (size_t i = 0; i < p.n; i++) {
		api += str_starts_with(p.actions[i].vm, "api-");
		web += str_starts_with(p.actions[i].vm, "web-");
	}
	CHECK_INT(api, 3);   /* 25% of 12 */
	CHECK_INT(web, 2);   /* the cluster's 2 */
	CHECK_INT(p.held_waiting, 9 + 2);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);

	/* the default is 1; a percentage of a small group is at least 1 */
	c = cl("vms:\n  - {name: api, template: small, replicas: 3, rollout: {max-unavailable: 10%}}\n");
	CHECK_INT(c->rollout.max_unavailable, 1);
	CHECK_INT(cluster_max_unavailable(c, cluster_vm(c, "api-0"), 3), 1);
	cluster_free(c);
}

/* A member that runs but is not ready halts its group: nothing else is
 * touched, and the plan says where and why. */
TEST(unready_member_halts_the_group)
{
	struct cluster *c = cl("vms:\n  - {name: api, template: small, replicas: 4}\n");
	struct observed o;
	struct plan p;
	const char *done[] = { "api-0", NULL };
	struct plan_unready u = { "api-0", "the guest agent does not answer" };

	observe_old(&o, c, done);
	p = build(c, &o, &u, 1);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_waiting, 3);
	CHECK(has_note(&p, "rollout of 'api' halted (max-unavailable 1): 'api-0' is not ready: "
			   "the guest agent does not answer; waiting: 'api-1', 'api-2', 'api-3'"));
	plan_release(&p);
	/* ready again: the rollout continues with api-1 */
	p = build(c, &o, NULL, 0);
	CHECK(p.n == 1 && str_eq(p.actions[0].vm, "api-1"));
	plan_release(&p);
	observed_release(&o);

	/* the unready member's own change is no extra interruption: admitted */
	observe_old(&o, c, NULL);
	p = build(c, &o, &u, 1);
	CHECK(p.n == 1 && str_eq(p.actions[0].vm, "api-0"));
	CHECK_INT(p.held_waiting, 3);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* A member that should run but is stopped counts as unavailable; its start
 * is not held. */
TEST(stopped_member_counts)
{
	struct cluster *c = cl("vms:\n  - {name: api, template: small, replicas: 3}\n");
	struct observed o;
	struct plan p;
	const char *done[] = { "api-1", NULL };

	observe_old(&o, c, done);
	o.domains[1].state = DOM_STOPPED;     /* api-1 */
	p = build(c, &o, NULL, 0);
	CHECK(p.n == 1 && p.actions[0].kind == ACT_START && str_eq(p.actions[0].vm, "api-1"));
	CHECK_INT(p.held_waiting, 2);
	CHECK(has_note(&p, "'api-1' is not running"));
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* Stopping a group rolls too; live changes do not wait. */
TEST(stops_roll_live_changes_do_not)
{
	struct cluster *c = cl("vms:\n  - {name: api, template: small, replicas: 3, state: stopped}\n"
			       "  - {name: web, template: small, replicas: 3, max-memory: 1GiB}\n");
	struct observed o;
	struct plan p;
	size_t stops = 0, updates = 0;

	obs_init(&o, c);
	for (size_t i = 0; i < c->n_vms; i++) {
		struct obs_domain *d = obs_add(&o, c, i % 2, c->vms[i].name, true,
					       str_starts_with(c->vms[i].name, "web") ? "old" : NULL,
					       DOM_RUNNING, 0.0);
		if (str_starts_with(d->name, "web"))
			d->memory = 128 * MiB;          /* within max-memory: live */
	}
	p = build(c, &o, NULL, 0);
	for (size_t i = 0; i < p.n; i++) {
		stops += p.actions[i].kind == ACT_STOP;
		updates += p.actions[i].kind == ACT_UPDATE && p.actions[i].impact == IMPACT_LIVE;
	}
	CHECK_INT(stops, 1);
	CHECK_INT(updates, 3);
	CHECK_INT(p.held_waiting, 2);
	plan_release(&p);
	observed_release(&o);
	cluster_free(c);
}

/* The guest agent's channel is in the XML (and the hash) only when asked;
 * settle and timeout change neither. */
TEST(agent_channel_and_hash)
{
	struct cluster *a = cl("vms:\n  - {name: v, template: small}\n");
	struct cluster *b = cl("vms:\n  - {name: v, template: small, readiness: {settle: 5s, timeout: 1m, tcp: 22}}\n");
	struct cluster *g = cl("vms:\n  - {name: v, template: small, readiness: {agent: true}}\n");
	struct errbuf err = ERRBUF_INIT;
	char *xa, *xg;

	CHECK_STR(a->vms[0].spec_hash, b->vms[0].spec_hash);
	CHECK(strcmp(a->vms[0].spec_hash, g->vms[0].spec_hash) != 0);
	CHECK_INT(b->vms[0].cfg.readiness.settle, 5000);
	CHECK_INT(b->vms[0].cfg.readiness.timeout, 60000);
	CHECK_INT(a->vms[0].cfg.readiness.timeout, 300000);
	xa = hv_domain_xml(a, &a->vms[0], HV_QEMU, "00000000-0000-0000-0000-000000000001", NULL, &err);
	xg = hv_domain_xml(g, &g->vms[0], HV_QEMU, "00000000-0000-0000-0000-000000000001", NULL, &err);
	CHECK(xa && !strstr(xa, "org.qemu.guest_agent.0"));
	CHECK(xg && strstr(xg, "<target type='virtio' name='org.qemu.guest_agent.0'/>"));
	free(xa);
	free(xg);
	errbuf_release(&err);
	cluster_free(a);
	cluster_free(b);
	cluster_free(g);
}

TEST(bad_max_unavailable)
{
	const char *bad[] = { "0", "150%", "0%", "x", "-1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct errbuf err = ERRBUF_INIT;
		char *y = xasprintf("%srollout: {max-unavailable: '%s'}\n", base, bad[i]);
		struct cluster *c = cfg_load_buffer("t.yaml", y, strlen(y), &err);
		CHECK(!c);
		CHECK(strstr(err_msg(&err), "max-unavailable") != NULL);
		cluster_free(c);
		errbuf_release(&err);
		free(y);
	}
}

TEST(tcp_probe)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 4) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	port = ntohs(sin.sin_port);
	CHECK_INT(hv_tcp_probe("127.0.0.1", port, 1000), 0);
	close(fd);
	CHECK_INT(hv_tcp_probe("127.0.0.1", port, 1000), -1);
	CHECK_INT(hv_tcp_probe("not-an-address", port, 1000), -1);
}

/* The guest agent lists the guest's loopback: never probed (it would be
 * the machine vem runs on), nor link-local addresses. */
TEST(probe_addr_usable)
{
	CHECK(hv_probe_addr_usable("10.98.21.75"));
	CHECK(hv_probe_addr_usable("192.168.122.10"));
	CHECK(hv_probe_addr_usable("2001:db8::5"));
	CHECK(!hv_probe_addr_usable("127.0.0.1"));
	CHECK(!hv_probe_addr_usable("127.1.2.3"));
	CHECK(!hv_probe_addr_usable("::1"));
	CHECK(!hv_probe_addr_usable("fe80::5054:ff:fe12:3456"));
	CHECK(!hv_probe_addr_usable("169.254.1.1"));
	CHECK(!hv_probe_addr_usable("0.0.0.0"));
	CHECK(!hv_probe_addr_usable("eth0"));
}

/* On libvirt's test driver: a running domain with only a settle time is
 * ready after it; a stopped one never is (and the wait says why). */
TEST(wait_ready_on_test_driver)
{
	struct errbuf err = ERRBUF_INIT;
	const char *yaml = "cluster: t\nhosts:\n  - {name: h1, uri: 'test:///default'}\n"
			   "vms:\n  - {name: test, memory: 32MiB, readiness: {settle: 300ms, timeout: 1s}}\n";
	struct cluster *c = load_yaml(yaml);
	struct hv_options ho;
	struct hv_session *s;
	struct vm_spec vm;
	struct strbuf why = STRBUF_INIT;
	int64_t t0;
	virDomainPtr d;

	hv_options_default(&ho);
	s = hv_session_open(c, &ho);
	if (!hv_host_online(s, 0)) {
		fprintf(stderr, "  skip: test:///default did not open\n");
		test_cur_failed = 1;
		goto out;
	}
	vm = c->vms[0];       /* the test driver's own domain 'test', running */
	t0 = time_mono_ms();
	CHECK_INT(rollout_wait_ready(s, 0, &vm, NULL, &err), 0);
	CHECK(time_mono_ms() - t0 >= 300);
	CHECK_INT(hv_domain_ready(s, 0, "test", &vm.cfg.readiness, &why), 0);
	d = virDomainLookupByName(hv_conn(s, 0), "test");
	CHECK(d && virDomainDestroy(d) == 0);
	strbuf_reset(&why);
	CHECK_INT(hv_domain_ready(s, 0, "test", &vm.cfg.readiness, &why), 1);
	CHECK_STR(why.buf, "not running");
	CHECK_INT(rollout_wait_ready(s, 0, &vm, NULL, &err), -1);
	CHECK(strstr(err_msg(&err), "'test' not ready after") && strstr(err_msg(&err), "not running"));
	if (d)
		virDomainFree(d);
out:
	strbuf_release(&why);
	errbuf_release(&err);
	hv_session_free(s);
	cluster_free(c);
}

int main(void)
{
	RUN(one_at_a_time_in_replica_order);
	RUN(percentage_and_cluster_default);
	RUN(unready_member_halts_the_group);
	RUN(stopped_member_counts);
	RUN(stops_roll_live_changes_do_not);
	RUN(agent_channel_and_hash);
	RUN(bad_max_unavailable);
	RUN(tcp_probe);
	RUN(probe_addr_usable);
	RUN(wait_ready_on_test_driver);
	return test_done();
}
