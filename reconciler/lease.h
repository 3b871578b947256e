/*
 * lease.h - one writer per cluster.
 *
 * The lease lives on the cluster's hosts, through libvirt, so every vem
 * process that can reach the hosts sees it, on any machine. It is held on a
 * majority of the cluster's hosts (acquired in host-name order to avoid
 * deadlock). The holder renews it from a background thread; a holder that
 * dies stops renewing and its lease expires after ttl (judged on the
 * waiter's own clock, so clock skew between machines does not matter).
 */
#ifndef VEM_LEASE_H
#define VEM_LEASE_H

#include "../hv/hv.h"

struct lease;

struct lease_options {
	int64_t ttl;             /* ms without renewal before a lease is dead (default 30s) */
	int64_t wait;            /* ms to wait for a held lease (0 = fail at once) */
	FILE *progress;          /* "waiting for lease held by X since T" */
};
void lease_options_default(struct lease_options *o);

/* Acquire the cluster's lease; NULL with err naming the holder and since when. */
struct lease *lease_acquire(struct hv_session *s, const struct cluster *c,
			    const struct lease_options *opt, struct errbuf *err);
/* Release and free (NULL is a no-op). */
void lease_release(struct lease *l);

#endif
