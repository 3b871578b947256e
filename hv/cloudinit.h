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

#include "schema/model.h"

/* Whether vm has any cloud-init file. */
bool cloudinit_wanted(const struct vm_config *cfg);
/* The meta-data vem writes for vm (the user's file plus defaults). */
int cloudinit_meta_data(const char *cluster, const struct vm_spec *vm, struct strbuf *out,
			struct errbuf *err);
/* Build the seed ISO in a new private directory: mkdtemp() under $TMPDIR
 * (else /tmp), mode 0700, holding the three files and the ISO, each created
 * with O_EXCL|O_NOFOLLOW and mode 0600, so no other user can read them or
 * plant a symlink for the ISO tool to follow. *iso_path (caller frees)
 * names the ISO; cloudinit_seed_remove() deletes it and the directory. On
 * failure nothing is left behind. */
int cloudinit_build_seed(const char *cluster, const struct vm_spec *vm,
			 char **iso_path, struct errbuf *err);
/* Remove what cloudinit_build_seed() made (iso_path may be NULL). */
void cloudinit_seed_remove(const char *iso_path);

#endif
