/*
 * cloudinit.h - the NoCloud seed of a VM: an ISO 9660 image labelled
 * "cidata" holding user-data, meta-data and (optionally) network-config.
 *
 * The files are the local paths in vm_config (user_data, meta_data,
 * network_config). meta-data gets "instance-id: <cluster>-<vm>" and
 * "local-hostname: <vm>" when the file (or its key) is absent; user-data
 * defaults to an empty "#cloud-config". The ISO is built with genisoimage,
 * else xorriso, else cloud-localds (Debian: genisoimage, xorriso,
 * cloud-image-utils), whichever is installed.
 */
#ifndef VEM_CLOUDINIT_H
#define VEM_CLOUDINIT_H

#include "../schema/model.h"

/* Whether vm has any cloud-init file. */
bool cloudinit_wanted(const struct vm_config *cfg);
/* The meta-data vem writes for vm (the user's file plus defaults). */
int cloudinit_meta_data(const char *cluster, const struct vm_spec *vm, struct strbuf *out,
			struct errbuf *err);
/* Build the seed ISO at iso_path (overwritten). */
int cloudinit_build_seed(const char *cluster, const struct vm_spec *vm,
			 const char *iso_path, struct errbuf *err);

#endif
