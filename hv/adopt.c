/*
 * adopt.c - take over a domain that vem did not create: write vem's
 * ownership metadata into it, live and in its persistent definition, with
 * no restart. What differs from the cluster file is the next plan's update.
 */
#include "hv_priv.h"
#include "cache.h"

#include <stdlib.h>
#include <string.h>

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
