/*
 * ops.c - operations on one domain of one host. Every operation is safe to
 * repeat and to interrupt: a later run observes what is there and finishes.
 */
#include "hv_priv.h"
#include "cache.h"
#include "storage.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int op_fail(struct hv_session *s, size_t host, const char *name, struct errbuf *err,
		   const char *what)
{
	return err_set(err, "%s '%s' on host '%s': %s", what, name, s->c->hosts[host].name,
		       hv_last_error());
}

static virDomainPtr lookup(struct hv_session *s, size_t host, const char *name,
			   struct errbuf *err)
{
	virDomainPtr d;
	if (!hv_host_online(s, host)) {
		err_set(err, "host '%s' is offline: %s", s->c->hosts[host].name,
			hv_host_error(s, host) ? hv_host_error(s, host) : "not connected");
		return NULL;
	}
	d = virDomainLookupByName(s->hosts[host].conn, name);
	if (!d)
		op_fail(s, host, name, err, "cannot find domain");
	return d;
}

static bool domain_missing(void)
{
	virErrorPtr e = virGetLastError();
	return e && e->code == VIR_ERR_NO_DOMAIN;
}

/* Metadata vem keeps on a domain it owns; -1 when it has none. */
static int read_meta(virDomainPtr d, struct vem_meta *m)
{
	char *xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0);
	int rc;

	memset(m, 0, sizeof(*m));
	rc = xml ? hv_meta_parse(xml, m) : -1;
	free(xml);
	return rc;
}

static void cache_refresh(struct hv_session *s, size_t host, virDomainPtr d,
			  const struct vem_meta *m, const struct vm_config *cfg)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	if (!s->cache || virDomainGetUUIDString(d, uuid) < 0)
		return;
	pthread_mutex_lock(&s->cache_lock);
	if (m && cfg)
		meta_cache_put(s->cache, s->hosts[host].host_uuid, uuid, m, cfg->vcpus, cfg->max_memory);
	else
		meta_cache_forget(s->cache, s->hosts[host].host_uuid, uuid);
	pthread_mutex_unlock(&s->cache_lock);
}

int hv_meta_set(virDomainPtr d, const struct vem_meta *m, unsigned flags)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	hv_meta_xml_bare(&sb, m);
	rc = virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, sb.buf, VEM_META_PREFIX,
				  VEM_META_NS, flags);
	strbuf_release(&sb);
	return rc < 0 ? -1 : 0;
}

/* existing: the domain being redefined (its UUID is kept: an adopted
 * domain's lacks the cluster mark), or NULL for a new one. */
static char *build_xml(struct hv_session *s, size_t host, const struct vm_spec *vm,
		       const struct vem_meta *meta, virDomainPtr existing, struct errbuf *err)
{
	enum hv_type t;
	char uuid[37];

	if (hv_resolve_type(vm->cfg.hypervisor, s->hosts[host].caps, &t)) {
		err_set(err, "vm '%s': host '%s' does not offer hypervisor '%s'", vm->name,
			s->c->hosts[host].name, hv_type_name(vm->cfg.hypervisor));
		return NULL;
	}
	if (!existing || virDomainGetUUIDString(existing, uuid) < 0)
		hv_uuid_for(s->c->name, vm->name, uuid);
	return hv_domain_xml(s->c, vm, t, uuid, meta, err);
}

static int start_domain(struct hv_session *s, size_t host, virDomainPtr d, const char *name,
			struct errbuf *err)
{
	int active = virDomainIsActive(d);
	if (active == 1)
		return 0;
	if (virDomainCreate(d) < 0) {
		if (virDomainIsActive(d) == 1)
			return 0;
		return op_fail(s, host, name, err, "cannot start");
	}
	return 0;
}

int hv_domain_create(struct hv_session *s, size_t host, const struct vm_spec *vm,
		     struct errbuf *err)
{
	struct vem_meta meta;
	virDomainPtr d = NULL;
	char *xml = NULL;
	int rc = -1;

