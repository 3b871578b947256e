/*
 * hv.h - the hypervisor layer over libvirt.
 *
 *  - struct observed: what the hosts really run (plain data, printable,
 *    comparable; saved and read back as a JSON snapshot).
 *  - struct hv_session: connections to every host of a cluster, opened in
 *    parallel with a bounded timeout. Unreachable hosts are marked offline
 *    with the reason; the rest keep working.
 *  - operations on one domain of one host, each returning 0 / -1 and a vem
 *    error (libvirt's own error is read once here and turned into text).
 *
 * Ownership: every domain vem creates carries <vem:vm> metadata (namespace
 * VEM_META_NS) naming the cluster, VM, template, spec hash and source
 * revision. A domain without metadata for this cluster is never changed.
 * Its UUID also starts with the cluster mark (first 4 bytes of
 * sha256(cluster name)) so observation can tell vem's domains apart from
 * foreign ones without an extra round trip.
 *
 * Threads: a session may be used from several threads at once (one
 * libvirt connection per host; libvirt connections are thread-safe).
 */
#ifndef VEM_HV_H
#define VEM_HV_H

#include "schema/model.h"

#define VEM_META_NS "https://vem.dev/xmlns/vem/1"
#define VEM_META_PREFIX "vem"

enum dom_state {
	DOM_RUNNING = 0,
	DOM_STOPPED,          /* shut off (defined, not running) */
	DOM_PAUSED,
	DOM_CRASHED,
	DOM_OTHER,            /* shutting down, blocked, pmsuspended, ... */
};
const char *dom_state_name(enum dom_state s);   /* "running", "stopped", ... */

/* A move of the domain to host that failed for a reason trying again
 * cannot fix (unsafe migration, a hypervisor or pool the host lacks): no
 * plan proposes it again before until. */
struct vem_block {
	char *host;
	int64_t until;         /* ms since the epoch */
	char *revision;        /* of the cluster file then; another one ends the block */
	char *why;
};

/* vem's metadata in a domain it owns. */
struct vem_meta {
	char *cluster;
	char *vm;
	char *template;
	char *spec_hash;
	char *revision;        /* source revision that created/updated it */
	int64_t created_at;    /* ms since the epoch */
	int64_t migrated_at;   /* last live migration, 0 = never */
	char **volumes;        /* storage volume paths vem made for it */
	size_t n_volumes;
	struct vem_block *blocks;  /* failed moves not to repeat (newest per host) */
	size_t n_blocks;
};
void vem_meta_release(struct vem_meta *m);
/* The block on moving m's domain to host at time now under cluster file
 * revision (NULL: any), or NULL. */
const struct vem_block *vem_meta_blocked(const struct vem_meta *m, const char *host, int64_t now,
					 const char *revision);
/* Record (or renew) a block on host until until (revision may be NULL). */
void vem_meta_block(struct vem_meta *m, const char *host, int64_t until, const char *revision,
		    const char *why);

struct obs_domain {
	char *name;
	char uuid[37];
	size_t host;              /* index into observed.hosts */
	bool owned;               /* carries metadata of this cluster */
	bool foreign_meta;        /* carries vem metadata of another cluster (never adopted) */
	struct vem_meta meta;     /* valid when owned */
	enum dom_state state;
	bool persistent;
	int vcpus;
	uint64_t memory;          /* current, bytes */
	uint64_t max_memory;      /* bytes */
	uint64_t cpu_time;        /* ns, cumulative */
	double cpu_load;          /* host CPUs busy (1.0 = one core), -1 unknown */
	uint64_t disk_bytes;      /* bytes on disk of the volumes vem made for it (what
				   * a move copies unless their pool is shared); 0 none
				   * or unknown */
};

struct obs_host {
	char *name;
	char *uri;
	bool online;
	char *error;              /* why offline, or NULL */
	int cpus;                 /* effective capacity (cluster override or node info) */
	uint64_t memory;          /* bytes, effective capacity */
	uint64_t reserve;         /* bytes kept for the host */
	struct labels labels;     /* from the cluster file */
	bool maintenance;         /* from the cluster file */
	char host_uuid[37];
	char *hostname;
	unsigned hv_caps;         /* bitmask of (1u << enum hv_type) the host offers */
	char *lease;              /* "holder since ..." when observed, or NULL */
	/* Names of the host's defined storage pools (apply starts an inactive
	 * one) and active networks, sorted (one
	 * list call each per observation). resources_known is false when they
	 * were not read: the host is offline, the call failed, or a snapshot
	 * of an older vem lacks them; unknown is not missing (nothing is
	 * filtered on it). */
	bool resources_known;
	char **pools;
	size_t n_pools;
	char **networks;
	size_t n_networks;
};
/* Whether h has pool defined (network active); true when unknown. */
bool obs_host_has_pool(const struct obs_host *h, const char *pool);
bool obs_host_has_network(const struct obs_host *h, const char *network);
/* What a VM of cfg needs that h lacks, formatted into buf ("pool 'fast' is
 * not defined"), or NULL: the pool of each disk (and "default" for a
 * cloud-init seed without disks) must be defined and each libvirt network
 * it names active on h. With unknown resources nothing is lacking. */
