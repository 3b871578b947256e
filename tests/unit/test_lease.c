/*
 * Unit tests: the cluster lease on libvirt's test driver (test:///default,
 * no root). The driver keeps state per connection, so each test opens its
 * own session and two leases over that one session compete like two vem
 * processes on one host; a lease "of another machine" is a domain defined
 * by hand with that machine's identity.
 *
 * The wall clock is faked: this file defines clock_gettime(), which every
 * caller in the process reaches (vem's code and the libraries), and shifts
 * CLOCK_REALTIME by wall_shift_ms; the kernel's timed waits are not shifted,
 * so a shift stands for a step of the clock during a wait.
 */
#include "test.h"
#include "reconciler/lease_priv.h"
#include "fixtures.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static _Atomic long long wall_shift_ms;

int clock_gettime(clockid_t id, struct timespec *ts)
{
	long long shift = atomic_load(&wall_shift_ms);
	if (syscall(SYS_clock_gettime, id, ts))
		return -1;
	if (id == CLOCK_REALTIME && shift) {
		long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + shift * 1000000LL;
		ts->tv_sec = (time_t)(ns / 1000000000LL);
		ts->tv_nsec = (long)(ns % 1000000000LL);
	}
	return 0;
}

static const char cluster_yaml[] =
	"cluster: lt\n"
	"hosts:\n"
	"  - name: h1\n"
	"    uri: test:///default\n";

static const char other_uuid[] = "0badc0de-0000-4000-8000-000000000001";

struct fixture {
	struct cluster *c;
	struct hv_session *s;
	virConnectPtr conn;           /* of the first host */
};

static void fixture_open_yaml(struct fixture *f, const char *yaml)
{
	struct hv_fixture hf;

	hv_fixture_open(&hf, yaml, NULL);
	f->c = hf.c;
	f->s = hf.s;
	f->conn = hv_conn(f->s, 0);
}

static void fixture_open(struct fixture *f)
{
	fixture_open_yaml(f, cluster_yaml);
}

static void fixture_close(struct fixture *f)
{
	struct hv_fixture hf = { f->c, f->s };
	hv_fixture_close(&hf);
}

static void opts(struct lease_options *o, int64_t ttl, int64_t wait)
{
	lease_options_default(o);
	o->ttl = ttl;
	o->wait = wait;
	o->progress = NULL;
}

/* A pid that no process has now (a child that was reaped). */
static long dead_pid(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return (long)p;
}

/* Define a lease of another holder with identity id on conn. */
static void define_foreign(virConnectPtr conn, const char *uuid, const struct lease_identity *id,
			   const char *hostname, long counter)
{
	char *xml = xasprintf(
		"<domain type='test'><name>vem-lease-lt</name><uuid>%s</uuid>"
		"<metadata><vem:lease xmlns:vem='" VEM_META_NS "'>"
		"<vem:holder>root@%s pid %ld</vem:holder><vem:hostname>%s</vem:hostname>"
		"<vem:machine>%s</vem:machine><vem:boot>%s</vem:boot><vem:pidns>%s</vem:pidns>"
		"<vem:pid>%ld</vem:pid><vem:start>%llu</vem:start><vem:since>%lld</vem:since>"
		"<vem:counter>%ld</vem:counter></vem:lease></metadata>"
		"<memory unit='KiB'>1024</memory><vcpu>1</vcpu>"
		"<os><type arch='x86_64'>hvm</type></os></domain>",
		uuid, hostname, id->pid, hostname, id->machine, id->boot, id->pidns, id->pid,
		id->start, (long long)time_now_ms(), counter);
	virDomainPtr d = virDomainDefineXML(conn, xml);
	if (!d) {
		fprintf(stderr, "cannot define the foreign lease: %s\n", virGetLastErrorMessage());
		abort();
	}
	virDomainFree(d);
	free(xml);
}

/* A holder on another machine (alive until its lease expires). */
static void identity_other_machine(struct lease_identity *id)
{
	lease_identity_self(id);
	snprintf(id->machine, sizeof(id->machine), "%s", "00000000000000000000000000000001");
}

/* A holder on this machine, boot and pid namespace whose process is gone. */
static void identity_dead_here(struct lease_identity *id)
{
	lease_identity_self(id);
	id->pid = dead_pid();
}

