/*
 * storage_priv.h - internals of storage.c that its tests use.
 */
#ifndef VEM_STORAGE_PRIV_H
#define VEM_STORAGE_PRIV_H

#include <stdbool.h>
#include <stddef.h>

/* One <disk> of a domain's XML with a file source. */
struct storage_disk {
	char *path;       /* <source file='...'/> */
	char *target;     /* <target dev='...'/> */
	bool readonly;    /* <readonly/> */
};
/* The disks with a file source of a domain's XML, in document order. */
size_t storage_disks_parse(const char *dom_xml, struct storage_disk **out);
void storage_disks_free(struct storage_disk *d, size_t n);

/* Of a storage volume's XML: the target format type, the backing store
 * path and format (each NULL when absent; the caller frees). */
void storage_vol_xml_parse(const char *vol_xml, char **format, char **backing,
			   char **backing_format);

#endif