const char *obs_host_lacks(const struct obs_host *h, const struct vm_config *cfg, char *buf,
			   size_t len);

struct observed {
	struct obs_host *hosts;
	size_t n_hosts;
	struct obs_domain *domains;   /* sorted by host, then name */
	size_t n_domains;
	int64_t taken_at;             /* ms since the epoch */
	char *cluster;                /* cluster name it was observed for */
};

void observed_release(struct observed *o);
/* Index of the host with this name, or -1. */
long observed_host_index(const struct observed *o, const char *name);
/*
 * Owned domains by VM name (a crash mid-migration can leave two of one VM):
 * sorted once, so finding a VM's domains is a binary search. The index
 * points into o and lives no longer than it.
 */
struct obs_vm_index {
	const struct obs_domain **d;
	size_t n;
};
void obs_vm_index_init(struct obs_vm_index *ix, const struct observed *o);
void obs_vm_index_release(struct obs_vm_index *ix);
/* The domains of vm (at most max stored in out, in observed order); returns count. */
size_t obs_vm_index_find(const struct obs_vm_index *ix, const char *vm,
			 const struct obs_domain **out, size_t max);

/* Snapshot I/O (hv/snapshot.c): the JSON that schema/output/snapshot.schema.json
 * describes (vem observe -o FILE, vem plan --observed FILE). */
int observed_write_json(const struct observed *o, struct strbuf *out);
int observed_read_json(const char *path, struct observed *o, struct errbuf *err);
/* Apply the cluster file's host settings (capacity overrides, labels,
 * maintenance, reserve) to observed hosts as observation does, adding hosts
 * the cluster names that the snapshot lacks as offline; URIs are shown
 * with their password masked. */
void observed_apply_cluster(struct observed *o, const struct cluster *c);

/* ---- sessions ---- */

struct hv_options {
	int64_t connect_timeout;     /* ms; an unreachable host is given up after this */
	int64_t shutdown_timeout;    /* ms of graceful shutdown before destroy */
	int64_t sample_window;       /* ms between the two CPU samples (0 = one sample) */
	const char *cache_dir;       /* metadata cache (NULL = default) */
};
void hv_options_default(struct hv_options *o);

struct hv_session;

/* Connect to every host of c in parallel (host i of the session is c->hosts[i],
 * and observed.hosts[i] after hv_observe). c must outlive the session. Never fails as a whole: offline
 * hosts are reported by hv_observe() and through hv_host_online(). */
struct hv_session *hv_session_open(const struct cluster *c,
				   const struct hv_options *opt);
void hv_session_free(struct hv_session *s);
/* The long-running mode keeps a session across rounds, each with a newly
 * loaded cluster: bind s to c, which must name the same hosts (names and
 * URIs, in the same order) as the cluster s was opened for; the caller
 * compares (the old cluster may be gone). -1 when the number differs. */
int hv_session_rebind(struct hv_session *s, const struct cluster *c);
bool hv_host_online(const struct hv_session *s, size_t host);
const char *hv_host_error(const struct hv_session *s, size_t host);

/* Observe all hosts in parallel (one bulk stats call per host). */
int hv_observe(struct hv_session *s, struct observed *out, struct errbuf *err);
/* The same, light: a bulk call per host for the state, and the CPU time
 * when sampling (neither queries a guest's monitor); vCPUs, memory and disk
 * bytes are those of this session's last full observation, and so is the
 * CPU load when not sampling. A host with a domain that was never
 * observed fully gets a full pass. For the long-running mode's rounds
 * started by lifecycle events; a full observation stays the reference. */
int hv_observe_light(struct hv_session *s, struct observed *out, struct errbuf *err);

/* ---- operations (host = index into the cluster's hosts) ---- */

/* Domain XML for one VM on one host (pure; used by define and by tests). */
char *hv_domain_xml(const struct cluster *c, const struct vm_spec *vm,
		    enum hv_type resolved, const char *uuid,
		    const struct vem_meta *meta, struct errbuf *err);
/* auto -> kvm or qemu from the host's capabilities; 0 / -1 when not offered. */
int hv_resolve_type(enum hv_type want, unsigned host_caps, enum hv_type *out);

/* Define (persistent) and, when vm->state is running, start. */
int hv_domain_create(struct hv_session *s, size_t host, const struct vm_spec *vm,
		     struct errbuf *err);
int hv_domain_start(struct hv_session *s, size_t host, const char *name,
		    struct errbuf *err);
/* Graceful shutdown, waiting up to opt.shutdown_timeout, then destroy. */
int hv_domain_stop(struct hv_session *s, size_t host, const char *name,
		   struct errbuf *err);
