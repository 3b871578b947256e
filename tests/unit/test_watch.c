/*
 * Unit tests of the long-running mode's parts: Prometheus metrics (values,
 * exposition checked by `promtool check metrics`, the /metrics server and
 * its bounds), structured events (JSON lines, masked webhook URLs) and
 * libvirt domain events on the test:/// driver.
 */
#include "test.h"
#include "fixtures.h"
#include "hv/events.h"
#include "hv/hv_priv.h"
#include "reconciler/metrics.h"
#include "util/eventlog.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *CLUSTER =
	"cluster: m\nhosts:\n"
	"  - {name: h1, uri: 'test:///default', capacity: {cpus: 4, memory: 1GiB}}\n"
	"  - {name: h2, uri: 'test:///default', capacity: {cpus: 2, memory: 1GiB}}\n"
	"templates:\n  - {name: tiny, vcpus: 1, memory: 256MiB, kernel: /k}\n"
	"vms:\n  - {name: a, template: tiny}\n  - {name: b, template: tiny}\n"
	"  - {name: c, template: tiny}\n";

/* A metrics registry with one of everything. */
static struct metrics *sample_metrics(void)
{
	struct cluster *c = load_yaml(CLUSTER);
	struct metrics *m = metrics_new();
	struct observed o;
	struct plan p;

	obs_init(&o, c);
	obs_add(&o, c, 0, "a", true, NULL, DOM_RUNNING, 1.0);
	obs_add(&o, c, 0, "b", true, NULL, DOM_STOPPED, 0);
	obs_add(&o, c, 1, "x", false, NULL, DOM_RUNNING, 0.5);   /* foreign: load only */
	memset(&p, 0, sizeof(p));
	p.score = 0.25;
	metrics_observed(m, c, &o, &p);
	metrics_round(m, 0.07, "converged", true);
	metrics_round(m, 3.0, "partial", false);
	metrics_action(m, ACT_CREATE, true, 0);
	metrics_action(m, ACT_MIGRATE, true, 64 * MiB);
	metrics_action(m, ACT_MIGRATE, false, 64 * MiB);
	metrics_event(m, "lifecycle");
	metrics_reconnect(m, "h1");
	metrics_lease(m, "node1 \"x\\y\"\n pid 42");
	observed_release(&o);
	cluster_free(c);
	return m;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

TEST(metrics_values_and_exposition)
{
	struct metrics *m = sample_metrics();
	struct strbuf sb = STRBUF_INIT;

	metrics_render(m, &sb);
	/* histogram: cumulative buckets, +Inf, sum and count */
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_bucket{le=\"0.05\"} 0"));
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_bucket{le=\"0.1\"} 1"));
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_bucket{le=\"2.5\"} 1"));
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_bucket{le=\"5\"} 2"));
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2"));
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_count 2"));
	CHECK(has_line(sb.buf, "vem_reconcile_duration_seconds_sum 3.0699999999999998"));
	CHECK(has_line(sb.buf, "vem_reconcile_rounds_total{result=\"partial\"} 1"));
	CHECK(has_line(sb.buf, "vem_actions_total{kind=\"create\",result=\"ok\"} 1"));
	CHECK(has_line(sb.buf, "vem_actions_total{kind=\"migrate\",result=\"failed\"} 1"));
	CHECK(has_line(sb.buf, "vem_migrations_total 1"));
	CHECK(has_line(sb.buf, "vem_migrated_bytes_total 67108864"));
	/* owned VMs by state; the foreign domain counts as load, not as a VM */
	CHECK(has_line(sb.buf, "vem_vms{state=\"running\"} 1"));
	CHECK(has_line(sb.buf, "vem_vms{state=\"stopped\"} 1"));
	CHECK(has_line(sb.buf, "vem_host_cpu_committed_ratio{host=\"h1\"} 0.25"));
	CHECK(has_line(sb.buf, "vem_host_memory_committed_ratio{host=\"h1\"} 0.25"));
	CHECK(has_line(sb.buf, "vem_host_cpu_utilisation_ratio{host=\"h1\"} 0.25"));
	CHECK(has_line(sb.buf, "vem_host_cpu_utilisation_ratio{host=\"h2\"} 0.25"));
	CHECK(has_line(sb.buf, "vem_host_vms{host=\"h2\"} 0"));
	CHECK(has_line(sb.buf, "vem_imbalance_score 0.25"));
	/* label values escaped: backslash, quote, newline */
	CHECK(has_line(sb.buf, "vem_lease_holder_info{holder=\"node1 \\\"x\\\\y\\\"\\n pid 42\"} 1"));
	CHECK(has_line(sb.buf, "vem_host_reconnects_total{host=\"h1\"} 1"));
	CHECK(strstr(sb.buf, "vem_source_info{cluster=\"m\",revision=\"") != NULL);
	CHECK(has_line(sb.buf, "# TYPE vem_reconcile_duration_seconds histogram"));
	CHECK(has_line(sb.buf, "# TYPE vem_actions_total counter"));
	CHECK(strstr(sb.buf, "vem_last_success_timestamp_seconds 0\n") == NULL);
	strbuf_release(&sb);
	metrics_free(m);
}

