/*
 * model.h - the desired state: what the cluster file describes.
 *
 * A struct cluster is produced by the loader (schema/load.h) with every
 * default applied, templates merged into VMs and replicas expanded, so the
 * rest of vem never looks at templates or YAML again. Everything in it is
 * owned by the cluster and freed by cluster_free().
 *
 * Units: memory and sizes in bytes, durations in milliseconds.
 */
#ifndef VEM_MODEL_H
#define VEM_MODEL_H

#include "util/util.h"

enum hv_type {
	HV_AUTO = 0,    /* kvm where the host offers it, else qemu (TCG) */
	HV_KVM,
	HV_QEMU,
	HV_XEN,
	HV_LXC,
};
const char *hv_type_name(enum hv_type t);             /* "auto", "kvm", ... */
int hv_type_parse(const char *s, enum hv_type *out);   /* 0 / -1 */

enum vm_state {
	VM_RUNNING = 0,
	VM_STOPPED,
};

/* Where a value came from in the cluster file (for later errors). */
struct loc {
	const char *file;   /* interned by the cluster; do not free */
	int line, col;
};

struct label {
	char *key, *value;
};

struct labels {
	struct label *items;   /* sorted by key */
	size_t nr;
};
const char *labels_get(const struct labels *l, const char *key);

/* How to power a host off when it stops answering (high availability,
 * reconciler/ha.h): a fence agent of the fence-agents package. */
struct fence_spec {
	char *agent;           /* "fence_ipmilan": a plain fence_* name in /usr/sbin; NULL: none */
	struct labels options; /* agent options (ip, username, password, plug, ...) */
};

struct host_spec {
	char *name;
	char *uri;
	struct labels labels;
	int cpus;              /* 0: read from the host */
	uint64_t memory;       /* 0: read from the host */
	uint64_t reserve;      /* memory kept free for the host itself */
	bool maintenance;
	struct fence_spec fence;
	struct loc loc;
};

struct image_spec {
	char *name;
	char *url;
	char *sha256;          /* lowercase hex, 64 chars */
	char *format;          /* "qcow2" | "raw" */
	struct loc loc;
};

struct disk_spec {
	uint64_t size;         /* bytes; 0 = image's own size */
	char *image;           /* image name, or NULL for a blank disk */
	char *bus;             /* "virtio" | "sata" | "scsi" | "ide" */
	char *pool;            /* libvirt storage pool of its volume; NULL = "default" */
};
/* The pool disk d's volume is made in ("default" unless it names one). */
const char *disk_pool(const struct disk_spec *d);

struct net_spec {
	char *network;         /* libvirt network name, or NULL */
	char *bridge;          /* host bridge name, or NULL (exactly one is set) */
	char *mac;             /* "52:54:00:..." or NULL (libvirt picks) */
	char *model;           /* "virtio" default */
};

/*
 * When a VM counts as ready (docs/rolling.md): running, and every probe
 * set here passing. No probe: ready when running. A create, restart or
 * recreate is done when the VM is ready; a rollout waits for it.
 */
struct readiness_spec {
	bool agent;            /* the QEMU guest agent answers guest-ping (adds its channel) */
	int tcp;               /* a TCP port that accepts connections on the guest's address; 0 none */
	int64_t settle;        /* ms the VM must have been running (counted by vem after a start) */
	int64_t timeout;       /* ms to wait for readiness before the rollout halts */
};

/*
 * How changes that interrupt a VM roll over its group: max_unavailable
 * members at once (> 0: a count; < 0: a percentage of the group, -25 =
 * 25%, at least one VM; 0: unset, the cluster's value applies).
 */
struct rollout_spec {
	int max_unavailable;
	bool migrations;       /* cluster-wide: migrations roll too */
};

/* The hypervisor-neutral description of one VM. */
struct vm_config {
	enum hv_type hypervisor;
	int vcpus;
	int max_vcpus;         /* >= vcpus; hot-plug headroom */
	uint64_t memory;       /* bytes */
	uint64_t max_memory;   /* bytes, >= memory; balloon ceiling */
	char *cpu_mode;        /* "host-passthrough" | "host-model" | "maximum" | NULL (hypervisor default) */
	struct disk_spec *disks;
	size_t n_disks;
	struct net_spec *nets;
	size_t n_nets;
	char *kernel, *initrd, *cmdline;   /* direct kernel boot (paths on the host) */
	char *user_data, *meta_data, *network_config;  /* cloud-init files (local paths) */
	bool autostart;
	struct readiness_spec readiness;
};

