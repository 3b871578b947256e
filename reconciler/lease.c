/*
 * lease.c - one writer per cluster, through libvirt, with fencing.
 *
 * The lease is an inactive persistent domain "vem-lease-CLUSTER" on each
 * host, never started, whose UUID is the holder's random token and whose
 * metadata names the holder. Defining it with a fresh UUID is the
 * compare-and-set: libvirt refuses to define a name that exists with another
 * UUID, so one process wins. The holder renews it every ttl/5 by setting the
 * metadata of the domain with its own UUID (counter + 1): a call that fails
 * when the domain is gone, so a renewal never re-creates a lease that a new
 * holder removed. A waiter that sees the counter unchanged for the larger of
 * its ttl and the holder's on its own monotonic clock takes the lease as dead
 * and removes it by UUID (two waiters cannot both remove a fresh one). A
 * holder that ran on this machine, this boot and this pid namespace and
 * whose process is gone is dead at once. The lease is held on a majority of
 * the cluster's hosts, taken in host-name order.
 *
 * Fencing (see lease.h): a renewal round that reached a majority within
 * ttl/4 of its start moves last_ok to that start. Nobody can take a majority
 * before last_ok + ttl, so the holder acts only while the age of last_ok is
 * below ttl - ttl/4, and its lease is lost for good once it is not.
 */
#include "lease.h"
#include "lease_priv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASE_PREFIX "vem-lease-"

void lease_options_default(struct lease_options *o)
{
	memset(o, 0, sizeof(*o));
	o->ttl = 30000;
	o->wait = 60000;
	o->progress = stderr;
}

struct lease {
	struct hv_session *s;
	const struct cluster *c;
	char uuid[VIR_UUID_STRING_BUFLEN];   /* the token */
	char *name;
	char *holder;
	char hostname[256];
	struct lease_identity self;
	int64_t since;              /* wall clock, for people */
	int64_t ttl, margin, interval;
	FILE *progress;
	long counter;               /* last counter sent (renewal thread only) */
	bool *held;                 /* per host; fixed between acquire and release */
	long *written;              /* per host: counter last written there */
	long *tried;                /* per host: counter last sent there */
	size_t n;
	pthread_t renewer;
	bool renewing;
	pthread_mutex_t lock;       /* guards stop, paused, reason and cond */
	pthread_cond_t cond;
	bool stop, paused;
	char reason[512];
	_Atomic int64_t last_ok;    /* lease_clock_ms() at the start of the last good round */
	atomic_bool lost;
	atomic_long renewals;
};

/* ---- identity ---- */

int64_t lease_clock_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts))
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* First line of path, trimmed, into out ("" when unreadable). */
static void read_line(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t len;

	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, (int)size, f))
		out[0] = '\0';
	fclose(f);
	len = strcspn(out, " \t\r\n");
	out[len] = '\0';
}

/* State and start time of pid from /proc: 0, 1 when there is no such
 * process, -1 when it cannot be told. */
