/* model_priv.h - model helpers shared by the loader and tests. */
#ifndef VEM_MODEL_PRIV_H
#define VEM_MODEL_PRIV_H

#include "model.h"
#include "util/json.h"

/* Free the labels and empty the list (the struct stays). */
void labels_release(struct labels *l);
void vm_config_release(struct vm_config *c);
/* Free the disks (nets) of c and empty the list; the rest of c stays. */
void vm_config_release_disks(struct vm_config *c);
void vm_config_release_nets(struct vm_config *c);
void vm_config_copy(struct vm_config *dst, const struct vm_config *src);
void vm_config_write_json(struct json_writer *w, const struct vm_config *cfg, bool hash_keys);
void labels_copy(struct labels *dst, const struct labels *src);
void placement_release(struct placement_spec *p);
/* Free hosts and images and empty their lists. */
void cluster_release_hosts_images(struct cluster *c);

#endif
