/*
 * cache.h - what observation remembers between runs, per domain of a host:
 * vem's metadata (or that the domain has none), the figures it was read
 * with, the last CPU sample and load; and, in memory only, the figures of
 * the session's last full observation (for light ones).
 *
 * The cache is a file per cluster under the cache directory
 * (".../observe/CLUSTER.tsv"), read whole by meta_cache_load() and written
 * whole (atomically, by rename) by meta_cache_save(), which keeps only the
 * entries used since the load. A file of another version is ignored.
 * When to trust an entry is the observer's rule (observe.c), not the cache's.
 *
 * Ownership: the cache owns its entries; a pointer to one lives until the
 * next meta_cache_entry() call that creates an entry, or meta_cache_free().
 * Threads: none of its own; the session's cache_lock guards it.
 */
#ifndef VEM_HV_CACHE_H
#define VEM_HV_CACHE_H

#include "hv.h"

struct meta_cache_entry {
	char key[74];              /* host uuid '/' domain uuid */
	bool has_meta;
	struct vem_meta meta;
	int vcpus;                 /* the figures the metadata was read with */
	uint64_t max_memory;
	int64_t fetched_at;        /* ms since the epoch; 0 = read it again */
	uint64_t cpu_time;         /* the last CPU sample, and when */
	int64_t sampled_at;
	double cpu_load;           /* last load measured, and when */
	int64_t load_at;
	bool used;                 /* seen by this observation (kept when saving) */
	/* the figures of the last full observation, for a light one (in memory
	 * only, not in the file) */
	int64_t obs_at;
	int obs_vcpus;
	uint64_t obs_memory, obs_max_memory, obs_disk_bytes;
};

struct meta_cache;

/* The cache of cluster under dir (NULL: the default cache directory);
 * empty when the file is missing, unreadable or of another version. */
struct meta_cache *meta_cache_load(const char *cluster, const char *dir);
/* Write the used entries back; a failure leaves the old file. */
void meta_cache_save(struct meta_cache *mc);
void meta_cache_free(struct meta_cache *mc);
/* The entry of a domain of a host; NULL when absent and !create. */
struct meta_cache_entry *meta_cache_entry(struct meta_cache *mc, const char *host_uuid,
					  const char *dom_uuid, bool create);
/* Record m (NULL: the domain has no vem metadata) as read now, with the
 * domain's vCPUs and maximum memory. */
void meta_cache_put(struct meta_cache *mc, const char *host_uuid, const char *dom_uuid,
		    const struct vem_meta *m, int vcpus, uint64_t max_memory);
/* Make the next observation read the domain's metadata again. */
void meta_cache_forget(struct meta_cache *mc, const char *host_uuid, const char *dom_uuid);

#endif
