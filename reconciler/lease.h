/*
 * lease.h - one writer per cluster, with fencing.
 *
 * The lease lives on the cluster's hosts, through libvirt, so every vem
 * process that can reach the hosts sees it, on any machine. It is held on a
 * majority of the cluster's hosts (acquired in host-name order to avoid
 * deadlock) as an inactive domain "vem-lease-CLUSTER" whose UUID is the
 * holder's random token and whose metadata names the holder (machine id,
 * boot id, pid namespace, pid and process start time), its ttl and a
 * counter that every renewal raises.
 *
 * The holder renews from a background thread (every ttl/5, on the
 * monotonic clock), only where its own token is still there and its counter
 * is the one it wrote last: a renewal never re-creates a lease that is gone.
 * A waiter takes a lease whose counter has not moved for ttl on its own
 * monotonic clock (clock skew between machines does not matter); a holder
 * is dead at once only when it ran on this machine, this boot and this pid
 * namespace, and its process (pid and start time) is gone.
 *
 * Fencing: nobody else can hold a majority before ttl after the start of the
 * holder's last renewal that reached a majority. lease_check() proves, before
 * a destructive action, that this is at least ttl/4 away; once it is not, or
 * a renewal finds another holder, the lease is lost for good.
 *
 * Threads: lease_check() and lease_lost() may be called from any thread;
 * lease_acquire() and lease_release() from one.
 */
#ifndef VEM_LEASE_H
#define VEM_LEASE_H

#include "hv/hv.h"

struct lease;

struct lease_options {
	int64_t ttl;             /* ms without renewal before a lease is dead (default 30s) */
	int64_t wait;            /* ms to wait for a held lease (0 = fail at once) */
	FILE *progress;          /* "waiting for lease held by X since T", "lease lost" */
};
void lease_options_default(struct lease_options *o);

/* Acquire the cluster's lease; NULL with err naming the holder and since when. */
struct lease *lease_acquire(struct hv_session *s, const struct cluster *c,
			    const struct lease_options *opt, struct errbuf *err);

/* 0 when this process provably still holds the lease now: its token is read back from a
 * majority of the cluster's hosts and the last successful renewal is younger than
 * ttl minus a safety margin; -1 with err ("lease of cluster 'X' lost: ...") otherwise.
 * Called before every destructive action (remove, recreate, migrate). Cheap: one
 * lookup per host. Thread-safe. */
int lease_check(struct lease *l, struct errbuf *err);

/* true once the lease is known lost (a renewal found another holder, or renewals have
 * failed for longer than ttl minus the margin); sticky. Thread-safe. */
bool lease_lost(const struct lease *l);

/* Release and free (NULL is a no-op). Removes the lease only where it still
 * carries this holder's token. */
void lease_release(struct lease *l);

#endif