	if (!hv_host_online(s, host))
		return err_set(err, "host '%s' is offline", s->c->hosts[host].name);
	memset(&meta, 0, sizeof(meta));
	meta.cluster = xstrdup(s->c->name);
	meta.vm = xstrdup(vm->name);
	meta.template = xstrdup(vm->template);
	meta.spec_hash = xstrdup(vm->spec_hash);
	meta.revision = xstrdup(s->c->revision);
	meta.created_at = time_now_ms();

	/* A domain of that name may be left by a run killed mid-create: adopt
	 * it when it is ours, refuse when it is not. */
	d = virDomainLookupByName(s->hosts[host].conn, vm->name);
	if (d) {
		struct vem_meta old;
		if (read_meta(d, &old) || !str_eq(old.cluster, s->c->name)) {
			vem_meta_release(&old);
			err_set(err, "vm '%s': host '%s' already has a domain of that name that "
				"this cluster does not own", vm->name, s->c->hosts[host].name);
			goto out;
		}
		meta.created_at = old.created_at ? old.created_at : meta.created_at;
		vem_meta_release(&old);
		virDomainFree(d);
		d = NULL;
	}
	if (storage_vm_needs_volumes(vm) && storage_prepare_vm(s, host, vm, &meta, err))
		goto out;
	xml = build_xml(s, host, vm, &meta, NULL, err);
	if (!xml)
		goto out;
	d = virDomainDefineXML(s->hosts[host].conn, xml);
	if (!d) {
		op_fail(s, host, vm->name, err, "cannot define");
		goto out;
	}
	cache_refresh(s, host, d, &meta, &vm->cfg);
	if (vm->cfg.autostart)
		virDomainSetAutostart(d, 1);
	if (vm->state == VM_RUNNING && start_domain(s, host, d, vm->name, err))
		goto out;
	rc = 0;
out:
	if (d)
		virDomainFree(d);
	free(xml);
	vem_meta_release(&meta);
	return rc;
}

int hv_domain_start(struct hv_session *s, size_t host, const char *name, struct errbuf *err)
{
	virDomainPtr d = lookup(s, host, name, err);
	int rc;
	if (!d)
		return -1;
	rc = start_domain(s, host, d, name, err);
	virDomainFree(d);
	return rc;
}

static int stop_domain(struct hv_session *s, size_t host, virDomainPtr d, const char *name,
		       struct errbuf *err)
{
	int64_t deadline = time_mono_ms() + s->opt.shutdown_timeout;
	int state = 0, reason;

	if (virDomainIsActive(d) != 1)
		return 0;
	if (s->opt.shutdown_timeout > 0 && virDomainShutdown(d) == 0) {
		while (time_mono_ms() < deadline) {
			if (virDomainGetState(d, &state, &reason, 0) == 0) {
				if (state == VIR_DOMAIN_SHUTOFF)
					return 0;
			} else if (virConnectIsAlive(virDomainGetConnect(d)) != 1) {
				/* keepalive gave the host up: do not wait out the timeout */
				return err_set(err, "lost host '%s' while stopping '%s': it stopped "
					       "answering (keepalive)", s->c->hosts[host].name, name);
			}
			usleep(200 * 1000);
		}
	}
	if (virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1)
		return op_fail(s, host, name, err, "cannot stop");
	return 0;
}

int hv_domain_stop(struct hv_session *s, size_t host, const char *name, struct errbuf *err)
{
	virDomainPtr d = lookup(s, host, name, err);
	int rc;
	if (!d)
		return -1;
	rc = stop_domain(s, host, d, name, err);
	virDomainFree(d);
	return rc;
}

int hv_domain_update(struct hv_session *s, size_t host, const struct vm_spec *vm, bool live,
		     struct errbuf *err)
{
	virDomainPtr d = lookup(s, host, vm->name, err);
	struct vem_meta meta;
	char *xml = NULL;
	int rc = -1;

