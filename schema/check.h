/*
 * check.h - warnings about what a valid cluster file itself makes
 * impossible, found without contacting any host (`vem validate`):
 *
 *   - a placement label (or set of labels) that no allowed host has;
 *   - a VM larger than every candidate host's declared capacity (memory
 *     minus reserve, or CPUs x vcpu-overcommit); only when every candidate
 *     host declares that capacity, since the rest is read from the host;
 *   - a spread group with more members than hosts that may take them;
 *   - two hosts with the same libvirt URI (after normalisation).
 *
 * Hosts in maintenance place nothing and are not candidates. One warning
 * per vms: entry (not per replica), at its file:line:col, with the message
 * starting "warning: ". The cluster is only read; warnings are appended to
 * the caller's errbuf.
 */
#ifndef VEM_SCHEMA_CHECK_H
#define VEM_SCHEMA_CHECK_H

#include "model.h"

/* Append the warnings for c to w (sorted by place). Returns how many. */
size_t check_cluster(const struct cluster *c, struct errbuf *w);

/* A URI in a form where equal means the same libvirt daemon: scheme and
 * host lowercased, "driver://host" as "driver+tls://host", default ports
 * (tcp 16509, tls 16514, ssh 22) dropped, the user and trailing '/' of the
 * path removed. Caller frees. */
char *check_uri_normalise(const char *uri);

#endif