static int proc_stat(long pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	const char *p;
	FILE *f;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH ? 1 : -1;
	if (!fgets(buf, sizeof(buf), f))
		goto out;
	/* "pid (comm) S ppid ...": comm may hold ')'; the start time is field 22 */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		goto out;
	*state = p[2];
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			goto out;
		p++;
	}
	{
		char *end;
		errno = 0;
		*start = strtoull(p, &end, 10);
		if (errno || end == p)
			goto out;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

void lease_identity_self(struct lease_identity *id)
{
	char state;
	ssize_t n;

	memset(id, 0, sizeof(*id));
	read_line("/etc/machine-id", id->machine, sizeof(id->machine));
	read_line("/proc/sys/kernel/random/boot_id", id->boot, sizeof(id->boot));
	n = readlink("/proc/self/ns/pid", id->pidns, sizeof(id->pidns) - 1);
	id->pidns[n > 0 ? n : 0] = '\0';
	id->pid = (long)getpid();
	if (proc_stat(id->pid, &state, &id->start))
		id->start = 0;
}

bool lease_identity_gone(const struct lease_identity *self,
			 const struct lease_identity *holder)
{
	unsigned long long start = 0;
	char state = '?';
	int r;

	if (!self->machine[0] || !self->boot[0] || !self->pidns[0])
		return false;
	if (strcmp(self->machine, holder->machine) || strcmp(self->boot, holder->boot) ||
	    strcmp(self->pidns, holder->pidns))
		return false;
	if (holder->pid <= 0 || !holder->start)
		return false;
	r = proc_stat(holder->pid, &state, &start);
	if (r == 1)
		return true;
	if (r < 0)
		return false;       /* cannot tell: let the ttl decide */
	return state == 'Z' || state == 'X' || start != holder->start;
}

/* ---- the lease on one host ---- */

void lease_holder_release(struct lease_holder *h)
{
	free(h->holder);
	memset(h, 0, sizeof(*h));
}

static int64_t meta_int(const char *xml, const char *tag)
{
	char *t = hv_xml_text(xml, tag);
	int64_t v = 0;
	if (!t || parse_int64(t, &v))
		v = 0;
	free(t);
	return v;
}

static void meta_str(const char *xml, const char *tag, char *out, size_t size)
{
	char *t = hv_xml_text(xml, tag);
	snprintf(out, size, "%s", t ? t : "");
	free(t);
}

static void holder_parse(const char *xml, struct lease_holder *h)
{
	h->holder = hv_xml_text(xml, "holder");
	meta_str(xml, "machine", h->id.machine, sizeof(h->id.machine));
	meta_str(xml, "boot", h->id.boot, sizeof(h->id.boot));
	meta_str(xml, "pidns", h->id.pidns, sizeof(h->id.pidns));
	h->id.pid = (long)meta_int(xml, "pid");
	h->id.start = (unsigned long long)meta_int(xml, "start");
	h->since = meta_int(xml, "since");
	h->ttl = meta_int(xml, "ttl");
	h->counter = (long)meta_int(xml, "counter");
}

int lease_holder_read(void *conn, const char *cluster, struct lease_holder *h)
{
	char *name = xasprintf(LEASE_PREFIX "%s", cluster);
	virDomainPtr d = NULL;
	char *xml;
	int ret = -1;

	memset(h, 0, sizeof(*h));
	if (!conn || virConnectIsAlive(conn) != 1)
		goto out;
	d = virDomainLookupByName(conn, name);
	if (!d) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			ret = 1;
		goto out;
	}
	if (virDomainGetUUIDString(d, h->uuid))
		goto out;
	xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0);
	if (xml)
		holder_parse(xml, h);
	free(xml);
	if (!h->holder)
		h->holder = xstrdup("an unknown holder");
	ret = 0;
out:
	if (d)
		virDomainFree(d);
	free(name);
	return ret;
}

/* The <lease> element; pfx "vem:" inside a domain's XML, "" for SetMetadata. */
static void lease_meta(struct strbuf *sb, const struct lease *l, long counter, const char *pfx)
{
	const struct lease_identity *id = &l->self;

	if (*pfx)
		strbuf_addf(sb, "<%slease xmlns:vem='" VEM_META_NS "'>\n", pfx);
	else
		strbuf_adds(sb, "<lease>\n");
	strbuf_addf(sb, "  <%sholder>", pfx);
	strbuf_add_xml(sb, l->holder);
	strbuf_addf(sb, "</%sholder>\n  <%shostname>", pfx, pfx);
	strbuf_add_xml(sb, l->hostname);
	strbuf_addf(sb, "</%shostname>\n  <%smachine>", pfx, pfx);
	strbuf_add_xml(sb, id->machine);
	strbuf_addf(sb, "</%smachine>\n  <%sboot>", pfx, pfx);
	strbuf_add_xml(sb, id->boot);
	strbuf_addf(sb, "</%sboot>\n  <%spidns>", pfx, pfx);
	strbuf_add_xml(sb, id->pidns);
	strbuf_addf(sb, "</%spidns>\n", pfx);
	strbuf_addf(sb, "  <%spid>%ld</%spid>\n  <%sstart>%llu</%sstart>\n", pfx, id->pid, pfx,
		    pfx, id->start, pfx);
	strbuf_addf(sb, "  <%ssince>%lld</%ssince>\n  <%sttl>%lld</%sttl>\n", pfx,
		    (long long)l->since, pfx, pfx, (long long)l->ttl, pfx);
	strbuf_addf(sb, "  <%scounter>%ld</%scounter>\n</%slease>\n", pfx, counter, pfx, pfx);
}

