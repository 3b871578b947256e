/*
 * hv_priv.h - internals of the hypervisor layer shared by its files and
 * its tests.
 */
#ifndef VEM_HV_PRIV_H
#define VEM_HV_PRIV_H

#include "hv.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>

struct hv_host {
	size_t idx;
	const struct host_spec *spec;
	virConnectPtr conn;
	bool online;
	char *error;
	int cpus;                   /* from the host (virNodeGetInfo) */
	uint64_t memory;
	char host_uuid[37];
	char *hostname;
	unsigned caps;
	bool no_bulk_stats;         /* its driver lacks virConnectGetAllDomainStats (LXC):
				     * observed with per-domain calls (observe.c) */
};

struct hv_session {
	const struct cluster *c;
	struct hv_options opt;
	struct hv_host *hosts;
	size_t n;
	pthread_mutex_t cache_lock;
	struct meta_cache *cache;   /* cache.h; loaded by the first observation */
};

/* transport.c: every TCP socket of the process without a user timeout gets
 * TCP_USER_TIMEOUT ms and keepalive probes, so a call on a host that died
 * fails within about ms instead of waiting on TCP for minutes (libvirt's
 * own keepalive does not end every such wait). Returns how many it set. */
size_t hv_transport_bound(int64_t ms);
#define HV_TRANSPORT_MIN_MS 2000

/* UUIDs of vem's domains: the cluster mark, then a hash of the VM name. */
void hv_uuid_for(const char *cluster, const char *vm, char out[37]);
bool hv_uuid_marked(const char *cluster, const char *uuid);
/* The <vem:vm> element (for <metadata> in a domain's XML). */
void hv_meta_xml(struct strbuf *sb, const struct vem_meta *m, const char *indent);
/* The same without prefix and namespace declaration, the form
 * virDomainSetMetadata takes (it adds the namespace itself). */
void hv_meta_xml_bare(struct strbuf *sb, const struct vem_meta *m);
/* The target dev vem gives the file's disk i (d) in a domain of type t:
 * "vda", "sdb", "xvdc"... written into buf, which is returned. */
const char *hv_disk_target(enum hv_type t, const struct disk_spec *d, size_t i, char buf[16]);
/* Replace the vem metadata of d (flags: VIR_DOMAIN_AFFECT_*); 0 / -1. */
int hv_meta_set(virDomainPtr d, const struct vem_meta *m, unsigned flags);
int hv_meta_parse(const char *xml, struct vem_meta *m);
void vem_meta_copy(struct vem_meta *dst, const struct vem_meta *src);
/* Capabilities XML -> bitmask of (1 << enum hv_type), host UUID. */
unsigned hv_caps_parse(const char *caps_xml, char host_uuid[37]);
/* "qemu+tcp://user:secret@h/system" -> "qemu+tcp://user@h/system" */
char *hv_uri_display(const char *uri);
/* msg as one line with uri's password masked. */
char *hv_error_scrub(const char *uri, const char *msg);
/* Whether libvirt error code (virErrorNumber) is one that trying again
 * cannot fix: unsafe migration, unsupported operation or configuration, a
 * missing pool, network or hypervisor, incompatible CPU. */
bool hv_error_deterministic(int code);
/* libvirt's last error as text (never NULL). */
const char *hv_last_error(void);

/* The cluster file's settings of host hs on observed host h (observation
 * and snapshots alike): its name and URI when h has none, the URI's
 * password masked either way; capacity overrides, reserve, maintenance;
 * labels replaced by the file's. */
void obs_host_apply_spec(struct obs_host *h, const struct host_spec *hs);

/* observed_read_json() on text in memory; path names it in errors (the
 * fuzz target and tests). */
int observed_read_json_buffer(const char *path, const char *buf, size_t len,
			      struct observed *o, struct errbuf *err);

/* Set h's active pools and networks (takes the arrays and their strings;
 * sorts them) and mark them known (observe.c; snapshots read them too). */
void obs_host_set_resources(struct obs_host *h, char **pools, size_t n_pools, char **networks,
			    size_t n_networks);

/* 0 when a TCP connection to addr:port (IPv4 or IPv6 literal) opens
 * within timeout_ms (probe.c). */
int hv_tcp_probe(const char *addr, int port, int timeout_ms);
/* Whether a guest address is worth a TCP probe from the machine vem runs
 * on: not loopback (127/8, ::1), link-local (169.254/16, fe80::/10) or
 * unspecified; false for what is no IP literal (probe.c). */
bool hv_probe_addr_usable(const char *addr);

#endif
