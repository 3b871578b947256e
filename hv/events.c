/*
 * events.c - libvirt's domain events of every host, handed to one callback
 * (see events.h). Registrations are kept per host so that stopping the
 * subscription deregisters exactly what was registered.
 */
#include "events.h"
#include "hv_priv.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[HV_EV_NR] = {
	[HV_EV_LIFECYCLE] = "lifecycle", [HV_EV_BALLOON] = "balloon",
	[HV_EV_METADATA] = "metadata", [HV_EV_MIGRATION] = "migration",
	[HV_EV_JOB] = "job", [HV_EV_CLOSED] = "closed",
};

const char *hv_event_kind_name(enum hv_event_kind k)
{
	return (size_t)k < HV_EV_NR ? kind_names[k] : "unknown";
}

/* The events registered per host, and the ids libvirt gave them. */
static const int event_ids[] = {
	VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
	VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
	VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
};
#define N_IDS ARRAY_SIZE(event_ids)

struct ev_host {
	struct hv_events *e;
	size_t host;
	virConnectPtr conn;        /* a reference of our own (virConnectRef) */
	int ids[N_IDS];            /* callback ids, -1 = not registered */
	bool close_cb;
};

/* Libvirt calls a callback from its event loop until the deregistration has
 * taken effect there, which is later than the call that deregisters it: each
 * registration holds a reference (released by libvirt's free callback), and
 * the last one frees the struct. */
struct hv_events {
	hv_event_fn fn;
	void *arg;
	struct ev_host *hosts;
	size_t n, subscribed;
	int refs;                  /* atomic */
};

static void events_put(void *opaque)
{
	struct hv_events *e = opaque;
	if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL))
		return;
	free(e->hosts);
	free(e);
}

static void events_get(struct hv_events *e)
{
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_ACQ_REL);
}

static void host_put(void *opaque)
{
	struct ev_host *h = opaque;
	events_put(h->e);
}

const char *hv_event_lifecycle_text(int event, int detail, char buf[64])
{
	static const char *const ev[] = {
		"defined", "undefined", "started", "suspended", "resumed", "stopped",
		"shutdown", "pmsuspended", "crashed",
	};
	static const char *const stopped[] = {
		"shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot",
	};
	static const char *const started[] = {
		"booted", "migrated", "restored", "from snapshot", "wakeup",
	};
	static const char *const defined[] = { "added", "updated", "renamed", "from snapshot" };
	const char *e = event >= 0 && (size_t)event < ARRAY_SIZE(ev) ? ev[event] : "event";
	const char *d = NULL;

	if (event == VIR_DOMAIN_EVENT_STOPPED && detail >= 0 && (size_t)detail < ARRAY_SIZE(stopped))
		d = stopped[detail];
	else if (event == VIR_DOMAIN_EVENT_STARTED && detail >= 0 &&
		 (size_t)detail < ARRAY_SIZE(started))
		d = started[detail];
	else if (event == VIR_DOMAIN_EVENT_DEFINED && detail >= 0 &&
		 (size_t)detail < ARRAY_SIZE(defined))
		d = defined[detail];
	if (d)
		snprintf(buf, 64, "%s (%s)", e, d);
	else
		snprintf(buf, 64, "%s", e);
	return buf;
}

static void deliver(struct ev_host *h, enum hv_event_kind kind, virDomainPtr dom,
		    const char *what, bool state_change)
{
	struct hv_event ev;
	const char *name = dom ? virDomainGetName(dom) : NULL;

	if (name && str_starts_with(name, "vem-lease-"))
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.host = h->host;
	ev.domain = name;
	ev.what = what;
	ev.state_change = state_change;
	h->e->fn(h->e->arg, &ev);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	char buf[64];
	(void)conn;
	deliver(opaque, HV_EV_LIFECYCLE, dom, hv_event_lifecycle_text(event, detail, buf),
		event != VIR_DOMAIN_EVENT_DEFINED && event != VIR_DOMAIN_EVENT_UNDEFINED);
	return 0;
}

static void on_balloon(virConnectPtr conn, virDomainPtr dom, unsigned long long actual,
		       void *opaque)
{
	char buf[64];
	(void)conn;
	snprintf(buf, sizeof(buf), "balloon %llu KiB", actual);
	deliver(opaque, HV_EV_BALLOON, dom, buf, false);
}