	if (!d)
		return -1;
	if (read_meta(d, &meta) || !str_eq(meta.cluster, s->c->name)) {
		err_set(err, "vm '%s' on host '%s' is not owned by this cluster", vm->name,
			s->c->hosts[host].name);
		goto out;
	}
	free(meta.spec_hash);
	meta.spec_hash = xstrdup(vm->spec_hash);
	free(meta.template);
	meta.template = xstrdup(vm->template);
	free(meta.revision);
	meta.revision = xstrdup(s->c->revision);
	xml = build_xml(s, host, vm, &meta, d, err);
	if (!xml)
		goto out;
	{
		virDomainPtr nd = virDomainDefineXML(s->hosts[host].conn, xml);
		if (!nd) {
			op_fail(s, host, vm->name, err, "cannot redefine");
			goto out;
		}
		virDomainFree(nd);
	}
	virDomainSetAutostart(d, vm->cfg.autostart ? 1 : 0);
	if (live && virDomainIsActive(d) == 1) {
		/* the running domain's metadata too, so observation sees the new hash */
		hv_meta_set(d, &meta, VIR_DOMAIN_AFFECT_LIVE);
		/* only a changed count: LXC implements no virDomainSetVcpusFlags */
		virDomainInfo info;
		if ((virDomainGetInfo(d, &info) < 0 || info.nrVirtCpu != (unsigned)vm->cfg.vcpus) &&
		    virDomainSetVcpusFlags(d, (unsigned)vm->cfg.vcpus, VIR_DOMAIN_AFFECT_LIVE) < 0) {
			virErrorPtr e = virGetLastError();
			if (!e || e->code != VIR_ERR_OPERATION_INVALID) {
				op_fail(s, host, vm->name, err, "cannot set the vCPUs of");
				goto out;
			}
		}
		if (virDomainSetMemoryFlags(d, vm->cfg.memory / 1024, VIR_DOMAIN_AFFECT_LIVE) < 0) {
			op_fail(s, host, vm->name, err, "cannot set the memory of");
			goto out;
		}
	}
	cache_refresh(s, host, d, NULL, NULL);
	rc = 0;
out:
	vem_meta_release(&meta);
	free(xml);
	virDomainFree(d);
	return rc;
}

long hv_volume_kind(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *p;
	int64_t i;
	char *num;
	long rc = HV_VOL_OTHER;

	base = base ? base + 1 : path;
	if (!str_starts_with(base, "vem-"))
		return HV_VOL_OTHER;
	if (str_ends_with(base, "-seed.iso"))
		return HV_VOL_SEED;
	if (!str_ends_with(base, ".qcow2") || !(p = strstr(base, "-disk")))
		return HV_VOL_OTHER;
	/* the last "-disk<digits>.qcow2" */
	for (const char *q = p; (q = strstr(q + 1, "-disk")); )
		p = q;
	num = xstrndup(p + 5, strlen(p + 5) - strlen(".qcow2"));
	if (*num && strspn(num, "0123456789") == strlen(num) && strlen(num) < 6 &&
	    !parse_int64(num, &i))
		rc = (long)i;
	free(num);
	return rc;
}

bool hv_volume_deleted(const char *path, size_t keep_disks)
{
	long k;

	if (keep_disks == HV_KEEP_ALL)
		return false;
	k = hv_volume_kind(path);
	if (k == HV_VOL_SEED)
		return true;
	if (k == HV_VOL_OTHER)
		return keep_disks == 0;
	return (size_t)k >= keep_disks;
}

int hv_domain_remove(struct hv_session *s, size_t host, const char *name, size_t keep_disks,
		     struct errbuf *err)
{
	virDomainPtr d;
	struct vem_meta meta;
	char **del = NULL;
	size_t n_del = 0;
	int rc = -1;

	if (!hv_host_online(s, host))
		return err_set(err, "host '%s' is offline", s->c->hosts[host].name);
	d = virDomainLookupByName(s->hosts[host].conn, name);
	if (!d)
		return domain_missing() ? 0 : op_fail(s, host, name, err, "cannot find domain");
	if (read_meta(d, &meta) || !str_eq(meta.cluster, s->c->name)) {
		vem_meta_release(&meta);
		virDomainFree(d);
		return err_set(err, "refusing to remove '%s' on host '%s': not owned by this cluster",
			       name, s->c->hosts[host].name);
	}
	if (stop_domain(s, host, d, name, err))
		goto out;
	del = xcalloc(meta.n_volumes + 1, sizeof(*del));
	for (size_t i = 0; i < meta.n_volumes; i++)
		if (hv_volume_deleted(meta.volumes[i], keep_disks))
			del[n_del++] = meta.volumes[i];
	/* volumes first: killed before the undefine, the next run removes the
	 * domain again and finds nothing left to delete */
	if (n_del && storage_delete_volumes(s, host, del, n_del, err))
		goto out;
	if (virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
				      VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
				      VIR_DOMAIN_UNDEFINE_NVRAM) < 0 &&
	    virDomainUndefine(d) < 0 && !domain_missing()) {
		op_fail(s, host, name, err, "cannot undefine");
		goto out;
	}
	cache_refresh(s, host, d, NULL, NULL);
	rc = 0;
