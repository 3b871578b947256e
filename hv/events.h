/*
 * events.h - libvirt's domain events of every host of a session, for the
 * long-running mode (`vem reconcile --watch`).
 *
 * hv_events_start() subscribes on every online host of a session to the
 * events that can mean drift: lifecycle (which includes define and
 * undefine), balloon change, metadata change, migration iteration and job
 * completed; and to the close of each connection (a host that dropped, seen
 * by libvirt's keepalive). Each event is handed to fn as a struct hv_event.
 *
 * Threads: fn runs in libvirt's event-loop thread (hv/session.c runs it).
 * It must be quick, must not call libvirt and must not keep the pointers
 * of the event. Events of vem's own lease domains (vem-lease-*) are not
 * passed on: the lease is renewed all the time and is no drift.
 *
 * Ownership: the caller keeps the session until hv_events_stop(), which
 * deregisters everything (call it before hv_session_free()).
 */
#ifndef VEM_HV_EVENTS_H
#define VEM_HV_EVENTS_H

#include "hv.h"

enum hv_event_kind {
	HV_EV_LIFECYCLE = 0,   /* started, stopped, defined, undefined, ... */
	HV_EV_BALLOON,         /* the guest's current memory changed */
	HV_EV_METADATA,        /* metadata (vem's own, or another's) changed */
	HV_EV_MIGRATION,       /* a migration iteration */
	HV_EV_JOB,             /* a job (migration, ...) completed */
	HV_EV_CLOSED,          /* the connection to the host dropped */
	HV_EV_NR
};
/* "lifecycle", "balloon", "metadata", "migration", "job", "closed" */
const char *hv_event_kind_name(enum hv_event_kind k);

struct hv_event {
	enum hv_event_kind kind;
	size_t host;             /* index into the session's (cluster's) hosts */
	const char *domain;      /* NULL for HV_EV_CLOSED */
	const char *what;        /* "stopped (destroyed)", "defined", ...; never NULL */
	bool state_change;       /* a lifecycle event that changes the domain's state */
};
typedef void (*hv_event_fn)(void *arg, const struct hv_event *ev);

struct hv_events;

/* Subscribe on every online host of s; hosts where it fails are reported
 * through fn as HV_EV_CLOSED (the caller reconnects them). Never NULL. */
struct hv_events *hv_events_start(struct hv_session *s, hv_event_fn fn, void *arg);
/* Number of hosts subscribed. */
size_t hv_events_hosts(const struct hv_events *e);
/* Deregister and free; NULL is a no-op. */
void hv_events_stop(struct hv_events *e);

/* The text of a lifecycle event (libvirt's event and detail numbers):
 * "stopped (destroyed)", "defined (added)", ... (for tests and logs). */
const char *hv_event_lifecycle_text(int event, int detail, char buf[64]);

#endif
