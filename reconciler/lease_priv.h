/*
 * lease_priv.h - internals of the lease shared with its tests.
 */
#ifndef VEM_LEASE_PRIV_H
#define VEM_LEASE_PRIV_H

#include "lease.h"

/* Who a holder is, as written in its lease. */
struct lease_identity {
	char machine[64];            /* /etc/machine-id; "" when unknown */
	char boot[64];               /* /proc/sys/kernel/random/boot_id; "" when unknown */
	char pidns[64];              /* "pid:[N]" of /proc/self/ns/pid; "" when unknown */
	long pid;
	unsigned long long start;    /* process start, clock ticks after boot (0 = unknown) */
};

/* This process. Fields that cannot be read are left empty (never dead at once). */
void lease_identity_self(struct lease_identity *id);
/* true when holder ran on this machine, this boot and this pid namespace
 * (all known and equal to self's) and its process is gone: no such pid, a
 * zombie, or a pid reused by a process that started at another time. */
bool lease_identity_gone(const struct lease_identity *self,
			 const struct lease_identity *holder);

/* A lease as read from one host. */
struct lease_holder {
	char uuid[37];               /* the holder's token */
	char *holder;                /* "user@hostname pid N" (for people only) */
	struct lease_identity id;
	int64_t since;               /* wall clock ms, for people only */
	int64_t ttl;                 /* the holder's ttl (ms), 0 when not written */
	long counter;
};
void lease_holder_release(struct lease_holder *h);
/* Read the lease "vem-lease-CLUSTER" on conn (a virConnectPtr): 0 and *h
 * filled, 1 when there is none, -1 when the host did not answer. */
int lease_holder_read(void *conn, const char *cluster, struct lease_holder *h);

/* The clock that judges a holder's own renewals: monotonic and counting
 * suspend (CLOCK_BOOTTIME), in ms. */
int64_t lease_clock_ms(void);

/* Tests: make the renewal thread skip its rounds, as if the process were
 * stopped (it still wakes up; a paused holder learns nothing). */
void lease_pause_renewal(struct lease *l, bool paused);
/* Tests: the number of renewal rounds that reached a majority. */
long lease_renewals(const struct lease *l);

#endif