out:
	free(del);
	vem_meta_release(&meta);
	virDomainFree(d);
	return rc;
}

/* ---- live migration ---- */

bool hv_error_deterministic(int code)
{
	switch (code) {
	case VIR_ERR_MIGRATE_UNSAFE:          /* no shared storage, unsafe cache mode */
	case VIR_ERR_NO_SUPPORT:              /* the driver does not implement it */
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_CONFIG_UNSUPPORTED:      /* hypervisor, machine, device the host lacks */
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_NO_STORAGE_POOL:
	case VIR_ERR_NO_NETWORK:
	case VIR_ERR_CPU_INCOMPATIBLE:
	case VIR_ERR_XML_ERROR:
	case VIR_ERR_XML_DETAIL:
	case VIR_ERR_INVALID_ARG:
		return true;
	default:                              /* connection, I/O, timeouts, aborts, ... */
		return false;
	}
}

/* Remember on the domain (live and config) that moving it to dst failed
 * deterministically; plans skip that move until the block ends. */
static void migrate_block(struct hv_session *s, size_t src, size_t dst, virDomainPtr d,
			  struct vem_meta *meta, const char *why)
{
	int64_t cooldown = s->c->balance.cooldown > 600000 ? s->c->balance.cooldown : 600000;

	vem_meta_block(meta, s->c->hosts[dst].name, time_now_ms() + cooldown, s->c->revision, why);
	if (hv_meta_set(d, meta, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG) &&
	    hv_meta_set(d, meta, VIR_DOMAIN_AFFECT_CURRENT))
		fprintf(stderr, "warning: cannot record on '%s' that its move to '%s' failed: %s\n",
			meta->vm, s->c->hosts[dst].name, hv_last_error());
	cache_refresh(s, src, d, NULL, NULL);
}

struct migrate_watch {
	virDomainPtr dom;
	virConnectPtr dconn;         /* the destination, probed while the copy runs */
	int64_t timeout;
	hv_progress_fn progress;
	void *opaque;
	volatile bool done;
	bool timed_out;
	bool dst_lost;
};

/* How often the watcher asks the destination whether it still answers. */
#define MIGRATE_PROBE_MS 1000

/*
 * The destination stopped answering: its connection failed a call and is
 * closed (the call is bounded by hv_transport_bound, the connection by
 * libvirt's keepalive). A plain error on a live connection is not a loss.
 */
static bool migrate_dst_lost(virConnectPtr dconn)
{
	unsigned long v;

	if (virConnectIsAlive(dconn) == 1 && virConnectGetLibVersion(dconn, &v) == 0)
		return false;
	return virConnectIsAlive(dconn) != 1;
}

/*
 * Runs beside virDomainMigrate3: aborts the job on timeout, or when the
 * destination stops answering. Without the second, a destination that
 * dies or is cut off in the middle of the copy leaves the source's QEMU
 * sending into a TCP connection nobody acknowledges (its migration socket
 * has no user timeout), and the call waits for the timeout (minutes) while
 * this run holds the lease; libvirt on the source does not talk to the
 * destination in a client-driven migration, so nothing else ends it.
 * After the abort QEMU cancels the migration and the source resumes the VM.
 */