static void on_metadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
			void *opaque)
{
	(void)conn;
	(void)type;
	deliver(opaque, HV_EV_METADATA, dom, nsuri && !strcmp(nsuri, VEM_META_NS) ?
		"vem metadata changed" : "metadata changed", false);
}

static void on_migration(virConnectPtr conn, virDomainPtr dom, int iteration, void *opaque)
{
	char buf[64];
	(void)conn;
	snprintf(buf, sizeof(buf), "migration iteration %d", iteration);
	deliver(opaque, HV_EV_MIGRATION, dom, buf, false);
}

static void on_job(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
		   int nparams, void *opaque)
{
	(void)conn;
	(void)params;
	(void)nparams;
	deliver(opaque, HV_EV_JOB, dom, "job completed", false);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	static const char *const why[] = { "error", "end of file", "keepalive timeout", "client" };
	(void)conn;
	deliver(opaque, HV_EV_CLOSED, NULL,
		reason >= 0 && (size_t)reason < ARRAY_SIZE(why) ? why[reason] : "closed", false);
}

static virConnectDomainEventGenericCallback callback_of(int id)
{
	switch (id) {
	case VIR_DOMAIN_EVENT_ID_LIFECYCLE: return VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle);
	case VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(on_balloon);
	case VIR_DOMAIN_EVENT_ID_METADATA_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(on_metadata);
	case VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION: return VIR_DOMAIN_EVENT_CALLBACK(on_migration);
	default: return VIR_DOMAIN_EVENT_CALLBACK(on_job);
	}
}

static void host_stop(struct ev_host *h)
{
	if (!h->conn)
		return;
	for (size_t k = 0; k < N_IDS; k++)
		if (h->ids[k] >= 0)
			virConnectDomainEventDeregisterAny(h->conn, h->ids[k]);
	if (h->close_cb)
		virConnectUnregisterCloseCallback(h->conn, on_close);
	virConnectClose(h->conn);
	h->conn = NULL;
}

struct hv_events *hv_events_start(struct hv_session *s, hv_event_fn fn, void *arg)
{
	struct hv_events *e = xcalloc(1, sizeof(*e));

	e->fn = fn;
	e->arg = arg;
	e->refs = 1;
	e->n = s->n;
	e->hosts = xcalloc(s->n + 1, sizeof(*e->hosts));
	for (size_t i = 0; i < s->n; i++) {
		struct ev_host *h = &e->hosts[i];
		virConnectPtr conn = hv_conn(s, i);
		bool ok = true;

		h->e = e;
		h->host = i;
		for (size_t k = 0; k < N_IDS; k++)
			h->ids[k] = -1;
		if (!conn)
			continue;
		virConnectRef(conn);
		h->conn = conn;
		for (size_t k = 0; k < N_IDS; k++) {
			events_get(e);
			h->ids[k] = virConnectDomainEventRegisterAny(conn, NULL, event_ids[k],
								     callback_of(event_ids[k]), h, host_put);
			if (h->ids[k] < 0)
				events_put(e);
			/* metadata and migration events are newer than the rest: a
			 * driver without them still gives lifecycle events */
			if (h->ids[k] < 0 && event_ids[k] == VIR_DOMAIN_EVENT_ID_LIFECYCLE)
				ok = false;
		}
		/* no free callback here: drivers without close callbacks (test:///)
		 * accept the registration and would never call it. libvirt calls
		 * the close callback under the lock that unregistering takes, so
		 * none runs once host_stop() has unregistered it. */
		h->close_cb = virConnectRegisterCloseCallback(conn, on_close, h, NULL) == 0;
		if (!ok) {
			char what[300];
			snprintf(what, sizeof(what), "cannot subscribe to events: %s", hv_last_error());
			host_stop(h);
			deliver(h, HV_EV_CLOSED, NULL, what, false);
			continue;
		}
		e->subscribed++;
	}
	return e;
}

size_t hv_events_hosts(const struct hv_events *e)
{
	return e ? e->subscribed : 0;
}

void hv_events_stop(struct hv_events *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		host_stop(&e->hosts[i]);
	events_put(e);
}
