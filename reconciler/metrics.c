/*
 * metrics.c - the loop's Prometheus metrics (see metrics.h): the values,
 * their exposition, the textfile and the /metrics server.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define N_KINDS (ACT_MIGRATE + 1)
#define MAX_REQUEST 4096
#define REQUEST_TIME_MS 2000

static const double buckets[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
#define N_BUCKETS ARRAY_SIZE(buckets)

/* A counter or gauge with one label value. */
struct named {
	char *name;
	double v;
};

struct host_metrics {
	char *name;
	double up;                 /* 1 or 0 */
	double mem_committed, cpu_committed, cpu_measured;   /* ratios; measured < 0 unknown */
	double vms;
};

struct metrics {
	pthread_mutex_t lock;
	/* reconcile rounds */
	uint64_t bucket[N_BUCKETS];        /* cumulative counts are made when rendering */
	uint64_t rounds;
	double round_sum;
	struct named *results;             /* rounds by result */
	size_t n_results;
	double last_success;               /* seconds since the epoch, 0 never */
	/* actions */
	uint64_t actions[N_KINDS][2];      /* [kind][ok] */
	uint64_t migrations;
	uint64_t bytes_moved;
	/* events and reconnects */
	struct named *events;
	size_t n_events;
	struct named *reconnects;
	size_t n_reconnects;
	/* the last observation */
	bool observed;
	double drift, held, score;
	double by_state[DOM_OTHER + 1];
	struct host_metrics *hosts;
	size_t n_hosts;
	char *cluster, *revision;
	char *lease_holder;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void named_free(struct named *n, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(n[i].name);
	free(n);
}

static void hosts_free(struct metrics *m)
{
	for (size_t i = 0; i < m->n_hosts; i++)
		free(m->hosts[i].name);
	free(m->hosts);
	m->hosts = NULL;
	m->n_hosts = 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	named_free(m->results, m->n_results);
	named_free(m->events, m->n_events);
	named_free(m->reconnects, m->n_reconnects);
	hosts_free(m);
	free(m->cluster);
	free(m->revision);
	free(m->lease_holder);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Add v to the entry named name (lock held); bounded: at most 64 names. */
static void named_add(struct named **list, size_t *n, const char *name, double v)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i].name, name)) {
			(*list)[i].v += v;
			return;
		}
	if (*n >= 64)
		return;
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[*n].name = xstrdup(name);
	(*list)[*n].v = v;
	(*n)++;
}

void metrics_round(struct metrics *m, double seconds, const char *result, bool success)
{
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= buckets[i]) {
			m->bucket[i]++;
			break;
		}
	m->rounds++;
	m->round_sum += seconds;
	named_add(&m->results, &m->n_results, result, 1);
	if (success)
		m->last_success = (double)time_now_ms() / 1000.0;
	pthread_mutex_unlock(&m->lock);
}

