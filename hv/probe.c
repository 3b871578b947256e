/*
 * probe.c - is a VM ready? Its domain runs, and the probes its
 * readiness spec names pass: the QEMU guest agent answers, a TCP port on
 * the guest's address accepts a connection. The settle time is not a probe
 * of the guest: the executor waits it out after it starts a VM
 * (reconciler/rollout.c).
 */
#include "hv_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_CONNECT_MS 1000

int hv_tcp_probe(const char *addr, int port, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	int fd = -1, rc = -1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		rc = 0;
		goto out;
	}
	if (errno != EINPROGRESS)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, timeout_ms) != 1)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

bool hv_probe_addr_usable(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1) {
		uint32_t a = ntohl(a4.s_addr);
		return (a >> 24) != 127 && (a >> 16) != 0xa9fe && a != 0;   /* 127/8, 169.254/16 */
	}
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return !IN6_IS_ADDR_LOOPBACK(&a6) && !IN6_IS_ADDR_LINKLOCAL(&a6) &&
		       !IN6_IS_ADDR_UNSPECIFIED(&a6);
	return false;
}

/* The guest agent answers (a hostname query goes through it). */
static bool agent_answers(virDomainPtr d, struct strbuf *why)
{
	virTypedParameterPtr params = NULL;
	int nparams = 0;

	if (virDomainGetGuestInfo(d, VIR_DOMAIN_GUEST_INFO_HOSTNAME, &params, &nparams, 0) < 0) {
		strbuf_addf(why, "the guest agent does not answer: %s", hv_last_error());
		return false;
	}
	virTypedParamsFree(params, nparams);
	return true;
}

/* A TCP connection to port on one of the guest's IP addresses (DHCP lease
 * of a libvirt network first, then the guest agent), loopback and
 * link-local addresses left out. */
static bool tcp_open(virDomainPtr d, int port, struct strbuf *why)
{
	static const unsigned sources[] = { VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
					    VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT };
	size_t tried = 0;
	bool ok = false;

	for (size_t s = 0; s < ARRAY_SIZE(sources) && !ok; s++) {
		virDomainInterfacePtr *ifs = NULL;
		int n = virDomainInterfaceAddresses(d, &ifs, sources[s], 0);
		for (int i = 0; i < n; i++) {
			for (unsigned j = 0; !ok && j < ifs[i]->naddrs; j++) {
				const char *a = ifs[i]->addrs[j].addr;
				/* the agent lists the guest's loopback too: probing
				 * 127.0.0.1 would ask the machine vem runs on */
				if (!a || !hv_probe_addr_usable(a))
					continue;
				tried++;
				ok = hv_tcp_probe(a, port, PROBE_CONNECT_MS) == 0;
				if (!ok)
					strbuf_addf(why, "%sport %d on %s is closed", why->len ? "; " : "", port, a);
			}
			virDomainInterfaceFree(ifs[i]);
		}
		free(ifs);
	}
	if (!ok && !tried)
		strbuf_addf(why, "no address for the guest (no DHCP lease, no guest agent) to probe port %d",
			    port);
	return ok;
}

int hv_domain_ready(struct hv_session *s, size_t host, const char *name,
		    const struct readiness_spec *r, struct strbuf *why)
{
	virDomainPtr d;
	int state = 0, reason = 0, rc = 1;

	if (!hv_host_online(s, host)) {
		strbuf_addf(why, "host '%s' is offline", s->c->hosts[host].name);
		return -1;
	}
	d = virDomainLookupByName(s->hosts[host].conn, name);
	if (!d) {
		strbuf_addf(why, "no domain '%s' on host '%s'", name, s->c->hosts[host].name);
		return -1;
	}
	if (virDomainGetState(d, &state, &reason, 0) < 0 || state != VIR_DOMAIN_RUNNING) {
		strbuf_adds(why, "not running");
		goto out;
	}
	if (r->agent && !agent_answers(d, why))
		goto out;
	if (r->tcp > 0 && !tcp_open(d, r->tcp, why))
		goto out;
	rc = 0;
out:
	virDomainFree(d);
	return rc;
}
