/*
 * skeleton.h - a cluster file skeleton from an observed state (vem observe
 * --skeleton): the unmanaged domains as VMs with adopt: true.
 */
#ifndef VEM_SKELETON_H
#define VEM_SKELETON_H

#include "hv/hv.h"

void observe_skeleton(const struct cluster *c, const struct observed *o, struct strbuf *out);

#endif