struct template_spec {
	char *name;
	struct vm_config cfg;
	struct loc loc;
};

struct placement_spec {
	char **hosts;          /* allowed host names; empty = all */
	size_t n_hosts;
	struct labels labels;  /* required host labels */
	char *spread;          /* anti-affinity group or NULL */
	char *together;        /* affinity group or NULL */
};

/* What high availability does with a VM whose host is down and fenced. */
struct vm_ha {
	char *policy;          /* "restart" | "recreate" | "none"; NULL: restart where
				* its disks survive the host (shared pools, or none) */
	int priority;          /* higher first when survivors cannot take all */
};

struct vm_spec {
	char *name;            /* "api-1" */
	char *group;           /* the vms: entry it came from ("api") */
	int replica;           /* index within the group, -1 without replicas */
	char *template;        /* template name or NULL */
	struct vm_config cfg;  /* template + overrides + defaults */
	enum vm_state state;
	struct placement_spec placement;
	struct rollout_spec rollout;   /* the vms: entry's (max_unavailable 0 = cluster's) */
	bool adopt;            /* a domain of this name without vem metadata may be adopted */
	/*
	 * Hash of everything that defines the domain (cfg, name, cluster), 16
	 * hex chars. Equal hashes mean no update is needed.
	 */
	char spec_hash[17];
	struct vm_ha ha;
	struct loc loc;
};

enum balance_mode { BALANCE_SPREAD, BALANCE_PACK };   /* as e_balance_mode in keys.c */

struct balance_spec {
	bool enabled;
	int mode;              /* enum balance_mode */
	double pack_headroom;  /* pack: share of each capacity kept free */
	double w_cpu;          /* weight of measured CPU load */
	double w_memory;       /* weight of reserved memory */
	double w_vcpu;         /* weight of vCPU ratio */
	double threshold;      /* act when the imbalance score exceeds this */
	double min_gain;       /* each migration lowers the score at least this */
	int max_migrations;    /* per reconcile */
	int max_parallel;      /* migrations at once */
	int64_t cooldown;      /* ms */
	double vcpu_overcommit;   /* max vCPUs per host CPU (hard limit) */
	uint64_t bandwidth;    /* bytes/s migration limit, 0 = none */
	int64_t migration_timeout; /* ms */
	int64_t sample_window; /* ms of CPU sampling */
};

/* Storage that is one and the same on every host (NFS, Ceph RBD, iSCSI, a
 * shared dir): a VM's volumes there move without being copied. */
struct storage_spec {
	char **shared_pools;   /* libvirt storage pool names */
	size_t n_shared_pools;
};
/* Whether pool is declared shared. */
bool storage_pool_shared(const struct storage_spec *st, const char *pool);

/* Detection of dead hosts (reconciler/ha.h). */
struct ha_spec {
	int64_t host_down_after;   /* ms a host is unreachable before it is down */
	int confirmations;         /* failed observations needed too */
};

struct cluster {
	char *name;
	struct host_spec *hosts;
	size_t n_hosts;
	struct image_spec *images;
	size_t n_images;
	struct template_spec *templates;
	size_t n_templates;
	struct vm_spec *vms;    /* expanded, sorted by name */
	size_t n_vms;
	struct balance_spec balance;
	struct rollout_spec rollout;   /* cluster-wide rollout settings */
	char **allow_destroy;   /* VM name patterns whose data may be destroyed */
	size_t n_allow_destroy;
	struct storage_spec storage;
	struct ha_spec ha;
	char *source;           /* where it was loaded from (path or URL) */
	char *revision;         /* commit id or "sha256:..." of the content */
	char **files;           /* interned file names used by struct loc */
	size_t n_files;
};

void cluster_free(struct cluster *c);
void storage_spec_release(struct storage_spec *st);
/* Members of vm's group that may be unavailable at once (>= 1). */
int cluster_max_unavailable(const struct cluster *c, const struct vm_spec *vm, size_t group_size);
const struct host_spec *cluster_host(const struct cluster *c, const char *name);
const struct vm_spec *cluster_vm(const struct cluster *c, const char *name);
const struct image_spec *cluster_image(const struct cluster *c, const char *name);
/* Fill the spec_hash of every VM (called by the loader). */
void cluster_hash_vms(struct cluster *c);

#endif
