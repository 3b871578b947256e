/*
 * session.c - connections to every host of a cluster, opened in parallel
 * with a bounded timeout; host facts read once per connection.
 */
#include "hv_priv.h"
#include "cache.h"
#include "util/uri.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void hv_options_default(struct hv_options *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout = 5000;
	o->shutdown_timeout = 30000;
	o->sample_window = 0;
}

static __thread char last_error[1024];

const char *hv_last_error(void)
{
	virErrorPtr e = virGetLastError();
	snprintf(last_error, sizeof(last_error), "%s",
		 e && e->message ? e->message : "unknown libvirt error");
	return last_error;
}

/* The display form of a URI: its secrets masked by util/uri.c's one rule. */
char *hv_uri_display(const char *uri)
{
	return uri_mask(uri);
}

/*
 * A connection error as one line that never shows the URI's secrets: ssh
 * and libvirt quote "user:password@host" back in their messages, and ssh's
 * multi-line warnings (host key changed) are folded into one line.
 */
char *hv_error_scrub(const char *uri, const char *msg)
{
	struct strbuf sb = STRBUF_INIT;
	char *masked;

	for (const char *q = msg; *q;) {
		size_t len = strcspn(q, "\n");
		const char *e = q + len;
		size_t lead = strspn(q, " \t");

		/* skip empty lines and banner lines of '@' */
		if (lead < len && strspn(q + lead, "@ \t\r") < len - lead) {
			if (sb.len)
				strbuf_adds(&sb, " ");
			for (const char *c = q + lead; c < e; c++)
				if (*c != '\r')
					strbuf_addc(&sb, *c);
		}
		q = *e ? e + 1 : e;
	}
	masked = uri_mask_text(sb.buf, uri);
	strbuf_release(&sb);
	return masked;
}

unsigned hv_caps_parse(const char *xml, char host_uuid[37])
{
	unsigned caps = 0;
	const char *p;
	static const struct { const char *pat; enum hv_type t; } pats[] = {
		{ "<domain type='kvm'", HV_KVM }, { "<domain type='qemu'", HV_QEMU },
		{ "<domain type='xen'", HV_XEN }, { "<domain type='lxc'", HV_LXC },
		{ "<domain type=\"kvm\"", HV_KVM }, { "<domain type=\"qemu\"", HV_QEMU },
		{ "<domain type=\"xen\"", HV_XEN }, { "<domain type=\"lxc\"", HV_LXC },
	};
	for (size_t i = 0; i < ARRAY_SIZE(pats); i++)
		if (strstr(xml, pats[i].pat))
			caps |= 1u << pats[i].t;
	/* libvirt's test:/// driver defines and "runs" domains of every type:
	 * a sandbox, and the rootless tier of the tests */
	if (strstr(xml, "<domain type='test'") || strstr(xml, "<domain type=\"test\""))
		caps |= (1u << HV_KVM) | (1u << HV_QEMU) | (1u << HV_XEN) | (1u << HV_LXC);
	host_uuid[0] = '\0';
	p = strstr(xml, "<host>");
	if (p && (p = strstr(p, "<uuid>")))
		snprintf(host_uuid, 37, "%.36s", p + 6);
	return caps;
}

/*
 * Connection attempts run in detached threads. The group they share lives
 * on the heap until the caller and every thread have let go of it, because
 * the caller may stop waiting for a slow host and return.
 */
struct attempt {
	char *uri;
	bool finished, abandoned;
	virConnectPtr conn;
	char *error;
	virNodeInfo info;
	char *caps;
	char *hostname;
};

struct connect_group {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	size_t n;
	struct attempt *att;
	int64_t transport_ms;        /* hv_transport_bound */
};

