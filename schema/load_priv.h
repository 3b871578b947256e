/* load_priv.h - loader internals that tests and the JSON writer need. */
#ifndef VEM_LOAD_PRIV_H
#define VEM_LOAD_PRIV_H

#include "model.h"

/* Names of hosts, VMs, templates, images, the cluster: [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
bool cfg_valid_name(const char *s);
/* "driver[+transport]://..." without spaces */
bool cfg_valid_uri(const char *s);
/* 64 lowercase hex digits */
bool cfg_valid_sha256(const char *s);
/* "52:54:00:12:34:56", unicast */
bool cfg_valid_mac(const char *s);

#endif
