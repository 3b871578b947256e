/*
 * Unit tests: sessions (hv/session.c) without root: libvirt's test driver
 * for a host that answers, a closed port for one that refuses, a socket
 * that never speaks for one that does not answer in time; and the pure
 * helpers (error scrubbing, capabilities).
 */
#include "test.h"
#include "hv/hv_priv.h"
#include "fixtures.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(open_reports_each_host)
{
	struct cluster *c = load_yaml(
		"cluster: ss\nhosts:\n"
		"  - {name: up, uri: 'test:///default'}\n"
		"  - {name: refused, uri: 'qemu+tcp://admin:pw0rd@127.0.0.1:1/system'}\n"
		"  - {name: bogus, uri: 'nosuchdriver:///x'}\n");
	struct hv_options opt;
	struct hv_session *s;
	int64_t t0 = time_mono_ms();

	hv_options_default(&opt);
	s = hv_session_open(c, &opt);
	CHECK(time_mono_ms() - t0 < opt.connect_timeout);   /* nobody waited out the timeout */
	CHECK(hv_host_online(s, 0));
	CHECK(hv_conn(s, 0) != NULL);
	CHECK(hv_host_caps(s, 0) & (1u << HV_QEMU));
	CHECK(!hv_host_error(s, 0));
	/* node info as the driver tells it (its capabilities carry no host UUID) */
	CHECK_INT(s->hosts[0].cpus, 16);
	CHECK(s->hosts[0].memory > 0);
	for (size_t i = 1; i < 3; i++) {
		CHECK(!hv_host_online(s, i));
		CHECK(!hv_conn(s, i));
		CHECK_INT(hv_host_caps(s, i), 0);
		CHECK(hv_host_error(s, i) && str_starts_with(hv_host_error(s, i), "cannot connect to "));
	}
	CHECK(str_starts_with(hv_host_error(s, 1),
			      "cannot connect to qemu+tcp://admin:****@127.0.0.1:1/system: "));
	CHECK(!strstr(hv_host_error(s, 1), "pw0rd"));
	CHECK(!strchr(hv_host_error(s, 1), '\n'));
	/* indexes past the hosts */
	CHECK(!hv_host_online(s, 3));
	CHECK_STR(hv_host_error(s, 3), "no such host");
	CHECK(!hv_conn(s, 3));
	hv_session_free(s);
	cluster_free(c);
}

/* A host that accepts the connection and never answers is given up after
 * connect_timeout; the attempt goes on in the background. */
TEST(silent_host_given_up_in_time)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct hv_options opt;
	struct hv_session *s;
	struct cluster *c;
	char *yaml, *want;
	int64_t t0, took;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 4) == 0 &&
	      getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	yaml = xasprintf("cluster: ss\nhosts:\n  - {name: silent, uri: 'qemu+tcp://127.0.0.1:%d/system'}\n"
			 "  - {name: up, uri: 'test:///default'}\n", ntohs(a.sin_port));
	want = xasprintf("no answer from qemu+tcp://127.0.0.1:%d/system within ", ntohs(a.sin_port));
	c = load_yaml(yaml);
	hv_options_default(&opt);
	opt.connect_timeout = 400;
	t0 = time_mono_ms();
	s = hv_session_open(c, &opt);
	took = time_mono_ms() - t0;
	CHECK(took >= 400 && took < 2000);
	CHECK(!hv_host_online(s, 0));
	CHECK(hv_host_error(s, 0) && str_starts_with(hv_host_error(s, 0), want));
	CHECK(hv_host_online(s, 1));
	hv_session_free(s);
	cluster_free(c);
	free(yaml);
	free(want);
	close(fd);
}

/* A session follows a reloaded cluster that names the same hosts. */
TEST(rebind_needs_the_same_hosts)
{
	struct cluster *c1 = load_yaml("cluster: ss\nhosts:\n  - {name: up, uri: 'test:///default'}\n");
	struct cluster *c2 = load_yaml("cluster: ss\nhosts:\n  - {name: up, uri: 'test:///default',"
				       " labels: {rack: b}}\n");
	struct cluster *c3 = load_yaml("cluster: ss\nhosts:\n  - {name: up, uri: 'test:///default'}\n"
				       "  - {name: up2, uri: 'test:///default'}\n");
	struct hv_fixture f;
	struct observed o;
	struct errbuf err = ERRBUF_INIT;
	struct hv_options opt;

	hv_options_default(&opt);
	opt.cache_dir = "/tmp/vem-test-cache";
	f.c = c1;
	f.s = hv_session_open(c1, &opt);
	CHECK_INT(hv_session_rebind(f.s, c3), -1);
	CHECK_INT(hv_session_rebind(f.s, c2), 0);
	cluster_free(c1);        /* the old cluster may be gone */
	CHECK_INT(hv_observe(f.s, &o, &err), 0);
	CHECK(o.n_hosts == 1 && str_eq(labels_get(&o.hosts[0].labels, "rack"), "b"));
	observed_release(&o);
	hv_session_free(f.s);
	cluster_free(c2);
	cluster_free(c3);
	errbuf_release(&err);
	unlink("/tmp/vem-test-cache/observe/ss.tsv");
	rmdir("/tmp/vem-test-cache/observe");    /* left when other tests use it too */
	rmdir("/tmp/vem-test-cache");
}

TEST(error_scrub_one_line_no_secret)
{
	char *s = hv_error_scrub("qemu+ssh://root:hunter2@h/system",
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
		"\n  cannot reach qemu+ssh://root:hunter2@h/system\r\nhunter2 refused\n");

	CHECK(s && !strchr(s, '\n') && !strchr(s, '\r'));
	CHECK(s && !strstr(s, "hunter2"));
	CHECK(s && strstr(s, "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!"));
	CHECK(s && strstr(s, "cannot reach qemu+ssh://root:"));
	free(s);
}

TEST(capabilities_parsed)
{
	char uuid[37];
	unsigned caps = hv_caps_parse(
		"<capabilities><host><uuid>0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0</uuid></host>"
		"<guest><arch name='x86_64'><domain type='qemu'/><domain type=\"kvm\"/></arch></guest>"
		"</capabilities>", uuid);

	CHECK_INT(caps, (1u << HV_QEMU) | (1u << HV_KVM));
	CHECK_STR(uuid, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	caps = hv_caps_parse("<capabilities><guest><domain type='test'/></guest></capabilities>", uuid);
	CHECK_INT(caps, (1u << HV_KVM) | (1u << HV_QEMU) | (1u << HV_XEN) | (1u << HV_LXC));
	CHECK_STR(uuid, "");
}

int main(void)
{
	virSetErrorFunc(NULL, libvirt_errors_quiet);
	RUN(open_reports_each_host);
	RUN(silent_host_given_up_in_time);
	RUN(rebind_needs_the_same_hosts);
	RUN(error_scrub_one_line_no_secret);
	RUN(capabilities_parsed);
	return test_done();
}