static void group_put(struct connect_group *g)
{
	bool last;
	pthread_mutex_lock(&g->lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&g->lock);
	if (!last)
		return;
	for (size_t i = 0; i < g->n; i++) {
		if (g->att[i].conn)
			virConnectClose(g->att[i].conn);
		free(g->att[i].uri);
		free(g->att[i].error);
		free(g->att[i].caps);
		free(g->att[i].hostname);
	}
	free(g->att);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static int no_prompt_auth(virConnectCredentialPtr cred, unsigned int ncred, void *opaque)
{
	(void)cred;
	(void)ncred;
	(void)opaque;
	return -1;   /* never prompt: credentials come from keys, agents or files */
}

static char *connect_uri(const char *uri)
{
	/* ssh must not ask for passwords or host keys when nobody can answer */
	if (!isatty(STDIN_FILENO) && strstr(uri, "+ssh://") && !strstr(uri, "no_tty="))
		return xasprintf("%s%cno_tty=1", uri, strchr(uri, '?') ? '&' : '?');
	return xstrdup(uri);
}

struct connect_arg {
	struct connect_group *g;
	size_t i;
};

static void *connect_thread(void *arg)
{
	struct connect_arg *ca = arg;
	struct connect_group *g = ca->g;
	struct attempt *a = &g->att[ca->i];
	static int cred_types[] = { VIR_CRED_AUTHNAME, VIR_CRED_PASSPHRASE };
	virConnectAuth auth = { cred_types, ARRAY_SIZE(cred_types), no_prompt_auth, NULL };
	char *uri;
	virConnectPtr conn;
	virNodeInfo info;
	char *caps = NULL, *hostname = NULL, *error = NULL;

	free(ca);
	pthread_mutex_lock(&g->lock);
	uri = connect_uri(a->uri);
	pthread_mutex_unlock(&g->lock);
	/* before virConnectAuthPtrDefault is read: the vem binary opens libvirt
	 * on its first call (cli/virt_load.c); it may be called again */
	virInitialize();
	conn = virConnectOpenAuth(uri, isatty(STDIN_FILENO) ? virConnectAuthPtrDefault : &auth, 0);
	memset(&info, 0, sizeof(info));
	if (!conn) {
		error = hv_error_scrub(uri, hv_last_error());
	} else {
		virConnectSetKeepAlive(conn, 5, 3);
		hv_transport_bound(g->transport_ms);
		if (virNodeGetInfo(conn, &info) < 0)
			memset(&info, 0, sizeof(info));
		caps = virConnectGetCapabilities(conn);
		hostname = virConnectGetHostname(conn);
	}
	free(uri);
	pthread_mutex_lock(&g->lock);
	a->conn = conn;
	a->error = error;
	a->info = info;
	a->caps = caps;
	a->hostname = hostname;
	a->finished = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	group_put(g);
	return NULL;
}

/*
 * libvirt's default event loop, run in a thread of its own while vem runs.
 * It carries the keepalive pings, so that a host that stops answering in
 * the middle of a run is dropped after about 15 s (5 s x 3) and its calls
 * fail, instead of hanging until TCP gives up minutes later. Stopped and
 * joined at exit, before libvirt and glib are torn down.
 */
static struct {
	pthread_t thread;
	bool running;
	volatile int stop;
} events;

static void *event_loop(void *arg)
{
	(void)arg;
	while (!events.stop)
		if (virEventRunDefaultImpl() < 0)
			usleep(100 * 1000);
	return NULL;
}

static void stop_loop(int timer, void *opaque)
{
	(void)opaque;
	virEventRemoveTimeout(timer);
	events.stop = 1;
}

static void event_loop_stop(void)
{
	if (!events.running)
		return;
	/* on the loop's next turn: frees libvirt deferred to the loop when the
	 * connections were closed may be left undone at exit, which is harmless
	 * (tests/lsan.supp) and spares every run a wait */
	virEventAddTimeout(0, stop_loop, NULL, NULL);
	pthread_join(events.thread, NULL);
	events.running = false;
}

static void event_loop_start(void)
{
	/* a libvirt client ignores SIGPIPE: a write on a connection the kernel
	 * reset (hv_transport_bound) must fail the call, not end vem */
	signal(SIGPIPE, SIG_IGN);
	if (virEventRegisterDefaultImpl() < 0)
		return;
	if (pthread_create(&events.thread, NULL, event_loop, NULL))
		return;
	events.running = true;
	atexit(event_loop_stop);
}

struct hv_session *hv_session_open(const struct cluster *c, const struct hv_options *opt)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct hv_session *s = xcalloc(1, sizeof(*s));
	struct connect_group *g = xcalloc(1, sizeof(*g));
	pthread_condattr_t cattr;
	struct timespec deadline;

	pthread_once(&once, event_loop_start);
	s->c = c;
	s->opt = *opt;
	s->n = c->n_hosts;
	s->hosts = xcalloc(s->n + 1, sizeof(*s->hosts));
	pthread_mutex_init(&s->cache_lock, NULL);

	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	g->n = s->n;
	g->att = xcalloc(s->n + 1, sizeof(*g->att));
	g->refs = 1;
	g->transport_ms = opt->connect_timeout > HV_TRANSPORT_MIN_MS ? opt->connect_timeout :
			  HV_TRANSPORT_MIN_MS;

	for (size_t i = 0; i < s->n; i++) {
		pthread_t th;
		pthread_attr_t attr;
		struct connect_arg *ca = xmalloc(sizeof(*ca));
		s->hosts[i].idx = i;
		s->hosts[i].spec = &c->hosts[i];
		g->att[i].uri = xstrdup(c->hosts[i].uri);
		ca->g = g;
		ca->i = i;
		pthread_mutex_lock(&g->lock);
		g->refs++;
		pthread_mutex_unlock(&g->lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, connect_thread, ca)) {
			free(ca);
			pthread_mutex_lock(&g->lock);
			g->refs--;
			g->att[i].error = xstrdup("cannot start a thread");
			g->att[i].finished = true;
			pthread_mutex_unlock(&g->lock);
		}
		pthread_attr_destroy(&attr);
	}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += opt->connect_timeout / 1000;
	deadline.tv_nsec += (opt->connect_timeout % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->lock);
	for (;;) {
		bool all = true;
		for (size_t i = 0; i < s->n; i++)
			all = all && g->att[i].finished;
		if (all || pthread_cond_timedwait(&g->cond, &g->lock, &deadline))
			break;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct attempt *a = &g->att[i];
		struct hv_host *h = &s->hosts[i];
		char *shown = hv_uri_display(c->hosts[i].uri);
		if (!a->finished) {
			char b[32];
			a->abandoned = true;
			h->error = xasprintf("no answer from %s within %s", shown,
					     format_duration(opt->connect_timeout, b));
		} else if (!a->conn) {
			h->error = xasprintf("cannot connect to %s: %s", shown, a->error);
		} else {
			h->conn = a->conn;
			a->conn = NULL;
			h->online = true;
			h->cpus = (int)a->info.cpus;
			h->memory = (uint64_t)a->info.memory * 1024;
			h->caps = a->caps ? hv_caps_parse(a->caps, h->host_uuid) : 0;
			h->hostname = xstrdup(a->hostname);
		}
		free(shown);
	}
	pthread_mutex_unlock(&g->lock);
	group_put(g);
	return s;
}

void hv_session_free(struct hv_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->hosts[i].conn)
			virConnectClose(s->hosts[i].conn);
		free(s->hosts[i].error);
		free(s->hosts[i].hostname);
	}
	free(s->hosts);
	if (s->cache)
		meta_cache_free(s->cache);
	pthread_mutex_destroy(&s->cache_lock);
	free(s);
}

bool hv_host_online(const struct hv_session *s, size_t host)
{
	return host < s->n && s->hosts[host].online;
}

const char *hv_host_error(const struct hv_session *s, size_t host)
{
	return host < s->n ? s->hosts[host].error : "no such host";
}

void *hv_conn(struct hv_session *s, size_t host)
{
	return host < s->n && s->hosts[host].online ? s->hosts[host].conn : NULL;
}

unsigned hv_host_caps(const struct hv_session *s, size_t host)
{
	return host < s->n && s->hosts[host].online ? s->hosts[host].caps : 0;
}

int hv_session_rebind(struct hv_session *s, const struct cluster *c)
{
	if (c->n_hosts != s->n)
		return -1;
	s->c = c;
	for (size_t i = 0; i < s->n; i++)
		s->hosts[i].spec = &c->hosts[i];
	return 0;
}
