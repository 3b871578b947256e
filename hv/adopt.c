/*
 * adopt.c - take over a domain that vem did not create: write vem's
 * ownership metadata into it, live and in its persistent definition, with
 * no restart. What differs from the cluster file is the next plan's update.
 *
 * Disks: the domain's disks become the VM's volumes (meta.volumes, in the
 * order of the file's disks) when each of the file's disks matches one of
 * the domain's by target dev (vda, vdb, ... as vem would name them), every
 * disk of the domain is matched, and each is a qcow2 volume of the storage
 * pool vem keeps disks in. Nothing is copied, moved or rewritten: vem's
 * later redefinitions point at the same files. Anything else is refused
 * with the reason, and the domain is left as it was.
 */
#include "hv_priv.h"
#include "cache.h"
#include "cloudinit.h"
#include "storage_priv.h"

#include <stdlib.h>
#include <string.h>

#define ADOPT_POOL "default"   /* the pool storage.c makes every disk in */

/* How many <disk> elements the domain XML has (any source type). */
static size_t count_disk_elems(const char *xml)
{
	size_t n = 0;

	for (const char *p = xml; (p = strstr(p, "<disk")); p += 5)
		if (p[5] == ' ' || p[5] == '>' || p[5] == '\n' || p[5] == '\t')
			n++;
	return n;
}

/* The pool and format of the volume at path; -1 (err set) when the path is
 * no storage volume, or is one outside ADOPT_POOL or not qcow2. */
static int check_volume(virConnectPtr conn, const char *vm, const char *target, const char *path,
			char **canonical, struct errbuf *err)
{
	virStorageVolPtr v = virStorageVolLookupByPath(conn, path);
	virStoragePoolPtr pool = NULL;
	char *vxml = NULL, *format = NULL, *backing = NULL, *bformat = NULL;
	const char *pname;
	int rc = -1;

	if (!v) {
		err_set(err, "not adopting '%s': its disk %s ('%s') is no volume of a storage pool "
			"(vem adopts disks in pool '" ADOPT_POOL "' only)", vm, target, path);
		goto out;
	}
	pool = virStoragePoolLookupByVolume(v);
	pname = pool ? virStoragePoolGetName(pool) : NULL;
	if (!pname || strcmp(pname, ADOPT_POOL)) {
		err_set(err, "not adopting '%s': its disk %s ('%s') is in storage pool '%s', not in "
			"'" ADOPT_POOL "' where vem keeps disks", vm, target, path, pname ? pname : "?");
		goto out;
	}
	vxml = virStorageVolGetXMLDesc(v, 0);
	if (vxml)
		storage_vol_xml_parse(vxml, &format, &backing, &bformat);
	if (!str_eq(format, "qcow2")) {
		err_set(err, "not adopting '%s': its disk %s ('%s') is %s, and vem's disks are qcow2",
			vm, target, path, format ? format : "of unknown format");
		goto out;
	}
	*canonical = virStorageVolGetPath(v);
	if (!*canonical) {
		err_set(err, "not adopting '%s': volume '%s' has no path: %s", vm, path,
			hv_last_error());
		goto out;
	}
	rc = 0;
out:
	free(vxml);
	free(format);
	free(backing);
	free(bformat);
	if (pool)
		virStoragePoolFree(pool);
	if (v)
		virStorageVolFree(v);
	return rc;
}

/* Fill meta->volumes with the domain's disks in the order of vm's disks,
 * or refuse (-1, err set) when they do not match the file. */
static int adopt_disks(virConnectPtr conn, virDomainPtr d, const struct vm_spec *vm,
		       struct vem_meta *meta, struct errbuf *err)
{
	struct storage_disk *disks = NULL;
	size_t n = 0, all;
	enum hv_type t;
	char *xml;
	int rc = -1;