/* promtool check metrics: the exposition's syntax and Prometheus' naming
 * rules (counters end in _total, units, info metrics, ...). */
TEST(metrics_pass_promtool)
{
	struct metrics *m = sample_metrics();
	char path[] = "/tmp/vem-test-metrics-XXXXXX";
	int fd = mkstemp(path);
	struct errbuf err = ERRBUF_INIT;
	char cmd[256];
	int rc;

	CHECK(fd >= 0);
	close(fd);
	CHECK(metrics_write_file(m, path, &err) == 0);
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		printf("# skip promtool check: promtool is not installed (Debian package prometheus)\n");
	} else {
		snprintf(cmd, sizeof(cmd), "promtool check metrics <%s", path);
		rc = system(cmd);
		CHECK(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	}
	/* a fresh registry (no round yet) is valid too */
	metrics_free(m);
	m = metrics_new();
	CHECK(metrics_write_file(m, path, &err) == 0);
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		rc = system(cmd);
		CHECK(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	}
	/* a directory that does not exist: an error, not a crash */
	CHECK(metrics_write_file(m, "/nonexistent/dir/vem.prom", &err) == -1);
	CHECK(strstr(err_msg(&err), "cannot write the metrics file") != NULL);
	unlink(path);
	errbuf_release(&err);
	metrics_free(m);
}

/* Send req (may be NULL: send nothing) to 127.0.0.1:port; the whole reply. */
static char *http(int port, const char *req, size_t len)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	ssize_t n;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return xstrdup("");
	}
	if (req)
		send(fd, req, len, MSG_NOSIGNAL);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		strbuf_add(&sb, buf, (size_t)n);
	close(fd);
	return strbuf_detach(&sb, NULL);
}

TEST(metrics_server_serves_only_metrics_within_bounds)
{
	struct metrics *m = sample_metrics();
	struct errbuf err = ERRBUF_INIT;
	struct metrics_server *srv = metrics_server_start(m, "127.0.0.1:0", &err);
	int port = metrics_server_port(srv);
	char *r, big[6000];
	int64_t t0;
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

	CHECK(srv != NULL && port > 0);
	r = http(port, get, strlen(get));
	CHECK(str_starts_with(r, "HTTP/1.0 200 OK\r\n"));
	CHECK(strstr(r, "Content-Type: text/plain; version=0.0.4") != NULL);
	CHECK(strstr(r, "\r\n\r\n# HELP vem_build_info") != NULL);
	free(r);
	r = http(port, "GET /other HTTP/1.0\r\n\r\n", 23);
	CHECK(str_starts_with(r, "HTTP/1.0 404 "));
	free(r);
	r = http(port, "GET /metricsx HTTP/1.0\r\n\r\n", 26);
	CHECK(str_starts_with(r, "HTTP/1.0 404 "));
	free(r);
	r = http(port, "POST /metrics HTTP/1.0\r\n\r\n", 26);
	CHECK(str_starts_with(r, "HTTP/1.0 405 "));
	free(r);
	/* a request larger than 4 KiB is refused */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.0\r\nX: ", 26);
	r = http(port, big, sizeof(big));
	CHECK(str_starts_with(r, "HTTP/1.0 431 "));
	free(r);
	/* a client that sends nothing is dropped after 2 s, and the next served */
	t0 = time_mono_ms();
	r = http(port, NULL, 0);
	CHECK(!*r);
	CHECK(time_mono_ms() - t0 >= 1500 && time_mono_ms() - t0 < 5000);
	free(r);
	r = http(port, get, strlen(get));
	CHECK(str_starts_with(r, "HTTP/1.0 200 OK\r\n"));
	free(r);
	metrics_server_stop(srv);
	/* bad addresses */
	CHECK(metrics_server_start(m, "localhost", &err) == NULL);
	CHECK(strstr(err_msg(&err), "expected ADDR:PORT") != NULL);
	errbuf_release(&err);
	CHECK(metrics_server_start(m, "127.0.0.1:http", &err) == NULL);
	errbuf_release(&err);
	srv = metrics_server_start(m, "[::1]:0", &err);
	if (srv) {
		CHECK(metrics_server_port(srv) > 0);
		metrics_server_stop(srv);
	} else {
		printf("# no IPv6 loopback here: %s\n", err_msg(&err));
	}
	errbuf_release(&err);
	metrics_free(m);
}

