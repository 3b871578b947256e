/*
 * Unit tests: high availability (reconciler/ha.h, hv/fence.h): detection,
 * the host records, recovery plans by policy and priority, stale copies on
 * a returned host, the fence agent protocol, the records on libvirt's test
 * driver.
 */
#include "test.h"
#include "reconciler/ha.h"
#include "hv/fence.h"
#include "hv/hv_priv.h"
#include "fixtures.h"

#include <libvirt/libvirt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base =
	"cluster: t\n"
	"ha: {host-down-after: 30s, confirmations: 3}\n"
	"hosts:\n"
	"  - {name: h1, uri: 'qemu+tcp://a/system', capacity: {cpus: 4, memory: 1GiB}}\n"
	"  - {name: h2, uri: 'qemu+tcp://b/system', capacity: {cpus: 4, memory: 1GiB}}\n"
	"  - {name: h3, uri: 'qemu+tcp://c/system', capacity: {cpus: 4, memory: 1GiB}}\n"
	"templates:\n"
	"  - {name: small, vcpus: 1, memory: 256MiB, kernel: /k}\n"
	"  - {name: disky, vcpus: 1, memory: 256MiB, kernel: /k, disks: [{size: 1GiB}]}\n";

static struct cluster *cl(const char *rest)
{
	char *y = xasprintf("%s%s", base, rest);
	struct cluster *c = load_yaml(y);
	free(y);
	return c;
}

static size_t count(const struct plan *p, enum act_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->actions[i].kind == k;
	return n;
}

static const struct plan_action *find(const struct plan *p, enum act_kind k, const char *vm)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->actions[i].kind == k && !strcmp(p->actions[i].vm, vm))
			return &p->actions[i];
	return NULL;
}

static struct plan build(const struct cluster *c, const struct observed *o,
			 const struct ha_state *st, const char *allow)
{
	struct plan p;
	struct errbuf err = ERRBUF_INIT;
	struct plan_options po;
	const char *pats[1] = { allow };

	plan_options_default(&po);
	po.ha = st;
	po.balance = false;
	if (allow) {
		po.allow_destroy = pats;
		po.n_allow_destroy = 1;
	}
	CHECK(plan_build(c, o, &po, &p, &err) == 0);
	errbuf_release(&err);
	return p;
}

/* Host h1 seen with vms, then fenced. */
static void fenced_h1(struct ha_state *st, const struct cluster *c, const char *const *vms, size_t n)
{
	ha_state_init(st, c);
	for (size_t i = 0; i < n; i++) {
		st->hosts[0].vms = xrealloc(st->hosts[0].vms, (i + 1) * sizeof(char *));
		st->hosts[0].vms[i] = xstrdup(vms[i]);
		st->hosts[0].n_vms = i + 1;
	}
	st->hosts[0].state = HA_FENCED;
	st->hosts[0].since = 1000;
	st->hosts[0].misses = 3;
	st->hosts[0].fenced_at = 2000;
}

