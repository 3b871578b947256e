/*
 * transport.c - a bound on libvirt's TCP connections at the socket level.
 *
 * libvirt 9.0's client leaves a call waiting forever on a host that died
 * under it: when several threads share a connection and the keepalive
 * closes it, the thread that takes over the connection's I/O polls with
 * no timeout (seen in gdb: poll(..., -1) under virStorageVolCreateXML,
 * the request still in the socket's send queue, while the kernel
 * retransmits for ~15 minutes). The kernel can end that wait: with
 * TCP_USER_TIMEOUT a connection whose data stays unacknowledged for the
 * bound is reset, and TCP keepalive probes cover a connection that waits
 * for a reply with nothing left to send. poll() then reports the error and
 * libvirt fails the call. A live host's kernel acknowledges in
 * milliseconds however busy its libvirtd is, so only a host that is gone
 * (power loss, partition) is cut off.
 *
 * libvirt does not hand out its sockets: every TCP socket of the process
 * that is not a listener and has no user timeout yet gets one (libvirt's qemu+tcp and qemu+tls
 * connections; vem opens no other long-lived TCP connection). ssh and
 * unix-socket transports are not covered.
 */
#include "hv_priv.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v));
}

/* fd is a TCP socket, not a listener, without a user timeout */
static bool tcp_unbounded(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int type = 0, v = 0;
	socklen_t tl = sizeof(type), vl = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_STREAM)
		return false;
	/* a listener (the metrics endpoint) is not a connection to a host */
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) || v)
		return false;
	vl = sizeof(v);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) ||
	    (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
		return false;
	if (getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &vl))
		return false;
	return v == 0;
}

size_t hv_transport_bound(int64_t ms)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;
	int secs = (int)((ms + 999) / 1000);

	if (!d)
		return 0;
	if (secs < 1)
		secs = 1;
	while ((e = readdir(d))) {
		int64_t fd;
		if (e->d_name[0] == '.' || parse_int64(e->d_name, &fd) || fd == dirfd(d) ||
		    fd < 0 || fd > 1 << 20 || !tcp_unbounded((int)fd))
			continue;
		if (set_int((int)fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms))
			continue;
		set_int((int)fd, SOL_SOCKET, SO_KEEPALIVE, 1);
		set_int((int)fd, IPPROTO_TCP, TCP_KEEPIDLE, secs);
		set_int((int)fd, IPPROTO_TCP, TCP_KEEPINTVL, 1);
		set_int((int)fd, IPPROTO_TCP, TCP_KEEPCNT, 2);
		n++;
	}
	closedir(d);
	return n;
}