TEST(eventlog_json_lines)
{
	struct strbuf sb = STRBUF_INIT;
	const char *kv[] = { "VEM_VM", "a\"b\n", "VEM_HOST", NULL, "VEM_RESULT", "ok" };
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	struct eventlog *l;
	struct errbuf err = ERRBUF_INIT;

	eventlog_json(&sb, 0, 6, "action", "create a on h1: ok", kv, ARRAY_SIZE(kv));
	CHECK_STR(sb.buf, "{\"MESSAGE\":\"create a on h1: ok\",\"PRIORITY\":\"6\","
		  "\"SYSLOG_IDENTIFIER\":\"vem\",\"VEM_EVENT\":\"action\","
		  "\"VEM_TIME\":\"1970-01-01T00:00:00Z\",\"VEM_VM\":\"a\\\"b\\n\","
		  "\"VEM_RESULT\":\"ok\"}");
	strbuf_release(&sb);

	f = open_memstream(&out, &len);
	l = eventlog_new(LOG_JSON, f, NULL, &err);
	CHECK(l != NULL);
	eventlog_emit(l, 4, "refusal", "held back", "VEM_VM", "db-0", NULL);
	eventlog_emit(l, 6, "round", "round 2", NULL);
	eventlog_free(l);
	fclose(f);
	CHECK(out && strstr(out, "\"VEM_EVENT\":\"refusal\",") && strstr(out, "\"VEM_VM\":\"db-0\"}\n{"));
	CHECK(out && str_ends_with(out, "}\n"));
	free(out);

	/* a webhook that is not http(s) is refused, masked */
	CHECK(eventlog_new(LOG_JSON, stdout, "ftp://u:secret@h/x", &err) == NULL);
	CHECK(strstr(err_msg(&err), "secret") == NULL && strstr(err_msg(&err), "u:****@h") != NULL);
	errbuf_release(&err);
}