static void undefine_lease(virConnectPtr conn)
{
	virDomainPtr d = virDomainLookupByName(conn, "vem-lease-lt");
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
}

static char *hostname_now(void)
{
	char h[256] = "";
	gethostname(h, sizeof(h) - 1);
	return xstrdup(h);
}

TEST(identity_of_this_process)
{
	struct lease_identity self, h;
	pid_t z;

	lease_identity_self(&self);
	CHECK(self.machine[0] && self.boot[0] && self.pidns[0]);
	CHECK_INT(self.pid, getpid());
	CHECK(self.start > 0);
	CHECK(!lease_identity_gone(&self, &self));

	/* gone: same machine, boot and pid namespace, no such pid */
	h = self;
	h.pid = dead_pid();
	CHECK(lease_identity_gone(&self, &h));
	/* the same dead pid on another machine, boot or pid namespace: the ttl decides */
	snprintf(h.machine, sizeof(h.machine), "%s", "00000000000000000000000000000001");
	CHECK(!lease_identity_gone(&self, &h));
	h = self;
	h.pid = dead_pid();
	snprintf(h.boot, sizeof(h.boot), "%s", "00000000-0000-4000-8000-000000000001");
	CHECK(!lease_identity_gone(&self, &h));
	h = self;
	h.pid = dead_pid();
	snprintf(h.pidns, sizeof(h.pidns), "%s", "pid:[1]");
	CHECK(!lease_identity_gone(&self, &h));
	/* a live pid that started at another time: reused, the holder is gone */
	h = self;
	h.start = self.start + 1;
	CHECK(lease_identity_gone(&self, &h));
	/* unknown identity on either side: never dead at once */
	h = self;
	h.pid = dead_pid();
	h.start = 0;
	CHECK(!lease_identity_gone(&self, &h));
	{
		struct lease_identity blank = self;
		blank.machine[0] = '\0';
		h = self;
		h.pid = dead_pid();
		CHECK(!lease_identity_gone(&blank, &h));
	}
	/* a zombie is gone */
	z = fork();
	if (z == 0)
		_exit(0);
	usleep(100 * 1000);
	h = self;
	h.pid = (long)z;
	{
		char path[64], buf[512] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)z);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		/* the zombie's own start time, so only its state can tell */
		const char *p = strrchr(buf, ')');
		for (int field = 2; p && field < 22; field++)
			p = strchr(p + 1, ' ');
		h.start = p ? strtoull(p + 1, NULL, 10) : 0;
	}
	CHECK(h.start > 0);
	CHECK(lease_identity_gone(&self, &h));
	waitpid(z, NULL, 0);
}

/* Issue 8 item 4: another machine with this hostname and a pid that does not
 * exist here holds the lease: it is alive as far as we can tell, so only its
 * ttl may end it. */
TEST(foreign_holder_with_our_hostname_waits_for_ttl)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_identity other;
	struct lease_holder h;
	struct lease *l;
	char *hn = hostname_now();
	int64_t t0;

	fixture_open(&f);
	identity_other_machine(&other);
	other.pid = dead_pid();
	define_foreign(f.conn, other_uuid, &other, hn, 7);

	opts(&o, 800, 300);
	t0 = time_mono_ms();
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(!l);
	CHECK(strstr(err_msg(&err), "cluster 'lt' is busy: its lease is held by root@"));
	CHECK(err_kind(&err) == ERR_LEASE_HELD);   /* exit code 4 is decided by this */
	CHECK(lease_holder_read(f.conn, "lt", &h) == 0 && !strcmp(h.uuid, other_uuid));
	lease_holder_release(&h);
	lease_release(l);

	/* unchanged for the ttl: dead, taken */
	opts(&o, 800, 5000);
	t0 = time_mono_ms();
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	CHECK(time_mono_ms() - t0 >= 800);
	CHECK(lease_holder_read(f.conn, "lt", &h) == 0 && strcmp(h.uuid, other_uuid));
	lease_holder_release(&h);
	lease_release(l);
	/* released: gone */
	CHECK_INT(lease_holder_read(f.conn, "lt", &h), 1);

	/* the same dead pid of this machine, boot and pid namespace: dead at once */
	identity_dead_here(&other);
	define_foreign(f.conn, other_uuid, &other, hn, 7);
	opts(&o, 800, 0);
	t0 = time_mono_ms();
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	CHECK(time_mono_ms() - t0 < 800);
	lease_release(l);

	/* a live process of this machine (this one) whose lease is not ours:
	 * alive, so not taken */
	lease_identity_self(&other);
	define_foreign(f.conn, other_uuid, &other, hn, 7);
	opts(&o, 800, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(!l);
	lease_release(l);
	undefine_lease(f.conn);

	free(hn);
	errbuf_release(&err);
	fixture_close(&f);
}