static char *lease_xml(struct lease *l, size_t host, long counter)
{
	struct strbuf meta = STRBUF_INIT;
	char *xml;

	lease_meta(&meta, l, counter, VEM_META_PREFIX ":");
	xml = hv_inert_domain_xml(l->s, host, l->name, l->uuid, "vem lease: do not start", meta.buf);
	strbuf_release(&meta);
	return xml;
}

/* A connection that keepalive gave up on: calls on it fail or, in libvirt
 * 9.0, can even wait forever, so vem leaves it alone. */
static virConnectPtr live_conn(const struct lease *l, size_t host)
{
	virConnectPtr conn = hv_conn(l->s, host);
	return conn && virConnectIsAlive(conn) == 1 ? conn : NULL;
}

static int define_lease(struct lease *l, size_t host, long counter)
{
	virConnectPtr conn = live_conn(l, host);
	virDomainPtr d;
	char *xml;

	if (!conn)
		return -1;
	xml = lease_xml(l, host, counter);
	d = virDomainDefineXML(conn, xml);
	free(xml);
	if (!d)
		return -1;
	virDomainFree(d);
	return 0;
}

/* Remove the lease with this UUID only: a fresh one of another holder stays. */
static void remove_by_uuid(struct lease *l, size_t host, const char *uuid)
{
	virConnectPtr conn = live_conn(l, host);
	virDomainPtr d = conn ? virDomainLookupByUUIDString(conn, uuid) : NULL;
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
}

static void release_held(struct lease *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->held[i])
			remove_by_uuid(l, i, l->uuid);
		l->held[i] = false;
	}
}

/* ---- lost ---- */

static void mark_lost(const struct lease *cl, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void mark_lost(const struct lease *cl, const char *fmt, ...)
{
	/* the lease is never const itself: lease_lost() takes a const pointer */
	struct lease *l = (struct lease *)cl;
	va_list ap;

	pthread_mutex_lock(&l->lock);
	if (!atomic_load(&l->lost)) {
		va_start(ap, fmt);
		vsnprintf(l->reason, sizeof(l->reason), fmt, ap);
		va_end(ap);
		atomic_store(&l->lost, true);
		if (l->progress)
			fprintf(l->progress, "vem: the lease of cluster '%s' is lost: %s\n",
				l->c->name, l->reason);
	}
	pthread_mutex_unlock(&l->lock);
}

/* Lost by time: no round reached a majority for ttl - margin. */
static bool lost_by_age(const struct lease *l, int64_t now)
{
	int64_t age = now - atomic_load(&l->last_ok);
	char a[32], b[32];

	if (age < l->ttl - l->margin)
		return false;
	mark_lost(l, "not renewed on a majority of hosts for %s (ttl %s)",
		  format_duration(age, a), format_duration(l->ttl, b));
	return true;
}

bool lease_lost(const struct lease *l)
{
	return atomic_load(&l->lost) || lost_by_age(l, lease_clock_ms());
}

static int lost_error(struct lease *l, struct errbuf *err)
{
	pthread_mutex_lock(&l->lock);
	err_set_kind(err, ERR_LEASE_LOST, "lease of cluster '%s' lost: %s", l->c->name, l->reason);
	pthread_mutex_unlock(&l->lock);
	return -1;
}

/* The lease on host is not ours: say whose it is. */
static void lost_to_other(struct lease *l, size_t host)
{
	struct lease_holder h;
	int r = lease_holder_read(hv_conn(l->s, host), l->c->name, &h);

	if (r == 0)
		mark_lost(l, "host '%s' names another holder, %s", l->c->hosts[host].name, h.holder);
	else
		mark_lost(l, "its lease on host '%s' was removed", l->c->hosts[host].name);
	lease_holder_release(&h);
}

int lease_check(struct lease *l, struct errbuf *err)
{
	size_t ok = 0;

	if (lease_lost(l))
		return lost_error(l, err);
	for (size_t i = 0; i < l->n; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN] = "";
		virConnectPtr conn;
		virDomainPtr d;

		if (!l->held[i] || !(conn = live_conn(l, i)))
			continue;
		d = virDomainLookupByName(conn, l->name);
		if (!d) {
			if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
				lost_to_other(l, i);
			continue;
		}
		if (!virDomainGetUUIDString(d, uuid) && !strcmp(uuid, l->uuid))
			ok++;
		else if (uuid[0])
			lost_to_other(l, i);
		virDomainFree(d);
	}
	if (atomic_load(&l->lost))
		return lost_error(l, err);
	if (ok * 2 <= l->c->n_hosts)
		return err_set_kind(err, ERR_LEASE_LOST, "lease of cluster '%s' lost: its token was read back from only "
			       "%zu of %zu hosts, a majority is needed", l->c->name, ok, l->c->n_hosts);
	if (lost_by_age(l, lease_clock_ms()))
		return lost_error(l, err);
	return 0;
}

