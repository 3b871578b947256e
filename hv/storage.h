/*
 * storage.h - volumes of a VM on one host: copy-on-write qcow2 overlays on
 * uploaded images, blank disks, and the cloud-init NoCloud seed.
 *
 * Contract with hv_domain_xml(): meta->volumes[i] is the path of disk i
 * (i < cfg.n_disks); when the VM has cloud-init files, the seed ISO path
 * follows as volumes[cfg.n_disks]. All volumes are in the host's "default"
 * storage pool and are removed with the VM (hv_domain_remove).
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
/* Whether vm needs storage_prepare_vm at all (disks or cloud-init). */
bool storage_vm_needs_volumes(const struct vm_spec *vm);

#endif
