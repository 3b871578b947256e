/*
 * storage.h - volumes of a VM on one host: copy-on-write qcow2 overlays on
 * uploaded images, blank disks, and the cloud-init NoCloud seed.
 *
 * Contract with hv_domain_xml(): meta->volumes[i] is the path of disk i
 * (i < cfg.n_disks); when the VM has cloud-init files, the seed ISO path
 * follows as volumes[cfg.n_disks]. Each disk's volume is in the storage pool
 * it names (disk_pool(): "default" unless disk.pool says), the seed beside
 * disk 0 (or in "default"); all are removed with the VM (hv_domain_remove).
 * A live migration makes the volumes in the destination's "default" pool
 * and refuses volumes whose path would change.
 */
#ifndef VEM_STORAGE_H
#define VEM_STORAGE_H

#include "hv.h"

/* Make (or find, when a previous run made them) the volumes of vm on host.
 * Images are downloaded/verified/uploaded as needed. Fills meta->volumes. */
int storage_prepare_vm(struct hv_session *s, size_t host, const struct vm_spec *vm,
		       struct vem_meta *meta, struct errbuf *err);
/* Delete volumes by path on host; missing ones are not an error. */
int storage_delete_volumes(struct hv_session *s, size_t host, char *const *paths,
			   size_t n, struct errbuf *err);
/* Whether vm's data survives the loss of its host: it has no disks, or
 * they are in a pool the cluster file declares shared. */
bool storage_vm_shared(const struct cluster *c, const struct vm_spec *vm);
/* Whether vm needs storage_prepare_vm at all (disks or cloud-init). */
bool storage_vm_needs_volumes(const struct vm_spec *vm);

/* ---- moving a VM's volumes with a live migration (hv_domain_migrate) ----
 *
 * Before the migration, storage_move_prepare() makes on dst what the VM's
 * disks need: each image a disk is an overlay of (uploaded and verified like
 * any image, or copied from src when the cluster file no longer names it),
 * an empty volume of the same name, size and backing store for each
 * writable disk (libvirt's non-shared incremental migration then copies the
 * overlay's own blocks into it), and a copy of each read-only disk (the
 * cloud-init seed, which libvirt does not copy). Every volume must land at
 * the path it has on src; the move is refused otherwise. Volumes of that
 * name already on dst, where dst has no domain of the VM, are leftovers of a
 * move that did not finish: the running domain on src is the primary copy,
 * so they are replaced. Volumes in a pool the cluster file declares shared
 * (storage: shared-pools) are neither made, copied nor dropped: dst must
 * see them at the same path. Nothing is ever copied onto a shared pool.
 * After a failed migration storage_move_undo() deletes what prepare made on
 * dst (never while dst has a domain of that name). Images are kept: they
 * are shared by every VM using them.
 */
struct storage_move {
	char **copy;          /* target devs libvirt copies (VIR_MIGRATE_PARAM_MIGRATE_DISKS) */
	size_t n_copy;
	char **created;       /* volume paths made on dst */
	size_t n_created;
	char **local;         /* volume paths on src that the move copies (dropped after) */
	size_t n_local;
	uint64_t copy_bytes;  /* bytes allocated in the copied volumes on src */
	uint64_t seed_bytes;  /* bytes of read-only volumes copied by vem itself */
};
void storage_move_release(struct storage_move *mv);
/* dom_xml: the domain's XML on src; meta: its vem metadata (volumes).
 * 0, -1, or HV_ERR_DETERMINISTIC (paths differ, a pool is missing or
 * declared shared where it is not, ...: trying again cannot help). */
int storage_move_prepare(struct hv_session *s, size_t src, size_t dst, const char *vm,
			 const char *dom_xml, const struct vem_meta *meta,
			 struct storage_move *mv, struct errbuf *err);
int storage_move_undo(struct hv_session *s, size_t dst, const char *vm,
		      struct storage_move *mv, struct errbuf *err);

#endif