static void *watch_migration(void *arg)
{
	struct migrate_watch *w = arg;
	int64_t start = time_mono_ms(), probed = start;

	while (!w->done) {
		virDomainJobInfo info;
		usleep(200 * 1000);
		if (w->done)
			break;
		if (w->timeout > 0 && time_mono_ms() - start > w->timeout) {
			w->timed_out = true;
			virDomainAbortJob(w->dom);
			break;
		}
		if (w->dconn && time_mono_ms() - probed >= MIGRATE_PROBE_MS) {
			probed = time_mono_ms();
			if (!w->done && migrate_dst_lost(w->dconn)) {
				w->dst_lost = true;
				virDomainAbortJob(w->dom);
				break;
			}
		}
		if (w->progress && virDomainGetJobInfo(w->dom, &info) == 0 &&
		    info.type != VIR_DOMAIN_JOB_NONE) {
			/* data = memory + the disks libvirt copies */
			struct hv_migrate_progress p;
			p.total = info.dataTotal;
			p.remaining = info.dataRemaining;
			p.elapsed = (int64_t)info.timeElapsed;
			p.rate = info.timeElapsed ? (double)info.dataProcessed * 1000.0 / (double)info.timeElapsed : 0;
			w->progress(w->opaque, &p);
		}
	}
	return NULL;
}

/*
 * After a migration with host-local disks: once dst runs the domain and src
 * has none left, the source's copies of its volumes go (never a volume of a
 * shared pool: that is the one dst uses). A failure here is
 * a warning, not a failed move (the VM runs on dst with its data).
 */
static void migrate_drop_source(struct hv_session *s, size_t src, size_t dst, const char *name,
				virDomainPtr nd, const struct storage_move *mv)
{
	struct errbuf err = ERRBUF_INIT;
	virDomainPtr left;

	if (virDomainIsActive(nd) != 1) {
		fprintf(stderr, "warning: '%s' is not running on host '%s' after its migration: "
			"its volumes on host '%s' are kept\n", name, s->c->hosts[dst].name,
			s->c->hosts[src].name);
		return;
	}
	left = virDomainLookupByName(s->hosts[src].conn, name);
	if (left) {
		virDomainFree(left);
		fprintf(stderr, "warning: host '%s' still defines '%s' after its migration: its "
			"volumes there are kept\n", s->c->hosts[src].name, name);
		return;
	}
	if (storage_delete_volumes(s, src, mv->local, mv->n_local, &err))
		err_print(&err, stderr, "warning");
	errbuf_release(&err);
}

