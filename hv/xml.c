/*
 * xml.c - one hypervisor-neutral VM description -> libvirt domain XML for
 * QEMU/KVM, Xen (libxl) and LXC; vem's ownership metadata in and out.
 */
#include "hv.h"
#include "hv_priv.h"

#include <stdlib.h>
#include <string.h>

int hv_resolve_type(enum hv_type want, unsigned caps, enum hv_type *out)
{
	if (want == HV_AUTO) {
		if (caps & (1u << HV_KVM))
			*out = HV_KVM;
		else if (caps & (1u << HV_QEMU))
			*out = HV_QEMU;
		else
			return -1;
		return 0;
	}
	/* kvm can run what qemu runs; asking for qemu on a kvm host is fine */
	if (!(caps & (1u << want)))
		return -1;
	*out = want;
	return 0;
}

void hv_uuid_for(const char *cluster, const char *vm, char out[37])
{
	char a[65], b[65];
	char *key = xasprintf("%s/%s", cluster, vm);
	char hex[33];

	sha256_hex(cluster, strlen(cluster), a);
	sha256_hex(key, strlen(key), b);
	free(key);
	memcpy(hex, a, 8);                 /* the cluster mark */
	memcpy(hex + 8, b, 24);
	hex[12] = '4';                     /* version 4 */
	hex[16] = "89ab"[(hex[16] - '0') & 3];   /* RFC 4122 variant */
	hex[32] = '\0';
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

bool hv_uuid_marked(const char *cluster, const char *uuid)
{
	char a[65];
	sha256_hex(cluster, strlen(cluster), a);
	return uuid && !strncmp(uuid, a, 8);
}

static void add_elem(struct strbuf *sb, const char *indent, const char *tag, const char *text)
{
	if (!text)
		return;
	strbuf_addf(sb, "%s<%s>", indent, tag);
	strbuf_add_xml(sb, text);
	strbuf_addf(sb, "</%s>\n", tag);
}

/* <PNAME>text</PNAME> (p: the prefix with its colon, or ""). */
static void meta_elem(struct strbuf *sb, const char *indent, const char *p, const char *name,
		      const char *text)
{
	if (!text)
		return;
	strbuf_addf(sb, "%s<%s%s>", indent, p, name);
	strbuf_add_xml(sb, text);
	strbuf_addf(sb, "</%s%s>\n", p, name);
}

/* The vm element: with the vem prefix and its xmlns declaration (p =
 * "vem:") for <metadata> in a domain's XML, bare (p = "") for
 * virDomainSetMetadata, which declares the namespace itself and fails
 * ("failed to create a new XML namespace") when the text declares it too. */
static void meta_xml(struct strbuf *sb, const struct vem_meta *m, const char *indent,
		     bool prefixed)
{
	const char *p = prefixed ? VEM_META_PREFIX ":" : "";
	char *in = xasprintf("%s  ", indent);
	if (prefixed)
		strbuf_addf(sb, "%s<" VEM_META_PREFIX ":vm xmlns:" VEM_META_PREFIX "='" VEM_META_NS "'>\n",
			    indent);
	else
		strbuf_addf(sb, "%s<vm>\n", indent);
	meta_elem(sb, in, p, "cluster", m->cluster);
	meta_elem(sb, in, p, "name", m->vm);
	meta_elem(sb, in, p, "template", m->template);
	meta_elem(sb, in, p, "spec-hash", m->spec_hash);
	meta_elem(sb, in, p, "revision", m->revision);
	if (m->created_at)
		strbuf_addf(sb, "%s<%screated-at>%lld</%screated-at>\n",
			    in, p, (long long)m->created_at, p);
	if (m->migrated_at)
		strbuf_addf(sb, "%s<%smigrated-at>%lld</%smigrated-at>\n",
			    in, p, (long long)m->migrated_at, p);
	for (size_t i = 0; i < m->n_volumes; i++)
		meta_elem(sb, in, p, "volume", m->volumes[i]);
	for (size_t i = 0; i < m->n_blocks; i++) {
		/* "HOST UNTIL REVISION WHY": the first three have no spaces */
		const struct vem_block *bl = &m->blocks[i];
		char *b = xasprintf("%s %lld %s %s", bl->host, (long long)bl->until,
				    bl->revision && *bl->revision && !strchr(bl->revision, ' ') ?
				    bl->revision : "-", bl->why ? bl->why : "");
		meta_elem(sb, in, p, "blocked", b);
		free(b);
	}
	strbuf_addf(sb, "%s</%svm>\n", indent, p);
	free(in);
}

void hv_meta_xml(struct strbuf *sb, const struct vem_meta *m, const char *indent)
{
	meta_xml(sb, m, indent, true);
}

void hv_meta_xml_bare(struct strbuf *sb, const struct vem_meta *m)
{
	meta_xml(sb, m, "", false);
}

/* Text of the n-th <tag> or <prefix:tag> element after p, unescaped; NULL if none. */
static char *xml_text(const char *xml, const char *tag, size_t nth, const char **after)
{
	const char *p = xml;
	size_t tl = strlen(tag);

	while ((p = strchr(p, '<'))) {
		const char *name = p + 1, *colon, *end;
		p++;
		if (*name == '/' || *name == '?' || *name == '!')
			continue;
		end = name + strcspn(name, " />\t\n");
		colon = memchr(name, ':', (size_t)(end - name));
		if (colon)
			name = colon + 1;
		if ((size_t)(end - name) != tl || strncmp(name, tag, tl))
			continue;
		if (nth--)
			continue;
		{
			const char *gt = strchr(end, '>');
			const char *close;
			struct strbuf sb = STRBUF_INIT;
			if (!gt || gt[-1] == '/')
				return xstrdup("");
			gt++;
			close = strstr(gt, "</");
			if (!close)
				return NULL;
			for (const char *q = gt; q < close; q++) {
				if (*q == '&') {
					static const struct { const char *e; char c; } ents[] = {
						{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
						{ "&quot;", '"' }, { "&apos;", '\'' } };
					size_t k;
					for (k = 0; k < ARRAY_SIZE(ents); k++)
						if (!strncmp(q, ents[k].e, strlen(ents[k].e))) {
							strbuf_addc(&sb, ents[k].c);
							q += strlen(ents[k].e) - 1;
							break;
						}
					if (k < ARRAY_SIZE(ents))
						continue;
				}
				strbuf_addc(&sb, *q);
			}
			if (after)
				*after = close;
			return strbuf_detach(&sb, NULL);
		}
	}
	return NULL;
}

static int64_t xml_int(const char *xml, const char *tag)
{
	char *s = xml_text(xml, tag, 0, NULL);
	int64_t v = 0;
	if (s && parse_int64(s, &v))
		v = 0;
	free(s);
	return v;
}

int hv_meta_parse(const char *xml, struct vem_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->cluster = xml_text(xml, "cluster", 0, NULL);
	m->vm = xml_text(xml, "name", 0, NULL);
	if (!m->cluster || !m->vm) {
		vem_meta_release(m);
		return -1;
	}
	m->template = xml_text(xml, "template", 0, NULL);
	m->spec_hash = xml_text(xml, "spec-hash", 0, NULL);
	m->revision = xml_text(xml, "revision", 0, NULL);
	m->created_at = xml_int(xml, "created-at");
	m->migrated_at = xml_int(xml, "migrated-at");
	for (size_t i = 0;; i++) {
		char *v = xml_text(xml, "volume", i, NULL);
		if (!v)
			break;
		m->volumes = xrealloc(m->volumes, (m->n_volumes + 1) * sizeof(char *));
		m->volumes[m->n_volumes++] = v;
	}
	for (size_t i = 0;; i++) {
		char *v = xml_text(xml, "blocked", i, NULL), *sp, *sp2, *sp3;
		int64_t until;
		if (!v)
			break;
		sp = strchr(v, ' ');
		sp2 = sp ? strchr(sp + 1, ' ') : NULL;
		sp3 = sp2 ? strchr(sp2 + 1, ' ') : NULL;
		if (sp3) {
			*sp = *sp2 = *sp3 = '\0';
			if (!parse_int64(sp + 1, &until))
				vem_meta_block(m, v, until, strcmp(sp2 + 1, "-") ? sp2 + 1 : NULL,
					       sp3 + 1);
		}
		free(v);
	}
	return 0;
}

const struct vem_block *vem_meta_blocked(const struct vem_meta *m, const char *host, int64_t now,
					 const char *revision)
{
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct vem_block *b = &m->blocks[i];
		if (str_eq(b->host, host) && now < b->until &&
		    (!revision || !b->revision || str_eq(revision, b->revision)))
			return b;
	}
	return NULL;
}

void vem_meta_block(struct vem_meta *m, const char *host, int64_t until, const char *revision,
		    const char *why)
{
	struct vem_block *b = NULL;

	for (size_t i = 0; i < m->n_blocks && !b; i++)
		if (str_eq(m->blocks[i].host, host))
			b = &m->blocks[i];
	if (!b) {
		m->blocks = xrealloc(m->blocks, (m->n_blocks + 1) * sizeof(*m->blocks));
		b = &m->blocks[m->n_blocks++];
		b->host = xstrdup(host);
	} else {
		free(b->why);
		free(b->revision);
	}
	b->until = until;
	b->revision = revision ? xstrdup(revision) : NULL;
	b->why = xstrdup(why ? why : "");
}

void vem_meta_release(struct vem_meta *m)
{
	free(m->cluster);
	free(m->vm);
	free(m->template);
	free(m->spec_hash);
	free(m->revision);
	for (size_t i = 0; i < m->n_volumes; i++)
		free(m->volumes[i]);
	free(m->volumes);
	for (size_t i = 0; i < m->n_blocks; i++) {
		free(m->blocks[i].host);
		free(m->blocks[i].revision);
		free(m->blocks[i].why);
	}
	free(m->blocks);
	memset(m, 0, sizeof(*m));
}

void vem_meta_copy(struct vem_meta *dst, const struct vem_meta *src)
{
	*dst = *src;
	dst->cluster = xstrdup(src->cluster);
	dst->vm = xstrdup(src->vm);
	dst->template = xstrdup(src->template);
	dst->spec_hash = xstrdup(src->spec_hash);
	dst->revision = xstrdup(src->revision);
	dst->volumes = src->n_volumes ? xcalloc(src->n_volumes, sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->n_volumes; i++)
		dst->volumes[i] = xstrdup(src->volumes[i]);
	dst->blocks = src->n_blocks ? xcalloc(src->n_blocks, sizeof(*dst->blocks)) : NULL;
	for (size_t i = 0; i < src->n_blocks; i++) {
		dst->blocks[i].host = xstrdup(src->blocks[i].host);
		dst->blocks[i].until = src->blocks[i].until;
		dst->blocks[i].revision = src->blocks[i].revision ? xstrdup(src->blocks[i].revision) : NULL;
		dst->blocks[i].why = xstrdup(src->blocks[i].why);
	}
}

/* ---- domain XML ---- */

static const char *disk_dev(enum hv_type t, const char *bus, size_t i, char buf[16])
{
	const char *pfx = t == HV_XEN ? "xvd" : !strcmp(bus, "virtio") ? "vd" :
			  !strcmp(bus, "ide") ? "hd" : "sd";
	snprintf(buf, 16, "%s%c", pfx, (char)('a' + (i % 26)));
	return buf;
}

const char *hv_disk_target(enum hv_type t, const struct disk_spec *d, size_t i, char buf[16])
{
	return disk_dev(t, t == HV_XEN ? "xen" : d->bus ? d->bus : "virtio", i, buf);
}

static void os_section(struct strbuf *sb, const struct vm_config *c, enum hv_type t)
{
	strbuf_adds(sb, "  <os>\n");
	if (t == HV_LXC) {
		const char *init = c->cmdline ? c->cmdline : "/sbin/init";
		size_t n = strcspn(init, " ");
		char *first = xstrndup(init, n);
		strbuf_adds(sb, "    <type>exe</type>\n    <init>");
		strbuf_add_xml(sb, first);
		strbuf_adds(sb, "</init>\n");
		free(first);
		for (const char *p = init + n; *p;) {
			while (*p == ' ')
				p++;
			n = strcspn(p, " ");
			if (!n)
				break;
			char *arg = xstrndup(p, n);
			strbuf_adds(sb, "    <initarg>");
			strbuf_add_xml(sb, arg);
			strbuf_adds(sb, "</initarg>\n");
			free(arg);
			p += n;
		}
	} else if (t == HV_XEN && c->kernel) {
		strbuf_adds(sb, "    <type arch='x86_64' machine='xenpv'>xen</type>\n");
	} else if (t == HV_XEN) {
		strbuf_adds(sb, "    <type arch='x86_64' machine='xenfv'>hvm</type>\n"
				"    <loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>\n");
	} else {
		strbuf_adds(sb, "    <type arch='x86_64' machine='pc'>hvm</type>\n");
	}
	if (t != HV_LXC) {
		add_elem(sb, "    ", "kernel", c->kernel);
		add_elem(sb, "    ", "initrd", c->initrd);
		add_elem(sb, "    ", "cmdline", c->cmdline);
		if (!c->kernel)
			strbuf_adds(sb, "    <boot dev='hd'/>\n");
	}
	strbuf_adds(sb, "  </os>\n");
}

static void disks_section(struct strbuf *sb, const struct vm_config *c, enum hv_type t,
			  const struct vem_meta *m, struct errbuf *err, int *rc)
{
	char dev[16];
	size_t i;

	if (t == HV_LXC)
		return;
	for (i = 0; i < c->n_disks; i++) {
		const char *path = m && i < m->n_volumes ? m->volumes[i] : NULL;
		const char *bus = t == HV_XEN ? "xen" : c->disks[i].bus ? c->disks[i].bus : "virtio";
		if (!path) {
			*rc = err_set(err, "disk %zu has no volume yet", i);
			return;
		}
		strbuf_adds(sb, "    <disk type='file' device='disk'>\n"
				"      <driver name='qemu' type='qcow2'/>\n      <source file='");
		strbuf_add_xml(sb, path);
		strbuf_addf(sb, "'/>\n      <target dev='%s' bus='%s'/>\n    </disk>\n",
			    disk_dev(t, bus, i, dev), bus);
	}
	if (c->user_data || c->meta_data || c->network_config) {
		const char *path = m && i < m->n_volumes ? m->volumes[i] : NULL;
		if (!path) {
			*rc = err_set(err, "the cloud-init seed has no volume yet");
			return;
		}
		strbuf_adds(sb, "    <disk type='file' device='cdrom'>\n"
				"      <driver name='qemu' type='raw'/>\n      <source file='");
		strbuf_add_xml(sb, path);
		strbuf_addf(sb, "'/>\n      <target dev='%s' bus='%s'/>\n      <readonly/>\n    </disk>\n",
			    t == HV_XEN ? "xvdz" : "sdz", t == HV_XEN ? "xen" : "sata");
	}
}

static void nets_section(struct strbuf *sb, const struct vm_config *c, enum hv_type t)
{
	for (size_t i = 0; i < c->n_nets; i++) {
		const struct net_spec *n = &c->nets[i];
		strbuf_addf(sb, "    <interface type='%s'>\n      <source %s='",
			    n->network ? "network" : "bridge", n->network ? "network" : "bridge");
		strbuf_add_xml(sb, n->network ? n->network : n->bridge);
		strbuf_adds(sb, "'/>\n");
		if (n->mac) {
			strbuf_adds(sb, "      <mac address='");
			strbuf_add_xml(sb, n->mac);
			strbuf_adds(sb, "'/>\n");
		}
		if (t != HV_LXC && n->model)
			strbuf_addf(sb, "      <model type='%s'/>\n", t == HV_XEN && !strcmp(n->model, "virtio") ? "netfront" : n->model);
		strbuf_adds(sb, "    </interface>\n");
	}
}

char *hv_domain_xml(const struct cluster *cl, const struct vm_spec *vm, enum hv_type t,
		    const char *uuid, const struct vem_meta *meta, struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	const struct vm_config *c = &vm->cfg;
	int rc = 0;
	static const char *const dtype[] = {
		[HV_AUTO] = "qemu", [HV_KVM] = "kvm", [HV_QEMU] = "qemu", [HV_XEN] = "xen", [HV_LXC] = "lxc" };

	(void)cl;
	if (t == HV_AUTO) {
		err_set(err, "vm '%s': hypervisor type not resolved", vm->name);
		return NULL;
	}
	strbuf_addf(&sb, "<domain type='%s'>\n  <name>", dtype[t]);
	strbuf_add_xml(&sb, vm->name);
	strbuf_adds(&sb, "</name>\n");
	if (uuid)
		strbuf_addf(&sb, "  <uuid>%s</uuid>\n", uuid);
	if (meta) {
		strbuf_adds(&sb, "  <metadata>\n");
		hv_meta_xml(&sb, meta, "    ");
		strbuf_adds(&sb, "  </metadata>\n");
	}
	strbuf_addf(&sb, "  <memory unit='KiB'>%llu</memory>\n  <currentMemory unit='KiB'>%llu</currentMemory>\n",
		    (unsigned long long)(c->max_memory / 1024), (unsigned long long)(c->memory / 1024));
	if (c->max_vcpus > c->vcpus)
		strbuf_addf(&sb, "  <vcpu placement='static' current='%d'>%d</vcpu>\n", c->vcpus, c->max_vcpus);
	else
		strbuf_addf(&sb, "  <vcpu placement='static'>%d</vcpu>\n", c->vcpus);
	os_section(&sb, c, t);
	if (t == HV_KVM || t == HV_QEMU || (t == HV_XEN && !c->kernel))
		strbuf_adds(&sb, "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
	if (c->cpu_mode && t != HV_LXC)
		strbuf_addf(&sb, "  <cpu mode='%s'/>\n", c->cpu_mode);
	if (t != HV_LXC)
		strbuf_adds(&sb, "  <clock offset='utc'/>\n");
	strbuf_adds(&sb, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
			 "  <on_crash>destroy</on_crash>\n  <devices>\n");
	disks_section(&sb, c, t, meta, err, &rc);
	nets_section(&sb, c, t);
	if (t == HV_LXC)
		strbuf_adds(&sb, "    <console type='pty'/>\n");
	else
		strbuf_adds(&sb, "    <serial type='pty'/>\n    <console type='pty'/>\n");
	/* readiness.agent: the guest agent's virtio-serial channel */
	if (c->readiness.agent && (t == HV_KVM || t == HV_QEMU))
		strbuf_adds(&sb, "    <channel type='unix'>\n"
				 "      <target type='virtio' name='org.qemu.guest_agent.0'/>\n"
				 "    </channel>\n");
	if (t == HV_KVM || t == HV_QEMU)
		strbuf_adds(&sb, "    <memballoon model='virtio'/>\n");
	strbuf_adds(&sb, "  </devices>\n</domain>\n");
	if (rc) {
		err_prefix(err, err->nr - 1, "vm '%s'", vm->name);
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

char *hv_xml_text(const char *xml, const char *tag)
{
	return xml_text(xml, tag, 0, NULL);
}
