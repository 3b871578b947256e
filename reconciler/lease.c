/*
 * lease.c - one writer per cluster, through libvirt.
 *
 * The lease is an inactive persistent domain "vem-lease-CLUSTER" on each
 * host, never started, whose metadata names its holder. Defining it with a
 * fresh UUID is the compare-and-set: libvirt refuses to define a name that
 * exists with another UUID, so one process wins. The holder redefines it
 * (same UUID, counter + 1) every ttl/3 from a thread. A waiter that sees the
 * counter unchanged for ttl on its own clock takes the lease as dead and
 * removes it by UUID (two waiters cannot both remove a fresh one); a holder
 * on this machine whose process is gone is dead at once. The lease is held
 * on a majority of the cluster's hosts, taken in host-name order.
 */
#include "lease.h"
#include "../hv/hv_priv.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *name;
	char *holder;
	char hostname[256];
	int64_t since;
	long counter;
	bool *held;                 /* per host */
	size_t n;
	pthread_t renewer;
	bool renewing;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	int64_t ttl;
};

struct holder_info {
	char *holder, *hostname;
	long pid, counter;
	int64_t since;
	char uuid[VIR_UUID_STRING_BUFLEN];
};

static void holder_release(struct holder_info *h)
{
	free(h->holder);
	free(h->hostname);
	memset(h, 0, sizeof(*h));
}

static char *tag_text(const char *xml, const char *tag)
{
	char open[64];
	const char *p, *e;
	snprintf(open, sizeof(open), "%s>", tag);
	for (p = xml; (p = strstr(p, open)); p += strlen(open)) {
		if (p > xml && (p[-1] == '<' || p[-1] == ':') && (p[-1] != ':' || strchr(xml, '<'))) {
			const char *lt = p - 1;
			while (lt > xml && *lt != '<')
				lt--;
			if (lt[1] == '/')
				continue;
			e = strstr(p + strlen(open), "</");
			if (!e)
				return NULL;
			return xstrndup(p + strlen(open), (size_t)(e - p - strlen(open)));
		}
	}
	return NULL;
}

static long tag_long(const char *xml, const char *tag)
{
	char *t = tag_text(xml, tag);
	int64_t v = 0;
	if (!t || parse_int64(t, &v))
		v = 0;
	free(t);
	return (long)v;
}

static const char *domain_type(unsigned caps, const char **os)
{
	if (caps & ((1u << HV_QEMU) | (1u << HV_KVM))) {
		*os = "<type arch='x86_64'>hvm</type>";
		return caps & (1u << HV_QEMU) ? "qemu" : "kvm";
	}
	if (caps & (1u << HV_XEN)) {
		*os = "<type>xen</type><kernel>/dev/null</kernel>";
		return "xen";
	}
	*os = "<type>exe</type><init>/bin/true</init>";
	return "lxc";
}

static char *lease_xml(struct lease *l, size_t host)
{
	const char *os;
	const char *type = domain_type(l->s->hosts[host].caps, &os);
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "<domain type='%s'>\n  <name>", type);
	strbuf_add_xml(&sb, l->name);
	strbuf_addf(&sb, "</name>\n  <uuid>%s</uuid>\n  <title>vem lease: do not start</title>\n"
		    "  <metadata>\n    <vem:lease xmlns:vem='" VEM_META_NS "'>\n      <vem:holder>",
		    l->uuid);
	strbuf_add_xml(&sb, l->holder);
	strbuf_adds(&sb, "</vem:holder>\n      <vem:hostname>");
	strbuf_add_xml(&sb, l->hostname);
	strbuf_addf(&sb, "</vem:hostname>\n      <vem:pid>%ld</vem:pid>\n      <vem:since>%lld</vem:since>\n"
		    "      <vem:counter>%ld</vem:counter>\n    </vem:lease>\n  </metadata>\n"
		    "  <memory unit='KiB'>1024</memory>\n  <vcpu>1</vcpu>\n  <os>%s</os>\n</domain>\n",
		    (long)getpid(), (long long)l->since, l->counter, os);
	return strbuf_detach(&sb, NULL);
}