/* A holder's name is XML text in the lease: its entities are read back
 * decoded, in lease_holder_read() and in the "busy" error. */
TEST(holder_name_with_entities)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_identity other;
	struct lease_holder h;
	struct lease *l;
	char *want;

	fixture_open(&f);
	identity_other_machine(&other);
	define_foreign(f.conn, other_uuid, &other, "a&amp;b&lt;c&gt;&quot;d&apos;", 1);
	want = xasprintf("root@a&b<c>\"d' pid %ld", other.pid);
	CHECK_INT(lease_holder_read(f.conn, "lt", &h), 0);
	CHECK_STR(h.holder, want);
	CHECK_STR(h.id.machine, other.machine);
	CHECK_INT(h.counter, 1);
	lease_holder_release(&h);
	opts(&o, 5000, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(!l);
	CHECK(strstr(err_msg(&err), want));
	lease_release(l);
	undefine_lease(f.conn);
	free(want);
	errbuf_release(&err);
	fixture_close(&f);
}

/* Three hosts (three connections, three separate states): a dead foreign
 * holder's leases all expire one ttl after the waiter started to watch, not
 * one ttl per host; a lease replaced on one host of three is lost. */
TEST(three_hosts)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_identity other;
	struct lease_holder h;
	struct lease *l;
	char *hn = hostname_now();
	char *node = test_node_file();
	char *yaml = test_hosts_yaml("lt", node, 3, NULL);
	int64_t t0, took;

	fixture_open_yaml(&f, yaml);
	identity_other_machine(&other);
	for (size_t i = 0; i < 3; i++)
		define_foreign(hv_conn(f.s, i), other_uuid, &other, hn, 1);
	opts(&o, 1000, 5000);
	t0 = time_mono_ms();
	l = lease_acquire(f.s, f.c, &o, &err);
	took = time_mono_ms() - t0;
	CHECK(l);
	CHECK(took >= 1000);
	CHECK(took < 1800);      /* one ttl per host would be 2 s at least */
	for (size_t i = 0; i < 3; i++) {
		CHECK(lease_holder_read(hv_conn(f.s, i), "lt", &h) == 0 && strcmp(h.uuid, other_uuid));
		lease_holder_release(&h);
	}
	CHECK_INT(lease_check(l, &err), 0);
	/* one host of three taken over: lost all the same */
	undefine_lease(hv_conn(f.s, 1));
	define_foreign(hv_conn(f.s, 1), other_uuid, &other, hn, 1);
	CHECK_INT(lease_check(l, &err), -1);
	CHECK(strstr(err_msg(&err), "lease of cluster 'lt' lost: host 'h2' names another holder"));
	CHECK(err_kind(&err) == ERR_LEASE_LOST);
	CHECK(lease_lost(l));
	lease_release(l);
	CHECK(lease_holder_read(hv_conn(f.s, 1), "lt", &h) == 0 && !strcmp(h.uuid, other_uuid));
	lease_holder_release(&h);
	CHECK_INT(lease_holder_read(hv_conn(f.s, 0), "lt", &h), 1);
	lease_holder_release(&h);
	free(hn);
	errbuf_release(&err);
	fixture_close(&f);
	unlink(node);
	free(node);
	free(yaml);
}