/* ---- renewal ---- */

/* 0 renewed, -1 not this time (host silent), 1 lost (marked). */
static int renew_host(struct lease *l, size_t host, long counter)
{
	virConnectPtr conn = live_conn(l, host);
	const char *hn = l->c->hosts[host].name;
	struct strbuf sb = STRBUF_INIT;
	virDomainPtr d = NULL;
	char *xml = NULL;
	long seen;
	int ret = -1;

	if (!conn)
		goto out;
	/* by UUID: a lease that is gone is never defined again */
	d = virDomainLookupByUUIDString(conn, l->uuid);
	if (!d) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
			lost_to_other(l, host);
			ret = 1;
		}
		goto out;
	}
	xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS,
				   VIR_DOMAIN_AFFECT_CONFIG);
	if (!xml) {
		int code = virGetLastErrorCode();
		if (code == VIR_ERR_NO_DOMAIN)
			lost_to_other(l, host);
		else if (code == VIR_ERR_NO_DOMAIN_METADATA)
			mark_lost(l, "its lease on host '%s' lost its metadata", hn);
		ret = code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_NO_DOMAIN_METADATA ? 1 : -1;
		goto out;
	}
	/* the generation: only what this holder wrote last may be there */
	seen = (long)meta_int(xml, "counter");
	if (seen != l->written[host] && seen != l->tried[host]) {
		mark_lost(l, "its lease on host '%s' has counter %ld, this holder wrote %ld",
			  hn, seen, l->written[host]);
		ret = 1;
		goto out;
	}
	l->tried[host] = counter;
	lease_meta(&sb, l, counter, "");
	if (virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, sb.buf, VEM_META_PREFIX,
				 VEM_META_NS, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
			lost_to_other(l, host);
			ret = 1;
		}
		goto out;
	}
	l->written[host] = counter;
	ret = 0;
out:
	strbuf_release(&sb);
	free(xml);
	if (d)
		virDomainFree(d);
	return ret;
}

static void renew_round(struct lease *l)
{
	int64_t t0 = lease_clock_ms(), t1;
	size_t ok = 0;
	long counter;

	if (lost_by_age(l, t0))
		return;
	counter = ++l->counter;
	for (size_t i = 0; i < l->n; i++) {
		int r;
		if (!l->held[i])
			continue;
		r = renew_host(l, i, counter);
		if (r > 0)
			return;
		if (!r)
			ok++;
	}
	t1 = lease_clock_ms();
	/* a round counts only when all its writes landed within the margin */
	if (ok * 2 > l->c->n_hosts && t1 - t0 <= l->margin && !atomic_load(&l->lost)) {
		atomic_store(&l->last_ok, t0);
		atomic_fetch_add(&l->renewals, 1);
	}
}

