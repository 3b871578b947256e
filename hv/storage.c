/* Placeholder until images and volumes land: diskless VMs only. */
#include "storage.h"

bool storage_vm_needs_volumes(const struct vm_spec *vm)
{
	return vm->cfg.n_disks > 0 || vm->cfg.user_data || vm->cfg.meta_data ||
	       vm->cfg.network_config;
}

int storage_prepare_vm(struct hv_session *s, size_t host, const struct vm_spec *vm,
		       struct vem_meta *meta, struct errbuf *err)
{
	(void)s; (void)host; (void)meta;
	return err_set(err, "vm '%s': disks and cloud-init are not supported yet", vm->name);
}

int storage_delete_volumes(struct hv_session *s, size_t host, char *const *paths,
			   size_t n, struct errbuf *err)
{
	(void)s; (void)host; (void)paths; (void)n; (void)err;
	return 0;
}