/* A renewing holder is never taken, and the counter on the host moves. */
TEST(renewing_holder_keeps_its_lease)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_holder h1, h2;
	struct lease *l, *l2;

	fixture_open(&f);
	opts(&o, 600, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	CHECK(lease_holder_read(f.conn, "lt", &h1) == 0);
	CHECK_INT(h1.ttl, 600);
	opts(&o, 600, 1500);
	l2 = lease_acquire(f.s, f.c, &o, &err);
	CHECK(!l2);
	CHECK(lease_holder_read(f.conn, "lt", &h2) == 0);
	CHECK_STR(h2.uuid, h1.uuid);
	CHECK(h2.counter >= h1.counter + 5);
	CHECK(lease_renewals(l) >= 5);
	CHECK_INT(lease_check(l, &err), 0);
	CHECK(!lease_lost(l));
	lease_holder_release(&h1);
	lease_holder_release(&h2);
	lease_release(l);
	errbuf_release(&err);
	fixture_close(&f);
}

/* A waiter honours the holder's own ttl when it is longer than its own. */
TEST(waiter_uses_the_longer_ttl)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease *l, *l2;

	fixture_open(&f);
	opts(&o, 1500, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	lease_pause_renewal(l, true);
	/* a 300 ms waiter would take it after 300 ms; 1 s is within the holder's 1.5 s */
	opts(&o, 300, 1000);
	l2 = lease_acquire(f.s, f.c, &o, &err);
	CHECK(!l2);
	lease_release(l2);
	lease_release(l);
	errbuf_release(&err);
	fixture_close(&f);
}

/* The lease replaced by another holder's: check fails at once, the renewal
 * marks it lost, and the new holder's lease stays as it is. */
TEST(replaced_lease_is_lost_and_left_alone)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_identity other;
	struct lease_holder h;
	struct lease *l;
	char *hn = hostname_now();

	fixture_open(&f);
	opts(&o, 1000, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	CHECK_INT(lease_check(l, &err), 0);
	CHECK(!lease_lost(l));

	undefine_lease(f.conn);
	identity_other_machine(&other);
	define_foreign(f.conn, other_uuid, &other, hn, 3);

	CHECK_INT(lease_check(l, &err), -1);
	CHECK(strstr(err_msg(&err), "lease of cluster 'lt' lost: host 'h1' names another holder, root@"));
	CHECK(lease_lost(l));
	usleep(700 * 1000);     /* three renewal intervals */
	CHECK(lease_holder_read(f.conn, "lt", &h) == 0);
	CHECK_STR(h.uuid, other_uuid);
	CHECK_INT(h.counter, 3);
	lease_holder_release(&h);
	lease_release(l);
	CHECK(lease_holder_read(f.conn, "lt", &h) == 0);
	CHECK_STR(h.uuid, other_uuid);
	lease_holder_release(&h);
	undefine_lease(f.conn);
	free(hn);
	errbuf_release(&err);
	fixture_close(&f);
}

/* The lease removed under the holder (a waiter judged it dead): the next
 * renewal marks it lost and does not define it again. */
TEST(removed_lease_is_not_recreated)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_holder h;
	struct lease *l;

	fixture_open(&f);
	opts(&o, 1000, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	undefine_lease(f.conn);
	usleep(700 * 1000);
	CHECK_INT(lease_holder_read(f.conn, "lt", &h), 1);
	lease_holder_release(&h);
	CHECK(lease_lost(l));
	CHECK_INT(lease_check(l, &err), -1);
	CHECK(strstr(err_msg(&err), "lease of cluster 'lt' lost: its lease on host 'h1' was removed"));
	lease_release(l);
	errbuf_release(&err);
	fixture_close(&f);
}

/* Two holders over one host: the first stops renewing (as if SIGSTOPped),
 * the second takes the lease after the ttl; the first, resumed, knows it
 * lost the lease and leaves the second's alone, also when released. */