static void *renew_thread(void *arg)
{
	struct lease *l = arg;

	pthread_mutex_lock(&l->lock);
	while (!l->stop && !atomic_load(&l->lost)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += l->interval / 1000;
		ts.tv_nsec += (l->interval % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!l->stop && pthread_cond_timedwait(&l->cond, &l->lock, &ts) == 0)
			;
		if (l->stop)
			break;
		if (l->paused)
			continue;
		pthread_mutex_unlock(&l->lock);
		renew_round(l);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

void lease_pause_renewal(struct lease *l, bool paused)
{
	pthread_mutex_lock(&l->lock);
	l->paused = paused;
	pthread_mutex_unlock(&l->lock);
}

long lease_renewals(const struct lease *l)
{
	return atomic_load(&l->renewals);
}

/* ---- acquire and release ---- */

/* Order of hosts by name, so that every process takes them in one order. */
static int cmp_host(const void *a, const void *b, void *arg)
{
	const struct cluster *c = arg;
	return strcmp(c->hosts[*(const size_t *)a].name, c->hosts[*(const size_t *)b].name);
}

/* What a waiter saw of a host's lease, on its own monotonic clock. */
struct seen {
	char uuid[VIR_UUID_STRING_BUFLEN];
	long counter;
	int64_t since_mono;
};

/* Note h; how long (ms) it has been unchanged. */
static int64_t seen_note(struct seen *s, const struct lease_holder *h)
{
	int64_t now = time_mono_ms();
	if (strcmp(s->uuid, h->uuid) || s->counter != h->counter) {
		snprintf(s->uuid, sizeof(s->uuid), "%s", h->uuid);
		s->counter = h->counter;
		s->since_mono = now;
	}
	return now - s->since_mono;
}

static void token_new(char out[VIR_UUID_STRING_BUFLEN])
{
	unsigned char raw[VIR_UUID_BUFLEN];
	FILE *f = fopen("/dev/urandom", "re");

	if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)(rand() ^ getpid() ^ time_now_ms() >> (i % 8));
	}
	if (f)
		fclose(f);
	raw[6] = (raw[6] & 0x0f) | 0x40;
	raw[8] = (raw[8] & 0x3f) | 0x80;
	snprintf(out, VIR_UUID_STRING_BUFLEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8],
		 raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]);
}

static struct lease *lease_new(struct hv_session *s, const struct cluster *c,
			       const struct lease_options *opt)
{
	struct lease *l = xcalloc(1, sizeof(*l));
	struct passwd *pw = getpwuid(getuid());
	pthread_condattr_t ca;

	l->s = s;
	l->c = c;
	l->n = c->n_hosts;
	l->held = xcalloc(l->n + 1, sizeof(*l->held));
	l->written = xcalloc(l->n + 1, sizeof(*l->written));
	l->tried = xcalloc(l->n + 1, sizeof(*l->tried));
	l->ttl = opt->ttl > 0 ? opt->ttl : 30000;
	l->margin = l->ttl / 4;
	l->interval = l->ttl / 5 > 0 ? l->ttl / 5 : 1;
	l->progress = opt->progress;
	l->name = xasprintf(LEASE_PREFIX "%s", c->name);
	gethostname(l->hostname, sizeof(l->hostname) - 1);
	lease_identity_self(&l->self);
	l->holder = xasprintf("%s@%s pid %ld", pw ? pw->pw_name : "?", l->hostname, l->self.pid);
	l->since = time_now_ms();
	token_new(l->uuid);
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	return l;
}

/* The lease on one host, in one pass: 0 held, 1 blocked (*blocker filled),
 * -1 not answering. */
static int take_host(struct lease *l, size_t i, struct seen *seen, struct lease_holder *blocker)
{
	for (int tries = 0; tries < 5; tries++) {
		struct lease_holder h;
		int64_t ttl, age;
		int r;

		if (!define_lease(l, i, l->counter)) {
			l->held[i] = true;
			l->written[i] = l->tried[i] = l->counter;
			return 0;
		}
		r = lease_holder_read(hv_conn(l->s, i), l->c->name, &h);
		if (r == 1)
			continue;       /* it vanished between our define and the lookup */
		if (r < 0)
			return -1;
		if (!strcmp(h.uuid, l->uuid)) {
			/* defined by us after all (the answer was lost) */
			l->held[i] = true;
			lease_holder_release(&h);
			return 0;
		}
		/* someone else's: alive? a holder's own ttl counts when longer */
		ttl = h.ttl > l->ttl ? h.ttl : l->ttl;
		age = seen_note(&seen[i], &h);
		if (lease_identity_gone(&l->self, &h.id) || age >= ttl) {
			remove_by_uuid(l, i, h.uuid);
			lease_holder_release(&h);
			continue;
		}
		*blocker = h;
		return 1;
	}
	return -1;
}