TEST(detection_needs_grace_and_confirmations)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n");
	struct observed o;
	struct ha_state st;
	int64_t t0 = 1000000;

	obs_init(&o, c);
	obs_add(&o, c, 1, "a", true, NULL, DOM_RUNNING, 0);
	ha_state_init(&st, c);
	ha_observe(&st, c, &o, t0);
	CHECK_INT(st.hosts[1].state, HA_UP);
	CHECK_INT(st.hosts[1].n_vms, 1);
	CHECK_STR(st.hosts[1].vms[0], "a");
	o.hosts[1].online = false;
	ha_observe(&st, c, &o, t0 + 1000);
	CHECK_INT(st.hosts[1].state, HA_SUSPECT);
	CHECK_INT(st.hosts[1].since, t0 + 1000);
	/* many observations, but within the grace: still suspect */
	ha_observe(&st, c, &o, t0 + 2000);
	ha_observe(&st, c, &o, t0 + 3000);
	ha_observe(&st, c, &o, t0 + 4000);
	CHECK_INT(st.hosts[1].state, HA_SUSPECT);
	CHECK_INT(st.hosts[1].misses, 3);     /* counted up to confirmations */
	/* the grace has passed */
	ha_observe(&st, c, &o, t0 + 31000);
	CHECK_INT(st.hosts[1].state, HA_DOWN);
	/* what it ran is remembered while it is away */
	CHECK_INT(st.hosts[1].n_vms, 1);
	/* answering again: up */
	o.hosts[1].online = true;
	ha_observe(&st, c, &o, t0 + 32000);
	CHECK_INT(st.hosts[1].state, HA_UP);
	CHECK_INT(st.hosts[1].since, 0);
	CHECK_INT(st.hosts[1].misses, 0);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(grace_alone_is_not_enough)
{
	struct cluster *c = cl("vms: []\n");
	struct observed o;
	struct ha_state st;

	obs_init(&o, c);
	ha_state_init(&st, c);
	o.hosts[2].online = false;
	ha_observe(&st, c, &o, 1000);
	ha_observe(&st, c, &o, 100000);     /* long enough, but 2 observations of 3 */
	CHECK_INT(st.hosts[2].state, HA_SUSPECT);
	ha_observe(&st, c, &o, 100001);
	CHECK_INT(st.hosts[2].state, HA_DOWN);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(records_round_trip)
{
	struct cluster *c = cl("vms: []\n");
	struct ha_state st, back;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	struct errbuf err = ERRBUF_INIT;
	const char *vms[] = { "x", "y" };

	fenced_h1(&st, c, vms, 2);
	st.hosts[0].stale = xcalloc(1, sizeof(char *));
	st.hosts[0].stale[0] = xstrdup("x");
	st.hosts[0].n_stale = 1;
	st.hosts[2].state = HA_DOWN;
	st.hosts[2].why = xstrdup("fence agent 'fence_x' action=off failed (exit 1): no route");
	st.gen = 41;
	ha_state_format(&st, &a);
	ha_state_init(&back, c);
	CHECK(ha_state_parse(&back, c, a.buf, &err) == 0);
	ha_state_format(&back, &b);
	CHECK_STR(b.buf, a.buf);
	CHECK_INT(back.gen, 41);
	CHECK_STR(back.hosts[2].why, st.hosts[2].why);
	/* malformed text is an error, not a guess */
	CHECK(ha_state_parse(&back, c, "gen 1\nhost h1 sleeping 0 0 0\n", &err) == -1);
	CHECK(ha_state_parse(&back, c, "gen x\n", &err) == -1);
	/* hosts the file no longer names are dropped */
	CHECK(ha_state_parse(&back, c, "gen 2\nhost h9 down 1 3 0\nvm h9 a\n", &err) == 0);
	CHECK_INT(back.hosts[0].state, HA_UP);
	strbuf_release(&a);
	strbuf_release(&b);
	errbuf_release(&err);
	ha_state_release(&st);
	ha_state_release(&back);
	cluster_free(c);
}

TEST(restart_on_survivor_after_fence)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n  - {name: b, template: small}\n");
	struct observed o;
	struct ha_state st;
	const char *vms[] = { "a" };
	struct plan p;
	const struct plan_action *act;

	obs_init(&o, c);
	o.hosts[0].online = false;
	obs_add(&o, c, 1, "b", true, NULL, DOM_RUNNING, 0);
	fenced_h1(&st, c, vms, 1);
	p = build(c, &o, &st, NULL);
	act = find(&p, ACT_CREATE, "a");
	CHECK(act != NULL);
	CHECK(act && act->host != 0);
	CHECK(act && act->reason && strstr(act->reason, "recovery from fenced host 'h1': restart"));
	CHECK_INT(plan_held(&p), 0);
	plan_release(&p);

	/* not fenced (down, fence failed): nothing is created, and it is held */
	st.hosts[0].state = HA_DOWN;
	p = build(c, &o, &st, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 0);
	CHECK_INT(p.held_blocked, 1);
	CHECK(plan_held_why(&p, "a") && strstr(plan_held_why(&p, "a"), "not fenced"));
	plan_release(&p);

	/* only suspect: the old rule (it may be there) */
	st.hosts[0].state = HA_SUSPECT;
	p = build(c, &o, &st, NULL);
	CHECK_INT(count(&p, ACT_CREATE), 0);
	plan_release(&p);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(policies)
{
	struct cluster *c = cl("vms:\n"
			       "  - {name: local, template: disky}\n"
			       "  - {name: scratch, template: disky, ha: {policy: recreate}}\n"
			       "  - {name: pinned, template: small, ha: {policy: none}}\n");
	struct observed o;
	struct ha_state st;
	const char *vms[] = { "local", "scratch", "pinned" };
	struct plan p;

	obs_init(&o, c);
	o.hosts[0].online = false;
	fenced_h1(&st, c, vms, 3);
	p = build(c, &o, &st, NULL);
	/* local disks, default policy: not restarted; recreate without consent: held */
	CHECK_INT(count(&p, ACT_CREATE), 0);
	CHECK_INT(p.held_blocked, 2);
	CHECK_INT(p.held_consent, 1);
	CHECK(strstr(plan_held_why(&p, "local"), "local storage"));
	CHECK(strstr(plan_held_why(&p, "pinned"), "ha.policy none"));
	CHECK(strstr(plan_held_why(&p, "scratch"), "--allow-destroy scratch"));
	plan_release(&p);
	/* with consent, recreate goes ahead */
	p = build(c, &o, &st, "scratch");
	CHECK(find(&p, ACT_CREATE, "scratch") != NULL);
	CHECK(strstr(find(&p, ACT_CREATE, "scratch")->reason, "recreate"));
	CHECK_INT(count(&p, ACT_CREATE), 1);
	plan_release(&p);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);

	/* the same disks on a shared pool: restarted by default */
	c = cl("storage: {shared-pools: [default]}\nvms:\n  - {name: local, template: disky}\n");
	obs_init(&o, c);
	o.hosts[0].online = false;
	fenced_h1(&st, c, vms, 1);
	p = build(c, &o, &st, NULL);
	CHECK(find(&p, ACT_CREATE, "local") != NULL);
	CHECK_INT(plan_held(&p), 0);
	plan_release(&p);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(priorities_decide_who_fits)
{
	/* survivors: h2 and h3 with 1 GiB each, 3 x 256 MiB already on each */
	struct cluster *c = cl("vms:\n"
			       "  - {name: low, template: small, ha: {priority: 1}}\n"
			       "  - {name: high, template: small, ha: {priority: 10}}\n"
			       "  - {name: mid, template: small, ha: {priority: 5}}\n"
			       "  - {name: f, template: small, replicas: 6}\n");
	struct observed o;
	struct ha_state st;
	const char *vms[] = { "low", "high", "mid" };
	struct plan p;

	obs_init(&o, c);
	o.hosts[0].online = false;
	for (int i = 0; i < 6; i++) {
		char n[8];
		snprintf(n, sizeof(n), "f-%d", i);
		obs_add(&o, c, 1 + (size_t)(i % 2), n, true, NULL, DOM_RUNNING, 0);
	}
	fenced_h1(&st, c, vms, 3);
	p = build(c, &o, &st, NULL);
	CHECK(find(&p, ACT_CREATE, "high") != NULL);
	CHECK(find(&p, ACT_CREATE, "mid") != NULL);
	CHECK(find(&p, ACT_CREATE, "low") == NULL);
	CHECK_INT(p.held_unplaceable, 1);
	CHECK(plan_held_why(&p, "low") && strstr(plan_held_why(&p, "low"), "ha.priority 1"));
	plan_release(&p);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(stale_copy_never_started)
{
	struct cluster *c = cl("vms:\n  - {name: a, template: small}\n");
	struct observed o;
	struct ha_state st;
	const char *vms[] = { "a" };
	struct plan p;
	const struct plan_action *rm;

	/* h1 came back: its copy of a is stopped, the recovered copy on h2 too
	 * (it crashed): vem must start the recovered one, never the stale one */
	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, NULL, DOM_STOPPED, 0)->meta.migrated_at = 99;
	obs_add(&o, c, 1, "a", true, NULL, DOM_STOPPED, 0);
	fenced_h1(&st, c, vms, 1);
	st.hosts[0].state = HA_UP;
	st.hosts[0].stale = xcalloc(1, sizeof(char *));
	st.hosts[0].stale[0] = xstrdup("a");
	st.hosts[0].n_stale = 1;
	p = build(c, &o, &st, NULL);
	rm = find(&p, ACT_REMOVE, "a");
	CHECK(rm && rm->host == 0);
	CHECK(rm && rm->reason && strstr(rm->reason, "stale"));
	CHECK(find(&p, ACT_START, "a") && find(&p, ACT_START, "a")->host == 1);
	CHECK_INT(count(&p, ACT_START), 1);
	plan_release(&p);

	/* the stale copy runs (a fence that lied): nothing touches the VM */
	o.domains[0].state = DOM_RUNNING;
	p = build(c, &o, &st, NULL);
	CHECK_INT(p.n, 0);
	CHECK_INT(p.held_unsafe, 1);
	plan_release(&p);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(stale_local_disks_need_consent)
{
	struct cluster *c = cl("vms:\n  - {name: s, template: disky, ha: {policy: recreate}}\n");
	struct observed o;
	struct ha_state st;
	const char *vms[] = { "s" };
	struct obs_domain *d;
	struct plan p;

	obs_init(&o, c);
	d = obs_add(&o, c, 0, "s", true, NULL, DOM_STOPPED, 0);
	d->meta.volumes = xcalloc(1, sizeof(char *));
	d->meta.volumes[0] = xstrdup("/var/lib/libvirt/images/vem-t-s-disk0.qcow2");
	d->meta.n_volumes = 1;
	obs_add(&o, c, 1, "s", true, NULL, DOM_RUNNING, 0);
	fenced_h1(&st, c, vms, 1);
	st.hosts[0].state = HA_UP;
	st.hosts[0].stale = xcalloc(1, sizeof(char *));
	st.hosts[0].stale[0] = xstrdup("s");
	st.hosts[0].n_stale = 1;
	p = build(c, &o, &st, NULL);
	CHECK(find(&p, ACT_REMOVE, "s") == NULL);
	CHECK_INT(p.held_consent, 1);
	plan_release(&p);
	p = build(c, &o, &st, "s");
	CHECK(find(&p, ACT_REMOVE, "s") && find(&p, ACT_REMOVE, "s")->destroys);
	plan_release(&p);
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

/* ---- fence agents ---- */

static char agent_dir[] = "/tmp/vem-test-fence.XXXXXX";

static void write_agent(const char *name, const char *body)
{
	char *path = xasprintf("%s/%s", agent_dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(body, f);
		fclose(f);
	}
	chmod(path, 0700);
	free(path);
}

TEST(fence_agent_protocol)
{
	struct cluster *c;
	struct errbuf err = ERRBUF_INIT;
	enum fence_power pw;
	char *log = xasprintf("%s/log", agent_dir), *yaml;
	struct strbuf got = STRBUF_INIT;
	char *agent;

	/* records its stdin; off succeeds, status says off (exit 2) */
	agent = xasprintf("#!/bin/sh\ncat >> %s\necho --- >> %s\n"
			  "grep -q '^action=status' %s && tail -n 5 %s | grep -q '^action=status' && exit 2\n"
			  "exit 0\n", log, log, log, log);
	write_agent("fence_vemtest", agent);
	free(agent);
	write_agent("fence_broken", "#!/bin/sh\ncat >/dev/null\necho 'unable to connect to 10.0.0.9' >&2\nexit 1\n");
	write_agent("fence_liar", "#!/bin/sh\ncat >/dev/null\nexit 0\n");
	write_agent("fence_slow", "#!/bin/sh\nsleep 5\n");
	setenv("VEM_FENCE_AGENT_DIR", agent_dir, 1);
	yaml = xasprintf("%shosts:\n  - name: h1\n    uri: 'qemu+tcp://a/system'\n"
			 "    fence: {agent: fence_vemtest, options: {ip: 10.0.0.9, password: 's3cret', plug: h1}}\n"
			 "  - {name: h2, uri: 'qemu+tcp://b/system', fence: {agent: fence_broken}}\n"
			 "  - {name: h3, uri: 'qemu+tcp://c/system', fence: {agent: fence_liar}}\n"
			 "  - {name: h4, uri: 'qemu+tcp://d/system', fence: {agent: fence_slow}}\n"
			 "  - {name: h5, uri: 'qemu+tcp://e/system'}\n"
			 "vms: []\n", "cluster: f\n");
	c = load_yaml(yaml);
	free(yaml);
	free(c->source);
	c->source = xstrdup("/etc/vem/cluster.yaml");

	CHECK_INT(fence_off(c, &c->hosts[0], 5000, &err), 0);
	CHECK(strbuf_read_file(&got, log, 0) == 0);
	CHECK_STR(got.buf, "action=off\nip=10.0.0.9\npassword=s3cret\nplug=h1\n---\n"
			   "action=status\nip=10.0.0.9\npassword=s3cret\nplug=h1\n---\n");
	CHECK_INT(fence_run(c, &c->hosts[0], "status", 5000, &pw, &err), 2);
	CHECK_INT(pw, FENCE_OFF);

	/* a failing agent: its last words, no password */
	CHECK_INT(fence_off(c, &c->hosts[1], 5000, &err), -1);
	CHECK(strstr(err_msg(&err), "unable to connect to 10.0.0.9"));
	errbuf_release(&err);
	/* off "worked" but status says on: not fenced */
	CHECK_INT(fence_off(c, &c->hosts[2], 5000, &err), -1);
	CHECK(strstr(err_msg(&err), "still on"));
	errbuf_release(&err);
	/* an agent that hangs is killed */
	CHECK_INT(fence_run(c, &c->hosts[3], "off", 300, NULL, &err), -1);
	CHECK(strstr(err_msg(&err), "did not finish"));
	errbuf_release(&err);
	/* no device */
	CHECK_INT(fence_off(c, &c->hosts[4], 5000, &err), -1);
	CHECK(strstr(err_msg(&err), "no fence device"));
	errbuf_release(&err);
	/* a cluster file from git or https never runs a command here */
	free(c->source);
	c->source = xstrdup("git+https://example.org/infra.git");
	CHECK_INT(fence_off(c, &c->hosts[0], 5000, &err), -1);
	CHECK(strstr(err_msg(&err), "only from a cluster file on the local disk"));
	errbuf_release(&err);
	CHECK(!fence_source_trusted("https://example.org/c.yaml"));
	CHECK(fence_source_trusted("clusters/lab.yaml"));

	unsetenv("VEM_FENCE_AGENT_DIR");
	strbuf_release(&got);
	free(log);
	cluster_free(c);
}

/* Item 1 of issue 14: a run writes the records only when they differ
 * from what it read; a host that stays away or a fence that keeps failing
 * the same way is no news. */
TEST(records_change_only_when_they_differ)
{
	struct cluster *c;
	struct observed o;
	struct ha_state st;
	int64_t t0 = 1000000;
	const char *tpl = strstr(base, "templates:");
	char *yaml = xasprintf("%.*s  - {name: h4, uri: 'qemu+tcp://d/system', fence: {agent: fence_broken}}\n"
			       "%svms:\n  - {name: a, template: small}\n", (int)(tpl - base), base, tpl);

	c = load_yaml(yaml);
	free(yaml);
	free(c->source);
	c->source = xstrdup("/etc/vem/cluster.yaml");
	setenv("VEM_FENCE_AGENT_DIR", agent_dir, 1);
	obs_init(&o, c);
	obs_add(&o, c, 1, "a", true, NULL, DOM_RUNNING, 0);
	ha_state_init(&st, c);
	ha_observe(&st, c, &o, t0);
	CHECK(st.changed);                       /* the first VMs seen */
	st.changed = false;
	ha_observe(&st, c, &o, t0 + 1000);
	CHECK(!st.changed);                      /* the same cluster again */
	/* h4 goes away: each observation counts until confirmations (3) */
	o.hosts[3].online = false;
	for (int i = 1; i <= 3; i++) {
		st.changed = false;
		ha_observe(&st, c, &o, t0 + 1000 * (i + 1));
		CHECK(st.changed);
		CHECK_INT(st.hosts[3].misses, i);
	}
	CHECK_INT(st.hosts[3].state, HA_SUSPECT);
	st.changed = false;
	ha_observe(&st, c, &o, t0 + 10000);      /* within the grace: no news */
	CHECK(!st.changed);
	CHECK_INT(st.hosts[3].misses, 3);
	ha_observe(&st, c, &o, t0 + 40000);      /* the grace has passed: down */
	CHECK(st.changed);
	CHECK_INT(st.hosts[3].state, HA_DOWN);
	st.changed = false;
	ha_observe(&st, c, &o, t0 + 41000);      /* still away: no news */
	CHECK(!st.changed);
	/* its fence fails: news once, the same failure again is not */
	CHECK_INT(ha_fence_down(&st, c, 5000, NULL), -1);
	CHECK(st.changed);
	CHECK(st.hosts[3].why && strstr(st.hosts[3].why, "unable to connect"));
	st.changed = false;
	CHECK_INT(ha_fence_down(&st, c, 5000, NULL), -1);
	CHECK(!st.changed);
	/* back: news */
	o.hosts[3].online = true;
	ha_observe(&st, c, &o, t0 + 50000);
	CHECK(st.changed);
	CHECK_INT(st.hosts[3].state, HA_UP);
	unsetenv("VEM_FENCE_AGENT_DIR");
	ha_state_release(&st);
	observed_release(&o);
	cluster_free(c);
}

TEST(fence_names_checked_by_loader)
{
	const char *bad[] = {
		"fence: {agent: /usr/sbin/fence_ipmilan}",
		"fence: {agent: ../fence_x}",
		"fence: {agent: ipmitool}",
		"fence: {agent: fence_x, options: {action: reboot}}",
		"fence: {agent: fence_x, options: {ip: \"1.2.3.4\\naction=on\"}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct errbuf err = ERRBUF_INIT;
		char *y = xasprintf("cluster: f\nhosts:\n  - {name: h1, uri: 'qemu+tcp://a/system', %s}\n"
				    "vms: []\n", bad[i]);
		struct cluster *c = cfg_load_buffer("f.yaml", y, strlen(y), &err);
		if (c)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(c == NULL);
		cluster_free(c);
		errbuf_release(&err);
		free(y);
	}
}

/* ---- the records on libvirt (test driver) ---- */

/* Item 2 of issue 14: libvirt's TCP connections get a kernel bound
 * (TCP_USER_TIMEOUT and keepalive probes) so that a call on a host that
 * died fails instead of waiting on TCP for minutes; other sockets are left
 * alone and a socket is bound once. */
TEST(transport_bound_on_tcp_sockets)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0);
	int afd = -1, u[2] = { -1, -1 }, v = 0, ka = 0;
	socklen_t vl = sizeof(v);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(lfd >= 0 && cfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 1) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	CHECK(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	afd = accept(lfd, NULL, NULL);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u) == 0);
	/* the client and the accepted end; not the listener, not the unix pair */
	CHECK_INT(hv_transport_bound(3000), 2);
	CHECK(getsockopt(cfd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &vl) == 0);
	CHECK_INT(v, 3000);
	vl = sizeof(ka);
	CHECK(getsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &ka, &vl) == 0);
	CHECK_INT(ka, 1);
	vl = sizeof(v);
	CHECK(getsockopt(cfd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl) == 0);
	CHECK_INT(v, 3);
	/* once is enough: a second call finds nothing to do */
	CHECK_INT(hv_transport_bound(9000), 0);
	CHECK(getsockopt(cfd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &vl) == 0);
	CHECK_INT(v, 3000);
	close(u[0]);
	close(u[1]);
	close(afd);
	close(cfd);
	close(lfd);
}