TEST(stopped_holder_is_fenced)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease_holder h, h2;
	struct lease *l1, *l2;
	long r1;
	int64_t t0;

	fixture_open(&f);
	opts(&o, 1000, 0);
	l1 = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l1);
	lease_pause_renewal(l1, true);
	t0 = time_mono_ms();
	opts(&o, 1000, 5000);
	l2 = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l2);
	CHECK(time_mono_ms() - t0 >= 1000);
	/* the stopped holder's own clock already tells it: no renewal for the ttl */
	CHECK_INT(lease_check(l1, &err), -1);
	CHECK(strstr(err_msg(&err), "lease of cluster 'lt' lost: "));
	CHECK(lease_lost(l1));
	r1 = lease_renewals(l1);
	CHECK(lease_holder_read(f.conn, "lt", &h) == 0);
	lease_pause_renewal(l1, false);
	usleep(700 * 1000);
	CHECK_INT(lease_renewals(l1), r1);
	CHECK(lease_holder_read(f.conn, "lt", &h2) == 0);
	CHECK_STR(h2.uuid, h.uuid);          /* still the second's */
	CHECK(h2.counter > h.counter);       /* renewed by the second only */
	CHECK_INT(lease_check(l2, &err), 0);
	lease_release(l1);
	CHECK_INT(lease_check(l2, &err), 0);
	CHECK(!lease_lost(l2));
	lease_holder_release(&h);
	lease_holder_release(&h2);
	lease_release(l2);
	CHECK_INT(lease_holder_read(f.conn, "lt", &h), 1);
	errbuf_release(&err);
	fixture_close(&f);
}

/* Without renewals the holder's lease is lost after ttl - ttl/4 of its
 * monotonic clock, whatever the wall clock says. */
TEST(expiry_on_the_monotonic_clock)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease *l;
	int64_t t0;

	fixture_open(&f);
	opts(&o, 1000, 0);
	t0 = lease_clock_ms();
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	lease_pause_renewal(l, true);
	/* the wall clock jumps back an hour: changes nothing */
	atomic_store(&wall_shift_ms, -3600 * 1000LL);
	while (!lease_lost(l) && lease_clock_ms() - t0 < 3000)
		usleep(20 * 1000);
	CHECK(lease_lost(l));
	CHECK(lease_clock_ms() - t0 >= 750);
	CHECK(lease_clock_ms() - t0 < 1500);
	atomic_store(&wall_shift_ms, 0);
	CHECK_INT(lease_check(l, &err), -1);
	CHECK(strstr(err_msg(&err), "lease of cluster 'lt' lost: not renewed on a majority of hosts"));
	lease_release(l);
	errbuf_release(&err);
	fixture_close(&f);
}

/* 150 ms from now, the wall clock jumps two hours ahead. */
static void *jump_later(void *arg)
{
	(void)arg;
	usleep(150 * 1000);
	atomic_store(&wall_shift_ms, 2 * 3600 * 1000LL);
	return NULL;
}

/* Renewals wait on the monotonic clock: a wait that began on a wall clock
 * an hour ahead of the kernel's (the clock stepped back an hour) goes on. And
 * a waiter judges expiry on the monotonic clock: a wall clock an hour ahead
 * does not make a live lease look dead. */
TEST(wall_clock_steps_change_nothing)
{
	struct fixture f;
	struct errbuf err = ERRBUF_INIT;
	struct lease_options o;
	struct lease *l, *l2;
	pthread_t jumper;
	long r0;

	fixture_open(&f);
	atomic_store(&wall_shift_ms, 3600 * 1000LL);
	opts(&o, 600, 0);
	l = lease_acquire(f.s, f.c, &o, &err);
	CHECK(l);
	r0 = lease_renewals(l);
	usleep(1500 * 1000);
	CHECK(lease_renewals(l) >= r0 + 4);
	CHECK_INT(lease_check(l, &err), 0);
	CHECK(!lease_lost(l));
	lease_pause_renewal(l, true);
	opts(&o, 1000, 450);
	CHECK(!pthread_create(&jumper, NULL, jump_later, NULL));
	l2 = lease_acquire(f.s, f.c, &o, &err);
	CHECK(!l2);
	pthread_join(jumper, NULL);
	atomic_store(&wall_shift_ms, 0);
	lease_release(l2);
	lease_release(l);
	errbuf_release(&err);
	fixture_close(&f);
}

int main(void)
{
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(identity_of_this_process);
	RUN(foreign_holder_with_our_hostname_waits_for_ttl);
	RUN(holder_name_with_entities);
	RUN(three_hosts);
	RUN(renewing_holder_keeps_its_lease);
	RUN(waiter_uses_the_longer_ttl);
	RUN(replaced_lease_is_lost_and_left_alone);
	RUN(removed_lease_is_not_recreated);
	RUN(stopped_holder_is_fenced);
	RUN(expiry_on_the_monotonic_clock);
	RUN(wall_clock_steps_change_nothing);
	return test_done();
}