TEST(eventlog_masks_webhook_secrets)
{
	static const char *const cases[][2] = {
		{ "https://hooks.example.org/x", "https://hooks.example.org/x" },
		{ "https://u:pw@h.example/p?token=abc&x=1", "https://u:****@h.example/p?token=****&x=****" },
		{ "https://u@h/p", "https://u@h/p" },
		{ "http://h/p?flag&k=v#frag", "http://h/p?flag&k=****#frag" },
		{ "https://h/p@q", "https://h/p@q" },
		{ "nonsense", "****" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *m = eventlog_mask_url(cases[i][0]);
		CHECK_STR(m, cases[i][1]);
		free(m);
	}
}

/* A webhook receiver on 127.0.0.1: accepts one POST, keeps its body. */
struct receiver {
	int fd, port;
	char body[8192];
};

static void *receive_one(void *arg)
{
	struct receiver *r = arg;
	int c = accept(r->fd, NULL, NULL);
	size_t len = 0;
	ssize_t n;
	if (c < 0)
		return NULL;
	while (len < sizeof(r->body) - 1 && (n = recv(c, r->body + len, sizeof(r->body) - 1 - len, 0)) > 0) {
		len += (size_t)n;
		r->body[len] = '\0';
		if (strstr(r->body, "\r\n\r\n") && str_ends_with(r->body, "}"))
			break;
	}
	send(c, "HTTP/1.0 204 No Content\r\n\r\n", 27, MSG_NOSIGNAL);
	close(c);
	return NULL;
}

TEST(eventlog_webhook_posts_the_json)
{
	struct receiver r;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	pthread_t th;
	char url[64];
	struct errbuf err = ERRBUF_INIT;
	struct eventlog *l;
	FILE *devnull = fopen("/dev/null", "w");

	memset(&r, 0, sizeof(r));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(!bind(r.fd, (struct sockaddr *)&sa, sizeof(sa)) && !listen(r.fd, 1));
	getsockname(r.fd, (struct sockaddr *)&sa, &sl);
	r.port = ntohs(sa.sin_port);
	pthread_create(&th, NULL, receive_one, &r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook?key=s3cret", r.port);
	l = eventlog_new(LOG_TEXT, devnull, url, &err);
	CHECK(l != NULL);
	eventlog_emit(l, 6, "action", "start a on h1: ok", "VEM_VM", "a", NULL);
	eventlog_free(l);        /* delivers what is queued */
	pthread_join(th, NULL);
	close(r.fd);
	fclose(devnull);
	CHECK(str_starts_with(r.body, "POST /hook?key=s3cret "));
	CHECK(strstr(r.body, "Content-Type: application/json") != NULL);
	CHECK(strstr(r.body, "\r\n\r\n{\"MESSAGE\":\"start a on h1: ok\"") != NULL);
	CHECK(strstr(r.body, "\"VEM_VM\":\"a\"}") != NULL);
}

/* ---- libvirt's domain events on the test driver ---- */

struct seen {
	pthread_mutex_t lock;
	char text[4096];
	int n;
};

static void collect(void *arg, const struct hv_event *ev)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "%s %zu %s: %s\n",
		 hv_event_kind_name(ev->kind), ev->host, ev->domain ? ev->domain : "-", ev->what);
	s->n++;
	pthread_mutex_unlock(&s->lock);
}

static bool wait_seen(struct seen *s, const char *what)
{
	for (int i = 0; i < 100; i++) {
		bool found;
		pthread_mutex_lock(&s->lock);
		found = strstr(s->text, what) != NULL;
		pthread_mutex_unlock(&s->lock);
		if (found)
			return true;
		usleep(20 * 1000);
	}
	fprintf(stderr, "  events seen:\n%s", s->text);
	return false;
}

TEST(events_of_the_test_driver)
{
	struct cluster *c = load_yaml(
		"cluster: ev\nhosts:\n  - {name: t1, uri: 'test:///default'}\n"
		"templates:\n  - {name: tiny, memory: 32MiB, kernel: /k}\n"
		"vms:\n  - {name: web, template: tiny}\n");
	struct hv_options opt;
	struct hv_session *s;
	struct hv_events *ev;
	struct seen seen;
	struct errbuf err = ERRBUF_INIT;
	virConnectPtr conn;
	virDomainPtr d;

	virSetErrorFunc(NULL, libvirt_errors_quiet);
	memset(&seen, 0, sizeof(seen));
	pthread_mutex_init(&seen.lock, NULL);
	hv_options_default(&opt);
	opt.cache_dir = "/nonexistent/vem-test-cache";
	s = hv_session_open(c, &opt);
	CHECK(hv_host_online(s, 0));
	ev = hv_events_start(s, collect, &seen);
	CHECK_INT(hv_events_hosts(ev), 1);
	conn = hv_conn(s, 0);
	/* test:///default starts with a running domain "test" */
	d = virDomainLookupByName(conn, "test");
	CHECK(d != NULL);
	if (d) {
		CHECK(virDomainDestroy(d) == 0);
		CHECK(wait_seen(&seen, "lifecycle 0 test: stopped (destroyed)"));
		CHECK(virDomainCreate(d) == 0);
		CHECK(wait_seen(&seen, "lifecycle 0 test: started (booted)"));
		virDomainFree(d);
	}
	/* vem's own lease domain is no drift: never passed on */
	CHECK(hv_domain_create(s, 0, &c->vms[0], &err) == 0);
	CHECK(wait_seen(&seen, "lifecycle 0 web: defined (added)"));
	d = virDomainDefineXML(conn, "<domain type='test'><name>vem-lease-ev</name>"
				     "<memory>1024</memory><os><type>hvm</type></os></domain>");
	CHECK(d != NULL);
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
	usleep(200 * 1000);
	pthread_mutex_lock(&seen.lock);
	CHECK(strstr(seen.text, "vem-lease-") == NULL);
	pthread_mutex_unlock(&seen.lock);
	hv_events_stop(ev);
	hv_events_stop(NULL);
	hv_session_free(s);
	cluster_free(c);
	errbuf_release(&err);
	pthread_mutex_destroy(&seen.lock);
}