/* Who holds the lease on host; 0 when someone does, -1 when nobody. */
static int read_holder(struct lease *l, size_t host, struct holder_info *h)
{
	virDomainPtr d = virDomainLookupByName(l->s->hosts[host].conn, l->name);
	char *xml;

	memset(h, 0, sizeof(*h));
	if (!d)
		return -1;
	virDomainGetUUIDString(d, h->uuid);
	xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0);
	if (xml) {
		h->holder = tag_text(xml, "holder");
		h->hostname = tag_text(xml, "hostname");
		h->pid = tag_long(xml, "pid");
		h->since = tag_long(xml, "since");
		h->counter = tag_long(xml, "counter");
		free(xml);
	}
	if (!h->holder)
		h->holder = xstrdup("an unknown holder");
	virDomainFree(d);
	return 0;
}

/* A holder on this machine is dead when its process is gone, a zombie, or
 * a different program that reused its pid. */
static bool holder_dead_here(const struct lease *l, const struct holder_info *h)
{
	char path[64], comm[64] = "", state = '?';
	FILE *f;

	if (!h->hostname || strcmp(h->hostname, l->hostname) || h->pid <= 0)
		return false;
	if (kill((pid_t)h->pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", h->pid);
	f = fopen(path, "r");
	if (!f)
		return false;   /* cannot tell: let the ttl decide */
	if (fscanf(f, "%*d (%63[^)]) %c", comm, &state) != 2)
		state = '?';
	fclose(f);
	return state == 'Z' || state == 'X' || strcmp(comm, "vem");
}

/* Remove a dead lease by its UUID, so a fresh one cannot be hit. */
static void remove_by_uuid(struct lease *l, size_t host, const char *uuid)
{
	virDomainPtr d = virDomainLookupByUUIDString(l->s->hosts[host].conn, uuid);
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
}

/* A connection that keepalive gave up on: calls on it fail or, in libvirt
 * 9.0, can even wait forever, so vem leaves it alone. */
static bool conn_alive(const struct lease *l, size_t host)
{
	return virConnectIsAlive(l->s->hosts[host].conn) == 1;
}

static int define_lease(struct lease *l, size_t host)
{
	char *xml;

	if (!conn_alive(l, host))
		return -1;
	xml = lease_xml(l, host);
	virDomainPtr d = virDomainDefineXML(l->s->hosts[host].conn, xml);
	free(xml);
	if (!d)
		return -1;
	virDomainFree(d);
	return 0;
}

static void release_held(struct lease *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct holder_info h;
		if (!l->held[i])
			continue;
		if (conn_alive(l, i) && !read_holder(l, i, &h) && !strcmp(h.uuid, l->uuid))
			remove_by_uuid(l, i, l->uuid);
		holder_release(&h);
		l->held[i] = false;
	}
}

static void *renew_thread(void *arg)
{
	struct lease *l = arg;
	struct timespec ts;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		int64_t at = time_now_ms() + l->ttl / 3;
		ts.tv_sec = at / 1000;
		ts.tv_nsec = (at % 1000) * 1000000L;
		pthread_cond_timedwait(&l->cond, &l->lock, &ts);
		if (l->stop)
			break;
		l->counter++;
		pthread_mutex_unlock(&l->lock);
		for (size_t i = 0; i < l->n; i++)
			if (l->held[i])
				define_lease(l, i);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Order of hosts by name, so that every process takes them in one order. */
static int cmp_host(const void *a, const void *b, void *arg)
{
	const struct cluster *c = arg;
	return strcmp(c->hosts[*(const size_t *)a].name, c->hosts[*(const size_t *)b].name);
}

struct seen {
	char uuid[VIR_UUID_STRING_BUFLEN];
	long counter;
	int64_t since_mono;
};

struct lease *lease_acquire(struct hv_session *s, const struct cluster *c,
			    const struct lease_options *opt, struct errbuf *err)
{
	struct lease *l = xcalloc(1, sizeof(*l));
	size_t *order = xcalloc(c->n_hosts + 1, sizeof(*order));
	struct seen *seen = xcalloc(c->n_hosts + 1, sizeof(*seen));
	int64_t deadline = time_mono_ms() + opt->wait;
	struct passwd *pw = getpwuid(getuid());
	unsigned char raw[VIR_UUID_BUFLEN];
	bool announced = false;
	char tb[32];

	l->s = s;
	l->c = c;
	l->n = c->n_hosts;
	l->held = xcalloc(l->n + 1, sizeof(*l->held));
	l->ttl = opt->ttl > 0 ? opt->ttl : 30000;
	l->name = xasprintf("vem-lease-%s", c->name);
	gethostname(l->hostname, sizeof(l->hostname) - 1);
	l->holder = xasprintf("%s@%s pid %ld", pw ? pw->pw_name : "?", l->hostname, (long)getpid());
	l->since = time_now_ms();
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	{
		FILE *f = fopen("/dev/urandom", "r");
		if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
			for (size_t i = 0; i < sizeof(raw); i++)
				raw[i] = (unsigned char)(rand() ^ getpid() ^ time_now_ms() >> (i % 8));
		}
		if (f)
			fclose(f);
		raw[6] = (raw[6] & 0x0f) | 0x40;
		raw[8] = (raw[8] & 0x3f) | 0x80;
		snprintf(l->uuid, sizeof(l->uuid),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8],
			 raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]);
	}
	for (size_t i = 0; i < c->n_hosts; i++)
		order[i] = i;
	qsort_r(order, c->n_hosts, sizeof(*order), cmp_host, (void *)c);

	for (;;) {
		size_t got = 0, online = 0;
		struct holder_info blocker;
		long blocked_on = -1;

		int retries = 0;

		memset(&blocker, 0, sizeof(blocker));
		for (size_t k = 0; k < c->n_hosts; k++) {
			size_t i = order[k];
			struct holder_info h;
			if (!hv_host_online(s, i))
				continue;
			if (retries > 5) {
				/* the host keeps refusing without a holder: leave it out */
				retries = 0;
				continue;
			}
			online++;
			if (l->held[i]) {
				got++;
				continue;
			}
			if (!define_lease(l, i)) {
				/* defined: ours, unless it existed with our UUID (cannot happen) */
				l->held[i] = true;
				got++;
				continue;
			}
			if (read_holder(l, i, &h)) {
				/* it vanished between our define and the lookup: try again */
				retries++;
				k--;
				continue;
			}
			if (!strcmp(h.uuid, l->uuid)) {
				l->held[i] = true;
				got++;
				holder_release(&h);
				continue;
			}
			/* someone else's: alive? */
			if (holder_dead_here(l, &h) ||
			    (!strcmp(seen[i].uuid, h.uuid) && seen[i].counter == h.counter &&
			     time_mono_ms() - seen[i].since_mono >= l->ttl)) {
				remove_by_uuid(l, i, h.uuid);
				holder_release(&h);
				retries++;
				k--;
				continue;
			}
			if (strcmp(seen[i].uuid, h.uuid) || seen[i].counter != h.counter) {
				snprintf(seen[i].uuid, sizeof(seen[i].uuid), "%s", h.uuid);
				seen[i].counter = h.counter;
				seen[i].since_mono = time_mono_ms();
			}
			blocker = h;
			blocked_on = (long)i;
			break;
		}
		if (blocked_on < 0 && got * 2 > c->n_hosts) {
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
			err_set(err, "cluster '%s' is busy: its lease is held by %s since %s (on host '%s')",
				c->name, blocker.holder, format_time_utc(blocker.since, tb),
				c->hosts[blocked_on].name);
			holder_release(&blocker);
			break;
		}
		if (!announced && opt->progress) {
			fprintf(opt->progress, "waiting for the lease of cluster '%s' held by %s since %s\n",
				c->name, blocker.holder, format_time_utc(blocker.since, tb));
			announced = true;
		}
		holder_release(&blocker);
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
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		if (pthread_timedjoin_np(l->renewer, NULL, &ts)) {
			fprintf(stderr, "vem: the lease renewal is stuck on a silent host; leaving it behind\n");
			left_behind = l;
			return;
		}
	}
	release_held(l);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l->held);
	free(l->name);
	free(l->holder);
	free(l);
}
