/*
 * vem-lease-hold - take a cluster's lease and hold it, as vem apply would,
 * for end-to-end tests of the lease (tests/e2e/t0130-lease.sh).
 *
 *   vem-lease-hold PATH TTL_MS WAIT_MS HOLD_MS
 *
 * Prints "acquired TOKEN" (the lease's UUID as read back from a host), then
 * calls lease_lost() every 50 ms for HOLD_MS; at the end, or as soon as the
 * lease is lost, prints the answer of lease_check() ("check ok" or "check
 * failed: MESSAGE") and releases the lease. Exit: 0 held to the end, 3 lost,
 * 4 not acquired, 1 other errors, 64 usage.
 */
#include "reconciler/lease_priv.h"
#include "schema/load.h"

#include <libvirt/virterror.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int64_t arg_ms(const char *s)
{
	int64_t v;
	if (parse_int64(s, &v) || v < 0) {
		fprintf(stderr, "vem-lease-hold: '%s' is not a number of milliseconds\n", s);
		exit(64);
	}
	return v;
}

static void quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

int main(int argc, char **argv)
{
	struct errbuf err = ERRBUF_INIT;
	struct lease_options lo;
	struct hv_options ho;
	struct hv_session *s = NULL;
	struct lease *l = NULL;
	struct cluster *c;
	int64_t hold, end;
	int ret = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: vem-lease-hold PATH TTL_MS WAIT_MS HOLD_MS\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	virSetErrorFunc(NULL, quiet);
	lease_options_default(&lo);
	lo.ttl = arg_ms(argv[2]);
	lo.wait = arg_ms(argv[3]);
	hold = arg_ms(argv[4]);
	c = cfg_load(argv[1], &err);
	if (!c) {
		err_print(&err, stderr, "vem-lease-hold");
		goto out;
	}
	hv_options_default(&ho);
	s = hv_session_open(c, &ho);
	l = lease_acquire(s, c, &lo, &err);
	if (!l) {
		printf("not acquired: %s\n", err_msg(&err));
		ret = 4;
		goto out;
	}
	for (size_t i = 0; i < c->n_hosts; i++) {
		struct lease_holder h;
		if (!lease_holder_read(hv_conn(s, i), c->name, &h)) {
			printf("acquired %s\n", h.uuid);
			lease_holder_release(&h);
			break;
		}
		lease_holder_release(&h);
	}
	end = time_mono_ms() + hold;
	while (time_mono_ms() < end && !lease_lost(l))
		usleep(50 * 1000);
	if (lease_lost(l))
		printf("lost\n");
	errbuf_release(&err);
	if (lease_check(l, &err)) {
		printf("check failed: %s\n", err_msg(&err));
		ret = 3;
	} else {
		printf("check ok\n");
		ret = 0;
	}
out:
	lease_release(l);
	hv_session_free(s);
	cluster_free(c);
	errbuf_release(&err);
	return ret;
}