struct lease *lease_acquire(struct hv_session *s, const struct cluster *c,
			    const struct lease_options *opt, struct errbuf *err)
{
	struct lease *l = lease_new(s, c, opt);
	size_t *order = xcalloc(c->n_hosts + 1, sizeof(*order));
	struct seen *seen = xcalloc(c->n_hosts + 1, sizeof(*seen));
	int64_t deadline = time_mono_ms() + opt->wait;
	bool announced = false;
	char tb[32];

	for (size_t i = 0; i < c->n_hosts; i++)
		order[i] = i;
	qsort_r(order, c->n_hosts, sizeof(*order), cmp_host, (void *)c);

	for (;;) {
		int64_t pass_start = lease_clock_ms();
		size_t got = 0, online = 0;
		struct lease_holder blocker;
		long blocked_on = -1;

		memset(&blocker, 0, sizeof(blocker));
		for (size_t k = 0; k < c->n_hosts; k++) {
			size_t i = order[k];
			struct lease_holder h;
			int r;

			if (!hv_host_online(s, i))
				continue;
			if (blocked_on >= 0) {
				/* keep watching the rest, so that a dead holder's
				 * leases all expire one ttl from now, not one after
				 * the other */
				if (!lease_holder_read(hv_conn(s, i), c->name, &h))
					seen_note(&seen[i], &h);
				lease_holder_release(&h);
				continue;
			}
			r = take_host(l, i, seen, &h);
			if (r < 0)
				continue;
			online++;
			if (!r) {
				got++;
				continue;
			}
			blocker = h;
			blocked_on = (long)i;
		}
		if (blocked_on < 0 && got * 2 > c->n_hosts) {
			atomic_store(&l->last_ok, pass_start);
			if (!pthread_create(&l->renewer, NULL, renew_thread, l))
				l->renewing = true;
			free(order);
			free(seen);
			return l;
		}
		release_held(l);
		if (blocked_on < 0) {
			err_set(err, "cannot take the lease of cluster '%s': only %zu of %zu hosts "
				"reachable, a majority is needed", c->name, online, c->n_hosts);
			break;
		}
		if (time_mono_ms() >= deadline) {
			err_set_kind(err, ERR_LEASE_HELD, "cluster '%s' is busy: its lease is held by %s since %s (on host '%s')",
				c->name, blocker.holder, format_time_utc(blocker.since, tb),
				c->hosts[blocked_on].name);
			lease_holder_release(&blocker);
			break;
		}
		if (!announced && opt->progress) {
			fprintf(opt->progress, "waiting for the lease of cluster '%s' held by %s since %s\n",
				c->name, blocker.holder, format_time_utc(blocker.since, tb));
			announced = true;
		}
		lease_holder_release(&blocker);
		usleep(200 * 1000);
	}
	free(order);
	free(seen);
	lease_release(l);
	return NULL;
}

/* A lease whose renewal thread is stuck: still in use by that thread. */
static struct lease *volatile left_behind;

void lease_release(struct lease *l)
{
	if (!l)
		return;
	if (l->renewing) {
		struct timespec ts;
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_cond_broadcast(&l->cond);
		pthread_mutex_unlock(&l->lock);
		/*
		 * A renewal stuck in a call to a host that went silent (libvirt
		 * can lose the wakeup when keepalive closes a connection under a
		 * waiting call) must not hold vem forever: after 10 s the thread
		 * is left behind with the lease, which the process exit ends.
		 */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 10;
		if (pthread_clockjoin_np(l->renewer, NULL, CLOCK_MONOTONIC, &ts)) {
			fprintf(stderr, "vem: the lease renewal is stuck on a silent host; leaving it behind\n");
			left_behind = l;
			return;
		}
	}
	release_held(l);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l->held);
	free(l->written);
	free(l->tried);
	free(l->name);
	free(l->holder);
	free(l);
}