void metrics_action(struct metrics *m, enum act_kind kind, bool ok, uint64_t bytes)
{
	if ((size_t)kind >= N_KINDS)
		return;
	pthread_mutex_lock(&m->lock);
	m->actions[kind][ok ? 1 : 0]++;
	if (kind == ACT_MIGRATE && ok) {
		m->migrations++;
		m->bytes_moved += bytes;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_event(struct metrics *m, const char *kind)
{
	pthread_mutex_lock(&m->lock);
	named_add(&m->events, &m->n_events, kind, 1);
	pthread_mutex_unlock(&m->lock);
}

void metrics_reconnect(struct metrics *m, const char *host)
{
	pthread_mutex_lock(&m->lock);
	named_add(&m->reconnects, &m->n_reconnects, host, 1);
	pthread_mutex_unlock(&m->lock);
}

void metrics_lease(struct metrics *m, const char *holder)
{
	pthread_mutex_lock(&m->lock);
	free(m->lease_holder);
	m->lease_holder = xstrdup(holder);
	pthread_mutex_unlock(&m->lock);
}

void metrics_observed(struct metrics *m, const struct cluster *c, const struct observed *o,
		      const struct plan *p)
{
	pthread_mutex_lock(&m->lock);
	m->observed = true;
	m->drift = (double)plan_changes(p);
	m->held = (double)plan_held(p);
	m->score = p->score;
	memset(m->by_state, 0, sizeof(m->by_state));
	hosts_free(m);
	m->hosts = xcalloc(o->n_hosts + 1, sizeof(*m->hosts));
	m->n_hosts = o->n_hosts;
	for (size_t i = 0; i < o->n_hosts; i++) {
		m->hosts[i].name = xstrdup(o->hosts[i].name);
		m->hosts[i].up = o->hosts[i].online ? 1 : 0;
		m->hosts[i].cpu_measured = o->hosts[i].online ? 0 : -1;
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		struct host_metrics *h;
		const struct obs_host *oh;
		if (d->owned && (size_t)d->state <= DOM_OTHER)
			m->by_state[d->state]++;
		if (d->host >= o->n_hosts)
			continue;
		h = &m->hosts[d->host];
		oh = &o->hosts[d->host];
		if (d->owned)
			h->vms++;
		/* every domain counts as load, vem's or not, when it runs */
		if (d->state != DOM_RUNNING && d->state != DOM_PAUSED)
			continue;
		if (oh->memory)
			h->mem_committed += (double)d->memory / (double)oh->memory;
		if (oh->cpus > 0) {
			h->cpu_committed += (double)d->vcpus / oh->cpus;
			if (d->cpu_load >= 0 && h->cpu_measured >= 0)
				h->cpu_measured += d->cpu_load / oh->cpus;
			else if (d->cpu_load < 0)
				h->cpu_measured = -1;
		}
	}
	free(m->cluster);
	m->cluster = xstrdup(c->name);
	free(m->revision);
	m->revision = xstrdup(c->revision);
	pthread_mutex_unlock(&m->lock);
}

/* ---- exposition ---- */

static void label_value(struct strbuf *sb, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\')
			strbuf_adds(sb, "\\\\");
		else if (*v == '"')
			strbuf_adds(sb, "\\\"");
		else if (*v == '\n')
			strbuf_adds(sb, "\\n");
		else
			strbuf_addc(sb, *v);
	}
}

static void family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void number(struct strbuf *sb, double v)
{
	if (v == (double)(int64_t)v && v < 1e15 && v > -1e15)
		strbuf_addf(sb, " %lld\n", (long long)v);
	else
		strbuf_addf(sb, " %.17g\n", v);
}

/* name{label="value"} v */
static void sample1(struct strbuf *sb, const char *name, const char *label, const char *value,
		    double v)
{
	strbuf_addf(sb, "%s{%s=\"", name, label);
	label_value(sb, value);
	strbuf_adds(sb, "\"}");
	number(sb, v);
}

/* A family of one sample without labels. */
static void single(struct strbuf *sb, const char *name, const char *type, const char *help,
		   double v)
{
	family(sb, name, type, help);
	strbuf_adds(sb, name);
	number(sb, v);
}

/* A gauge per host: the double at offset off of struct host_metrics (a
 * negative value is left out: not measured). */
static void per_host(struct strbuf *sb, const struct metrics *m, const char *name,
		     const char *help, size_t off)
{
	family(sb, name, "gauge", help);
	for (size_t i = 0; i < m->n_hosts; i++) {
		double v = *(const double *)((const char *)&m->hosts[i] + off);
		if (v >= 0)
			sample1(sb, name, "host", m->hosts[i].name, v);
	}
}

void metrics_render(struct metrics *m, struct strbuf *sb)
{
	uint64_t cum = 0;

	pthread_mutex_lock(&m->lock);
	family(sb, "vem_build_info", "gauge", "vem's version (value 1).");
	sample1(sb, "vem_build_info", "version", VEM_VERSION, 1);

	family(sb, "vem_reconcile_duration_seconds", "histogram",
	       "Time one reconcile round took (load, observe, plan, act).");
	for (size_t i = 0; i < N_BUCKETS; i++) {
		char le[32];
		cum += m->bucket[i];
		snprintf(le, sizeof(le), "%g", buckets[i]);
		sample1(sb, "vem_reconcile_duration_seconds_bucket", "le", le, (double)cum);
	}
	sample1(sb, "vem_reconcile_duration_seconds_bucket", "le", "+Inf", (double)m->rounds);
	strbuf_adds(sb, "vem_reconcile_duration_seconds_sum");
	number(sb, m->round_sum);
	strbuf_adds(sb, "vem_reconcile_duration_seconds_count");
	number(sb, (double)m->rounds);

	family(sb, "vem_reconcile_rounds_total", "counter", "Reconcile rounds by result.");
	for (size_t i = 0; i < m->n_results; i++)
		sample1(sb, "vem_reconcile_rounds_total", "result", m->results[i].name,
			m->results[i].v);

	single(sb, "vem_last_success_timestamp_seconds", "gauge",
	       "When a round last ended converged (seconds since the epoch; 0 never).",
	       m->last_success);

	family(sb, "vem_actions_total", "counter", "Actions carried out, by kind and result.");
	for (int k = 0; k < N_KINDS; k++)
		for (int ok = 1; ok >= 0; ok--) {
			strbuf_addf(sb, "vem_actions_total{kind=\"%s\",result=\"%s\"}",
				    act_kind_name((enum act_kind)k), ok ? "ok" : "failed");
			number(sb, (double)m->actions[k][ok]);
		}

	single(sb, "vem_migrations_total", "counter", "Live migrations that succeeded.",
	       (double)m->migrations);
	single(sb, "vem_migrated_bytes_total", "counter",
	       "Bytes moved by successful live migrations (memory and host-local disks, as planned).",
	       (double)m->bytes_moved);

	family(sb, "vem_libvirt_events_total", "counter", "libvirt domain events received, by kind.");
	for (size_t i = 0; i < m->n_events; i++)
		sample1(sb, "vem_libvirt_events_total", "kind", m->events[i].name, m->events[i].v);

	family(sb, "vem_host_reconnects_total", "counter",
	       "Connections to a host made again after it dropped.");
	for (size_t i = 0; i < m->n_reconnects; i++)
		sample1(sb, "vem_host_reconnects_total", "host", m->reconnects[i].name,
			m->reconnects[i].v);

	if (m->observed) {
		single(sb, "vem_drift_changes", "gauge",
		       "Changes the last round's first plan needed (0: no drift).", m->drift);
		single(sb, "vem_held_changes", "gauge",
		       "Changes the cluster file asks for that the last plan held back.", m->held);
		single(sb, "vem_imbalance_score", "gauge", "Imbalance score of the cluster (0: even).",
		       m->score);
		family(sb, "vem_vms", "gauge", "vem's VMs by observed state.");
		for (int s = 0; s <= DOM_OTHER; s++)
			sample1(sb, "vem_vms", "state", dom_state_name((enum dom_state)s), m->by_state[s]);
		per_host(sb, m, "vem_host_up", "Whether the host answered in the last round.",
			 offsetof(struct host_metrics, up));
		per_host(sb, m, "vem_host_vms", "vem's VMs defined on the host.",
			 offsetof(struct host_metrics, vms));
		per_host(sb, m, "vem_host_memory_committed_ratio",
			 "Memory of running domains over the host's memory capacity.",
			 offsetof(struct host_metrics, mem_committed));
		per_host(sb, m, "vem_host_cpu_committed_ratio",
			 "vCPUs of running domains over the host's CPUs.",
			 offsetof(struct host_metrics, cpu_committed));
		per_host(sb, m, "vem_host_cpu_utilisation_ratio",
			 "Measured CPU load of the host's domains over its CPUs (absent: not measured).",
			 offsetof(struct host_metrics, cpu_measured));
		family(sb, "vem_source_info", "gauge",
		       "The cluster and source revision of the last round (value 1).");
		strbuf_adds(sb, "vem_source_info{cluster=\"");
		label_value(sb, m->cluster);
		strbuf_adds(sb, "\",revision=\"");
		label_value(sb, m->revision ? m->revision : "");
		strbuf_adds(sb, "\"} 1\n");
	}
	if (m->lease_holder) {
		family(sb, "vem_lease_holder_info", "gauge",
		       "Who held the cluster's lease in the last round (value 1).");
		sample1(sb, "vem_lease_holder_info", "holder", m->lease_holder, 1);
	}
	pthread_mutex_unlock(&m->lock);
}

int metrics_write_file(struct metrics *m, const char *path, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	char *tmp = xasprintf("%s.%d.tmp", path, (int)getpid());
	FILE *f;
	int rc = -1;

	metrics_render(m, &sb);
	f = fopen(tmp, "w");
	if (!f) {
		err_set(err, "cannot write the metrics file '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (fwrite(sb.buf, 1, sb.len, f) != sb.len || fflush(f) || fsync(fileno(f))) {
		err_set(err, "cannot write the metrics file '%s': %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) || rename(tmp, path)) {
		err_set(err, "cannot write the metrics file '%s': %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	strbuf_release(&sb);
	return rc;
}

/* ---- the server ---- */

struct metrics_server {
	struct metrics *m;
	int fd;
	int port;
	pthread_t thread;
	volatile int stop;
};

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, len);
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

/* Read the request head (bounded in size and time) and answer it. */
static void serve_one(struct metrics_server *srv, int fd)
{
	char req[MAX_REQUEST + 1];
	size_t len = 0;
	int64_t end = time_mono_ms() + REQUEST_TIME_MS;
	const char *path;
	size_t plen;

	while (len < MAX_REQUEST && !memmem(req, len, "\r\n\r\n", 4) && !memmem(req, len, "\n\n", 2)) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = end - time_mono_ms();
		ssize_t n;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;     /* too slow: drop it */
		n = recv(fd, req + len, MAX_REQUEST - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
	}
	req[len] = '\0';
	if (!memmem(req, len, "\r\n\r\n", 4) && !memmem(req, len, "\n\n", 2)) {
		const char *b = "request too large\n";
		respond(fd, "431 Request Header Fields Too Large", "text/plain", b, strlen(b));
		return;
	}
	if (strncmp(req, "GET ", 4) && strncmp(req, "HEAD ", 5)) {
		const char *b = "only GET /metrics\n";
		respond(fd, "405 Method Not Allowed", "text/plain", b, strlen(b));
		return;
	}
	path = strchr(req, ' ') + 1;
	plen = strcspn(path, " \r\n");
	if ((plen == 8 && !strncmp(path, "/metrics", 8)) ||
	    (plen > 8 && !strncmp(path, "/metrics?", 9))) {
		struct strbuf sb = STRBUF_INIT;
		metrics_render(srv->m, &sb);
		if (!strncmp(req, "HEAD ", 5)) {
			respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", 0);
		} else {
			respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", sb.buf, sb.len);
		}
		strbuf_release(&sb);
		return;
	}
	{
		const char *b = "not found: vem serves /metrics only\n";
		respond(fd, "404 Not Found", "text/plain", b, strlen(b));
	}
}

static void *server_thread(void *arg)
{
	struct metrics_server *srv = arg;

	while (!srv->stop) {
		struct pollfd p = { srv->fd, POLLIN, 0 };
		int fd;
		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept(srv->fd, NULL, NULL);
		if (fd < 0)
			continue;
		serve_one(srv, fd);
		close(fd);
	}
	return NULL;
}

/* "ADDR:PORT", "[ADDR]:PORT", ":PORT" -> host (NULL = any) and port */
static int split_listen(const char *listen, char **host, char **port)
{
	const char *colon;

	*host = *port = NULL;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			return -1;
		*host = xstrndup(listen + 1, (size_t)(close - listen - 1));
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -1;
		if (colon > listen)
			*host = xstrndup(listen, (size_t)(colon - listen));
	}
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5) {
		free(*host);
		*host = NULL;
		return -1;
	}
	*port = xstrdup(colon + 1);
	return 0;
}

struct metrics_server *metrics_server_start(struct metrics *m, const char *listen_at,
					    struct errbuf *err)
{
	struct addrinfo hints, *res = NULL;
	struct metrics_server *srv = NULL;
	char *host, *port;
	int fd = -1, on = 1, rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (split_listen(listen_at, &host, &port)) {
		err_set(err, "'%s': expected ADDR:PORT, [ADDR]:PORT or :PORT", listen_at);
		return NULL;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		err_set(err, "'%s': %s", listen_at, gai_strerror(rc));
		goto out;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 16)) {
		err_set(err, "cannot listen on '%s': %s", listen_at, strerror(errno));
		goto out;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->m = m;
	srv->fd = fd;
	if (!getsockname(fd, (struct sockaddr *)&ss, &sl))
		srv->port = ntohs(ss.ss_family == AF_INET6 ?
				  ((struct sockaddr_in6 *)&ss)->sin6_port :
				  ((struct sockaddr_in *)&ss)->sin_port);
	if (pthread_create(&srv->thread, NULL, server_thread, srv)) {
		err_set(err, "cannot start the metrics server thread");
		free(srv);
		srv = NULL;
		goto out;
	}
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return srv;
}

int metrics_server_port(const struct metrics_server *srv)
{
	return srv ? srv->port : 0;
}

void metrics_server_stop(struct metrics_server *srv)
{
	if (!srv)
		return;
	srv->stop = 1;
	pthread_join(srv->thread, NULL);
	close(srv->fd);
	free(srv);
}