int hv_domain_migrate(struct hv_session *s, size_t src, size_t dst, const char *name,
		      uint64_t bandwidth, int64_t timeout, hv_progress_fn progress,
		      void *opaque, struct errbuf *err)
{
	virDomainPtr d, nd = NULL;
	virTypedParameterPtr params = NULL;
	int nparams = 0, maxparams = 0;
	struct migrate_watch w;
	pthread_t th;
	bool watching;
	struct vem_meta meta;
	struct storage_move mv;
	unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
	int rc = -1;

	memset(&mv, 0, sizeof(mv));

	if (!hv_host_online(s, dst))
		return err_set(err, "cannot migrate '%s': host '%s' is offline", name, s->c->hosts[dst].name);
	d = lookup(s, src, name, err);
	if (!d)
		return -1;
	if (read_meta(d, &meta) || !str_eq(meta.cluster, s->c->name)) {
		vem_meta_release(&meta);
		virDomainFree(d);
		return err_set(err, "refusing to migrate '%s': not owned by this cluster", name);
	}
	if (bandwidth)
		virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
					bandwidth / (1024 * 1024) ? bandwidth / (1024 * 1024) : 1);
	if (meta.n_volumes) {
		/* host-local disks: made on dst first, then copied by libvirt */
		char *dxml = virDomainGetXMLDesc(d, 0);
		int prc = dxml ? storage_move_prepare(s, src, dst, name, dxml, &meta, &mv, err) :
			  op_fail(s, src, name, err, "cannot read the XML of");
		free(dxml);
		if (prc == HV_ERR_DETERMINISTIC) {
			migrate_block(s, src, dst, d, &meta, err_msg(err));
			rc = prc;
		}
		if (prc)
			goto out;
		for (size_t i = 0; i < mv.n_copy; i++)
			virTypedParamsAddString(&params, &nparams, &maxparams,
						VIR_MIGRATE_PARAM_MIGRATE_DISKS, mv.copy[i]);
		if (mv.n_copy)
			flags |= VIR_MIGRATE_NON_SHARED_INC;
	}
	memset(&w, 0, sizeof(w));
	w.dom = d;
	w.dconn = s->hosts[dst].conn;
	w.timeout = timeout;
	w.progress = progress;
	w.opaque = opaque;
	watching = !pthread_create(&th, NULL, watch_migration, &w);
	nd = virDomainMigrate3(d, s->hosts[dst].conn, params, (unsigned)nparams, flags);
	w.done = true;
	if (watching)
		pthread_join(th, NULL);
	if (!nd) {
		int st = 0, reason;
		virErrorPtr e = virGetLastError();
		bool fixed = !w.timed_out && !w.dst_lost && e && hv_error_deterministic(e->code);
		char *why = w.timed_out ? xstrdup("timed out, aborted") :
			    w.dst_lost ? xasprintf("host '%s' stopped answering during the migration, aborted",
						   s->c->hosts[dst].name) :
			    xstrdup(hv_last_error());
		bool still = virDomainGetState(d, &st, &reason, 0) == 0 && st == VIR_DOMAIN_RUNNING;
		err_set(err, "migration of '%s' from '%s' to '%s' failed: %s; %s%s", name,
			s->c->hosts[src].name, s->c->hosts[dst].name, why,
			still ? "it keeps running on the source" : "check its state on the source",
			fixed ? " (not tried again until something changes)" : "");
		storage_move_undo(s, dst, name, &mv, err);
		if (fixed) {
			migrate_block(s, src, dst, d, &meta, why);
			rc = HV_ERR_DETERMINISTIC;
		}
		free(why);
		goto out;
	}
	/* record the move, on the running domain and its persistent config;
	 * blocks end with a move that worked */
	meta.migrated_at = time_now_ms();
	for (size_t i = 0; i < meta.n_blocks; i++) {
		free(meta.blocks[i].host);
		free(meta.blocks[i].revision);
		free(meta.blocks[i].why);
	}
	free(meta.blocks);
	meta.blocks = NULL;
	meta.n_blocks = 0;
	if (hv_meta_set(nd, &meta, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG))
		fprintf(stderr, "warning: cannot record the move on '%s': %s\n", name,
			hv_last_error());
	cache_refresh(s, dst, nd, NULL, NULL);
	cache_refresh(s, src, d, NULL, NULL);
	if (mv.n_local)
		migrate_drop_source(s, src, dst, name, nd, &mv);
	rc = 0;
out:
	storage_move_release(&mv);
	virTypedParamsFree(params, nparams);
	vem_meta_release(&meta);
	if (nd)
		virDomainFree(nd);
	virDomainFree(d);
	return rc;
}

char *hv_inert_domain_xml(struct hv_session *s, size_t host, const char *name,
			  const char *uuid, const char *title, const char *metadata)
{
	unsigned caps = hv_host_caps(s, host);
	const char *type, *os;
	struct strbuf sb = STRBUF_INIT;

	if (caps & ((1u << HV_QEMU) | (1u << HV_KVM))) {
		type = caps & (1u << HV_QEMU) ? "qemu" : "kvm";
		os = "<type arch='x86_64'>hvm</type>";
	} else if (caps & (1u << HV_XEN)) {
		type = "xen";
		os = "<type>xen</type><kernel>/dev/null</kernel>";
	} else if (caps & (1u << HV_LXC)) {
		type = "lxc";
		os = "<type>exe</type><init>/bin/true</init>";
	} else {
		/* libvirt's test driver offers only type 'test' */
		const char *drv = virConnectGetType(hv_conn(s, host));
		bool test = drv && !strcasecmp(drv, "test");
		type = test ? "test" : "lxc";
		os = test ? "<type arch='x86_64'>hvm</type>" : "<type>exe</type><init>/bin/true</init>";
	}
	strbuf_addf(&sb, "<domain type='%s'>\n  <name>", type);
	strbuf_add_xml(&sb, name);
	strbuf_addf(&sb, "</name>\n  <uuid>%s</uuid>\n  <title>", uuid);
	strbuf_add_xml(&sb, title);
	strbuf_addf(&sb, "</title>\n  <metadata>\n%s  </metadata>\n  <memory unit='KiB'>1024</memory>\n"
		    "  <vcpu>1</vcpu>\n  <os>%s</os>\n</domain>\n", metadata, os);
	return strbuf_detach(&sb, NULL);
}