TEST(records_on_hosts)
{
	struct cluster *c = load_yaml("cluster: rt\nhosts:\n  - {name: h1, uri: 'test:///default'}\n"
				      "  - {name: h2, uri: 'test:///default'}\nvms: []\n");
	struct hv_options ho;
	struct hv_session *s;
	struct ha_state st, back;
	struct errbuf err = ERRBUF_INIT;
	struct observed o;
	const char *vms[] = { "a" };

	hv_options_default(&ho);
	s = hv_session_open(c, &ho);
	CHECK(hv_conn(s, 0) != NULL);
	fenced_h1(&st, c, vms, 1);
	CHECK_INT(ha_state_write(s, c, &st, &err), 0);
	CHECK_INT(ha_state_write(s, c, &st, &err), 0);     /* a redefinition */
	ha_state_init(&back, c);
	CHECK_INT(ha_state_read(s, c, &back, &err), 0);
	CHECK_INT(back.gen, 2);
	CHECK_INT(back.hosts[0].state, HA_FENCED);
	CHECK_INT(back.hosts[0].fenced_at, 2000);
	CHECK(back.hosts[0].n_vms == 1 && !strcmp(back.hosts[0].vms[0], "a"));
	/* the records are not a VM */
	CHECK_INT(hv_observe(s, &o, &err), 0);
	for (size_t i = 0; i < o.n_domains; i++)
		CHECK(!str_starts_with(o.domains[i].name, "vem-hoststate-"));
	observed_release(&o);
	errbuf_release(&err);
	ha_state_release(&st);
	ha_state_release(&back);
	hv_session_free(s);
	cluster_free(c);
}

int main(void)
{
	if (!mkdtemp(agent_dir)) {
		perror(agent_dir);
		return 1;
	}
	RUN(detection_needs_grace_and_confirmations);
	RUN(grace_alone_is_not_enough);
	RUN(records_round_trip);
	RUN(restart_on_survivor_after_fence);
	RUN(policies);
	RUN(priorities_decide_who_fits);
	RUN(stale_copy_never_started);
	RUN(stale_local_disks_need_consent);
	RUN(fence_agent_protocol);
	RUN(records_change_only_when_they_differ);
	RUN(fence_names_checked_by_loader);
	RUN(transport_bound_on_tcp_sockets);
	RUN(records_on_hosts);
	{
		char *cmd = xasprintf("rm -rf %s", agent_dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", agent_dir);
		free(cmd);
	}
	return test_done();
}