	xml = virDomainGetXMLDesc(d, virDomainIsPersistent(d) == 1 ? VIR_DOMAIN_XML_INACTIVE : 0);
	if (!xml)
		return err_set(err, "cannot read the definition of '%s': %s", vm->name,
			       hv_last_error());
	t = strstr(xml, "<domain type='xen'") ? HV_XEN : HV_QEMU;
	n = storage_disks_parse(xml, &disks);
	all = count_disk_elems(xml);
	if (all != n) {
		err_set(err, "not adopting '%s': %zu of its disks have no file source (a block "
			"device or a network disk); vem adopts disks in pool '" ADOPT_POOL "' only",
			vm->name, all - n);
		goto out;
	}
	if (n != vm->cfg.n_disks) {
		err_set(err, "not adopting '%s': it has %zu disk%s and the cluster file names %zu",
			vm->name, n, n == 1 ? "" : "s", vm->cfg.n_disks);
		goto out;
	}
	for (size_t i = 0; i < vm->cfg.n_disks; i++) {
		char want[16], *path = NULL;
		size_t j;

		hv_disk_target(t, &vm->cfg.disks[i], i, want);
		for (j = 0; j < n && !str_eq(disks[j].target, want); j++)
			;
		if (j == n) {
			err_set(err, "not adopting '%s': the cluster file's disk %zu would be %s, and "
				"the domain has no disk %s", vm->name, i, want, want);
			goto out;
		}
		if (disks[j].readonly) {
			err_set(err, "not adopting '%s': its disk %s is read-only (a cdrom?); vem's "
				"disks are writable", vm->name, want);
			goto out;
		}
		if (check_volume(conn, vm->name, want, disks[j].path, &path, err))
			goto out;
		meta->volumes = xrealloc(meta->volumes, (meta->n_volumes + 1) * sizeof(char *));
		meta->volumes[meta->n_volumes++] = path;
	}
	rc = 0;
out:
	storage_disks_free(disks, n);
	free(xml);
	return rc;
}

int hv_domain_adopt(struct hv_session *s, size_t host, const struct vm_spec *vm,
		    bool matches, struct errbuf *err)
{
	const char *hname = s->c->hosts[host].name;
	virDomainPtr d;
	struct vem_meta old, meta;
	struct strbuf sb = STRBUF_INIT;
	char *xml = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN];
	unsigned flags = 0;
	int rc = -1;

	memset(&old, 0, sizeof(old));
	memset(&meta, 0, sizeof(meta));
	if (!hv_host_online(s, host))
		return err_set(err, "host '%s' is offline", hname);
	d = virDomainLookupByName(s->hosts[host].conn, vm->name);
	if (!d)
		return err_set(err, "cannot find domain '%s' on host '%s': %s", vm->name, hname,
			       hv_last_error());
	xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VEM_META_NS, 0);
	if (xml && !hv_meta_parse(xml, &old)) {
		if (str_eq(old.cluster, s->c->name)) {
			rc = 0;               /* ours already (a repeated run) */
			goto out;
		}
		err_set(err, "not adopting '%s' on host '%s': it belongs to cluster '%s'", vm->name,
			hname, old.cluster ? old.cluster : "?");
		goto out;
	}
	meta.cluster = xstrdup(s->c->name);
	meta.vm = xstrdup(vm->name);
	meta.template = xstrdup(vm->template);
	meta.spec_hash = xstrdup(matches ? vm->spec_hash : HV_ADOPTED_HASH);
	meta.revision = xstrdup(s->c->revision);
	meta.created_at = time_now_ms();
	if (cloudinit_wanted(&vm->cfg)) {
		err_set(err, "not adopting '%s': a VM with cloud-init is not adopted (its seed is "
			"vem's to make)", vm->name);
		goto out;
	}
	if (adopt_disks(s->hosts[host].conn, d, vm, &meta, err))
		goto out;
	hv_meta_xml_bare(&sb, &meta);
	if (virDomainIsActive(d) == 1)
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if (virDomainIsPersistent(d) == 1)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;
	if (!flags)
		flags = VIR_DOMAIN_AFFECT_CURRENT;
	if (virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, sb.buf, VEM_META_PREFIX,
				 VEM_META_NS, flags) < 0) {
		err_set(err, "cannot write the metadata of '%s' on host '%s': %s", vm->name, hname,
			hv_last_error());
		goto out;
	}
	if (s->cache && virDomainGetUUIDString(d, uuid) == 0) {
		pthread_mutex_lock(&s->cache_lock);
		meta_cache_forget(s->cache, s->hosts[host].host_uuid, uuid);
		pthread_mutex_unlock(&s->cache_lock);
	}
	rc = 0;
out:
	strbuf_release(&sb);
	free(xml);
	vem_meta_release(&old);
	vem_meta_release(&meta);
	virDomainFree(d);
	return rc;
}