static const struct obs_domain *find_dom(const struct observed *o, const char *name)
{
	for (size_t i = 0; i < o->n_domains; i++)
		if (!strcmp(o->domains[i].name, name))
			return &o->domains[i];
	return NULL;
}

/* A light observation gives the figures of the last full one, with the
 * state of now; a domain it never saw fully makes it look fully. */
TEST(light_observation)
{
	struct cluster *c = load_yaml(
		"cluster: lt\nhosts:\n  - {name: t1, uri: 'test:///default'}\n"
		"templates:\n  - {name: tiny, vcpus: 2, memory: 64MiB, kernel: /k}\n"
		"vms:\n  - {name: web, template: tiny}\n");
	struct hv_options opt;
	struct hv_session *s;
	struct errbuf err = ERRBUF_INIT;
	struct observed full, light;
	const struct obs_domain *f, *l;
	virDomainPtr d;

	virSetErrorFunc(NULL, libvirt_errors_quiet);
	hv_options_default(&opt);
	opt.cache_dir = "/nonexistent/vem-test-cache";
	s = hv_session_open(c, &opt);
	CHECK(hv_domain_create(s, 0, &c->vms[0], &err) == 0);
	CHECK(hv_observe(s, &full, &err) == 0);
	d = virDomainLookupByName(hv_conn(s, 0), "web");
	CHECK(d && virDomainDestroy(d) == 0);
	CHECK(hv_observe_light(s, &light, &err) == 0);
	f = find_dom(&full, "web");
	l = find_dom(&light, "web");
	CHECK(f && l);
	if (f && l) {
		CHECK_INT(f->state, DOM_RUNNING);
		CHECK_INT(l->state, DOM_STOPPED);        /* the state of now */
		CHECK_INT(l->vcpus, 2);
		CHECK_INT(l->memory, 64 * MiB);
		CHECK_INT(l->max_memory, f->max_memory);
		CHECK(l->owned && str_eq(l->meta.vm, "web"));
	}
	CHECK_INT(light.n_domains, full.n_domains);
	observed_release(&light);
	/* a domain the session never observed: a full pass for its host */
	virDomainFree(d);
	d = virDomainDefineXML(hv_conn(s, 0), "<domain type='test'><name>newcomer</name>"
			       "<memory>131072</memory><vcpu>3</vcpu><os><type>hvm</type></os></domain>");
	CHECK(d != NULL);
	CHECK(hv_observe_light(s, &light, &err) == 0);
	l = find_dom(&light, "newcomer");
	CHECK(l && l->vcpus == 3 && l->memory == 128 * MiB);
	CHECK(find_dom(&light, "web") != NULL);
	if (d) {
		virDomainUndefine(d);
		virDomainFree(d);
	}
	observed_release(&light);
	observed_release(&full);
	hv_session_free(s);
	cluster_free(c);
	errbuf_release(&err);
}

TEST(lifecycle_texts)
{
	char b[64];
	CHECK_STR(hv_event_lifecycle_text(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, b),
		  "stopped (destroyed)");
	CHECK_STR(hv_event_lifecycle_text(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, b),
		  "started (migrated)");
	CHECK_STR(hv_event_lifecycle_text(VIR_DOMAIN_EVENT_UNDEFINED, 0, b), "undefined");
	CHECK_STR(hv_event_lifecycle_text(99, 0, b), "event");
	CHECK_STR(hv_event_kind_name(HV_EV_CLOSED), "closed");
}

int main(void)
{
	virInitialize();
	RUN(metrics_values_and_exposition);
	RUN(metrics_pass_promtool);
	RUN(metrics_server_serves_only_metrics_within_bounds);
	RUN(eventlog_json_lines);
	RUN(eventlog_masks_webhook_secrets);
	RUN(eventlog_webhook_posts_the_json);
	RUN(events_of_the_test_driver);
	RUN(light_observation);
	RUN(lifecycle_texts);
	return test_done();
}