/* Redefine the persistent config from vm (takes effect at next boot), and
 * apply live what can be applied live (memory within max, vcpus within max). */
int hv_domain_update(struct hv_session *s, size_t host, const struct vm_spec *vm,
		     bool live, struct errbuf *err);
/*
 * Stop if running, undefine, and delete the volumes vem made for it except
 * the data disks it is told to keep: disk i is kept when i < keep_disks
 * (a recreate keeps the disks the new spec still has). The cloud-init seed
 * holds no data and is always deleted, unless keep_disks is HV_KEEP_ALL:
 * then no volume is touched (a duplicate's volumes may be the primary's, on
 * shared storage). Volumes whose names vem cannot read are kept unless
 * keep_disks is 0.
 */
#define HV_KEEP_ALL ((size_t)-1)
int hv_domain_remove(struct hv_session *s, size_t host, const char *name,
		     size_t keep_disks, struct errbuf *err);
/*
 * What a volume vem made holds, from its name (hv/storage.c names them):
 * disk i ("...-disk<i>.qcow2") returns i; the cloud-init seed
 * ("...-seed.iso", rebuilt from the cluster file) returns HV_VOL_SEED;
 * anything else HV_VOL_OTHER (treated as data).
 */
#define HV_VOL_SEED (-1)
#define HV_VOL_OTHER (-2)
long hv_volume_kind(const char *path);
/* Whether hv_domain_remove(..., keep_disks) deletes the volume at path. */
bool hv_volume_deleted(const char *path, size_t keep_disks);

struct hv_migrate_progress {
	uint64_t total, remaining;    /* bytes */
	double rate;                  /* bytes/s */
	int64_t elapsed;              /* ms */
};
typedef void (*hv_progress_fn)(void *opaque, const struct hv_migrate_progress *p);
/* An operation's return value when trying again cannot help until
 * something changes (plain failures return -1 and may be retried). */
#define HV_ERR_DETERMINISTIC (-2)

/*
 * Live-migrate name from host src to host dst: persistent on dst, undefined
 * on src. bandwidth in bytes/s (0 = unlimited), timeout in ms (0 = none): on
 * timeout the job is aborted and the VM keeps running on src; so it is when
 * dst stops answering during the copy (probed every second).
 * Disks in host-local pools move with it (storage.h: storage_move_prepare);
 * the source's copies are deleted once dst runs it.
 * A deterministic failure returns HV_ERR_DETERMINISTIC and records a block
 * on the domain's metadata (struct vem_block) for balance.cooldown (at
 * least 10 minutes); a successful move clears the blocks.
 */
int hv_domain_migrate(struct hv_session *s, size_t src, size_t dst,
		      const char *name, uint64_t bandwidth, int64_t timeout,
		      hv_progress_fn progress, void *opaque, struct errbuf *err);

/*
 * Adopt the domain named vm->name on host (hv/adopt.c): write vem's
 * metadata into it (live and persistent) without restarting it. The spec
 * hash written is vm's when matches (nothing differs), else "adopted" so
 * that the next plan updates it. Refused when the domain carries vem
 * metadata of another cluster; a domain this cluster owns already is left
 * as it is.
 */
#define HV_ADOPTED_HASH "adopted"
int hv_domain_adopt(struct hv_session *s, size_t host, const struct vm_spec *vm,
		    bool matches, struct errbuf *err);

/*
 * Readiness (hv/probe.c): 0 when name runs on host and r's probes pass
 * (guest agent, TCP port); 1 when not, -1 when it cannot be asked (host
 * offline, no such domain); why says what failed. r's settle time is the
 * caller's to wait.
 */
int hv_domain_ready(struct hv_session *s, size_t host, const char *name,
		    const struct readiness_spec *r, struct strbuf *why);
/* Whether r asks for any probe (agent, tcp or settle). */
static inline bool hv_readiness_probed(const struct readiness_spec *r)
{
	return r->agent || r->tcp > 0 || r->settle > 0;
}

/* The libvirt connection of one host (virConnectPtr), for modules such as
 * the lease and image upload that use libvirt directly. NULL when offline. */
void *hv_conn(struct hv_session *s, size_t host);
/* The hypervisors host offers: bitmask of (1u << enum hv_type); 0 when
 * offline or none vem knows (libvirt's test:/// driver offers type 'test'). */
unsigned hv_host_caps(const struct hv_session *s, size_t host);
/* XML of an inert domain on host (never started; for vem's own records such
 * as the lease and the host records): name, uuid, title and metadata
 * (elements placed inside <metadata>), the domain type the host offers. */
char *hv_inert_domain_xml(struct hv_session *s, size_t host, const char *name,
			  const char *uuid, const char *title, const char *metadata);
/* Text of the first <tag> or <prefix:tag> element of xml, entities decoded;
 * NULL when absent. For readers of vem's own metadata (the lease). */
char *hv_xml_text(const char *xml, const char *tag);

#endif
