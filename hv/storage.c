/*
 * storage.c - volumes of a VM on one host (see storage.h).
 *
 * In the storage pool each disk names (disk.pool; default "default"), the
 * cloud-init seed beside the first disk (or in "default" without disks):
 *   vem-image-<sha256 first 16>.<format>   an image, uploaded once per host,
 *                                          shared by every VM using it
 *   vem-<cluster>-<vm>-disk<i>.qcow2       disk i: a qcow2 overlay whose
 *                                          backing store is the image, or a
 *                                          blank qcow2
 *   vem-<cluster>-<vm>-seed.iso            the cloud-init NoCloud seed
 *
 * An image volume is created empty and grows with the upload, so a volume
 * left by an interrupted upload is shorter than the image: it is deleted
 * and uploaded again. Overlays and blank disks left by a run killed after
 * creating them are reused. Only volumes whose names start with "vem-" are
 * ever deleted.
 */
#include "storage.h"
#include "storage_priv.h"
#include "cloudinit.h"
#include "hv_priv.h"
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORAGE_POOL "default"

/* One upload per image and host at a time within this process (executor
 * threads preparing several VMs on one host); other vem processes are kept
 * out by the cluster's lease. */
static pthread_mutex_t upload_lock = PTHREAD_MUTEX_INITIALIZER;

bool storage_vm_needs_volumes(const struct vm_spec *vm)
{
	return vm->cfg.n_disks > 0 || cloudinit_wanted(&vm->cfg);
}

static const char *host_name(struct hv_session *s, size_t host)
{
	return s->c->hosts[host].name;
}

static virStoragePoolPtr pool_open(struct hv_session *s, size_t host, const char *name,
				   struct errbuf *err)
{
	virStoragePoolPtr pool;
	int active;

	if (!hv_host_online(s, host)) {
		err_set(err, "host '%s' is offline", host_name(s, host));
		return NULL;
	}
	pool = virStoragePoolLookupByName(s->hosts[host].conn, name);
	if (!pool && virGetLastErrorCode() != VIR_ERR_NO_STORAGE_POOL) {
		/* read before IsAlive resets libvirt's error (hv_last_error's
		 * buffer is vem's): a host that died under this run is not a
		 * host without the pool */
		const char *why = hv_last_error();
		bool dead = virConnectIsAlive(s->hosts[host].conn) != 1;

		err_set(err, dead ? "host '%s' stopped answering (looking up storage pool '%s'): %s" :
			"host '%s': cannot look up storage pool '%s': %s", host_name(s, host), name, why);
		return NULL;
	}
	if (!pool) {
		err_set(err, "host '%s' has no storage pool '%s' (create one, e.g. "
			"'virsh pool-define-as %s dir --target /var/lib/libvirt/images; "
			"virsh pool-build %s; virsh pool-start %s'): %s",
			host_name(s, host), name, name, name, name, hv_last_error());
		return NULL;
	}
	active = virStoragePoolIsActive(pool);
	if (active == 0 && virStoragePoolCreate(pool, 0) < 0) {
		err_set(err, "host '%s': cannot start storage pool '%s': %s",
			host_name(s, host), name, hv_last_error());
		virStoragePoolFree(pool);
		return NULL;
	}
	return pool;
}

struct upload_src {
	int fd;
};

static int upload_read(virStreamPtr st, char *buf, size_t n, void *opaque)
{
	struct upload_src *u = opaque;
	ssize_t r;
	(void)st;
	do
		r = read(u->fd, buf, n);
	while (r < 0 && errno == EINTR);
	return (int)r;
}

/* Physical size of a volume (file size), or -1. */
static long long vol_physical(virStorageVolPtr v)
{
	virStorageVolInfo info;
	if (virStorageVolGetInfoFlags(v, &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0)
		return -1;
	return (long long)info.allocation;
}

/* Upload a local file into a new volume called name (deleting a shorter
 * one left by an interrupted upload), mode 0600 like the disks: images and
 * seeds may hold secrets. Returns the volume. */
static virStorageVolPtr vol_upload(struct hv_session *s, size_t host, virStoragePoolPtr pool,
				   const char *name, const char *local, bool replace,
				   struct errbuf *err)
{
	virStorageVolPtr v = NULL;
	virStreamPtr st = NULL;
	struct upload_src u = { -1 };
	struct strbuf xml = STRBUF_INIT;
	struct stat sb;
	bool ok = false;

	u.fd = open(local, O_RDONLY | O_CLOEXEC);
	if (u.fd < 0 || fstat(u.fd, &sb)) {
		err_set(err, "cannot read '%s': %s", local, strerror(errno));
		goto out;
	}
	v = virStorageVolLookupByName(pool, name);
	if (v) {
		if (!replace && vol_physical(v) == (long long)sb.st_size) {
			ok = true;
			goto out;
		}
		if (vem_verbosity > 1)
			fprintf(stderr, "host '%s': volume '%s' is incomplete or stale: uploading "
				"again\n", host_name(s, host), name);
		if (virStorageVolDelete(v, 0) < 0) {
			err_set(err, "host '%s': cannot delete volume '%s': %s", host_name(s, host),
				name, hv_last_error());
			goto out;
		}
		virStorageVolFree(v);
		v = NULL;
	}
	strbuf_adds(&xml, "<volume><name>");
	strbuf_add_xml(&xml, name);
	strbuf_adds(&xml, "</name><capacity unit='bytes'>0</capacity>"
			  "<target><format type='raw'/><permissions><mode>0600</mode></permissions>"
			  "</target></volume>");
	v = virStorageVolCreateXML(pool, xml.buf, 0);
	if (!v) {
		err_set(err, "host '%s': cannot create volume '%s': %s", host_name(s, host), name,
			hv_last_error());
		goto out;
	}
	st = virStreamNew(s->hosts[host].conn, 0);
	if (!st || virStorageVolUpload(v, st, 0, (unsigned long long)sb.st_size, 0) < 0) {
		err_set(err, "host '%s': cannot upload to volume '%s': %s", host_name(s, host),
			name, hv_last_error());
		goto out;
	}
	if (virStreamSendAll(st, upload_read, &u) < 0) {
		err_set(err, "host '%s': upload of '%s' to volume '%s' failed: %s",
			host_name(s, host), local, name, hv_last_error());
		virStreamAbort(st);
		goto out;
	}
	if (virStreamFinish(st) < 0) {
		err_set(err, "host '%s': upload to volume '%s' failed: %s", host_name(s, host),
			name, hv_last_error());
		goto out;
	}
	/* the pool learns the new size and format on refresh */
	virStoragePoolRefresh(pool, 0);
	virStorageVolFree(v);
	v = virStorageVolLookupByName(pool, name);
	if (!v || vol_physical(v) != (long long)sb.st_size) {
		err_set(err, "host '%s': volume '%s' has the wrong size after the upload",
			host_name(s, host), name);
		goto out;
	}
	ok = true;
out:
	if (st)
		virStreamFree(st);
	if (u.fd >= 0)
		close(u.fd);
	strbuf_release(&xml);
	if (!ok && v) {
		virStorageVolFree(v);
		v = NULL;
	}
	return v;
}

/* The image's volume on host (uploading it when missing); its path. */
static char *image_volume(struct hv_session *s, size_t host, virStoragePoolPtr pool,
			  const struct image_spec *img, uint64_t *virtual_size,
			  struct errbuf *err)
{
	struct image_options io;
	char *local = NULL, *name = NULL, *path = NULL;
	virStorageVolPtr v = NULL;

	image_options_default(&io);
	if (image_fetch(img, &io, &local, err))
		goto out;
	if (image_virtual_size(local, img->format, virtual_size, err))
		goto out;
	name = xasprintf("vem-image-%.16s.%s", img->sha256, img->format ? img->format : "qcow2");
	pthread_mutex_lock(&upload_lock);
	v = vol_upload(s, host, pool, name, local, false, err);
	pthread_mutex_unlock(&upload_lock);
	if (!v)
		goto out;
	path = virStorageVolGetPath(v);
	if (!path)
		err_set(err, "host '%s': volume '%s' has no path: %s", host_name(s, host), name,
			hv_last_error());
out:
	if (v)
		virStorageVolFree(v);
	free(local);
	free(name);
	return path;
}

/* Find or create a qcow2 volume (overlay on backing when given). */
static char *disk_volume(struct hv_session *s, size_t host, virStoragePoolPtr pool,
			 const char *name, uint64_t capacity, const char *backing,
			 const char *backing_format, struct errbuf *err)
{
	struct strbuf xml = STRBUF_INIT;
	virStorageVolPtr v = virStorageVolLookupByName(pool, name);
	char *path = NULL;

	if (!v) {
		strbuf_adds(&xml, "<volume><name>");
		strbuf_add_xml(&xml, name);
		strbuf_addf(&xml, "</name><capacity unit='bytes'>%llu</capacity>"
			    "<target><format type='qcow2'/><permissions><mode>0600</mode>"
			    "</permissions></target>", (unsigned long long)capacity);
		if (backing) {
			strbuf_adds(&xml, "<backingStore><path>");
			strbuf_add_xml(&xml, backing);
			strbuf_addf(&xml, "</path><format type='%s'/></backingStore>",
				    backing_format ? backing_format : "qcow2");
		}
		strbuf_adds(&xml, "</volume>");
		v = virStorageVolCreateXML(pool, xml.buf, 0);
		if (!v) {
			err_set(err, "host '%s': cannot create volume '%s': %s", host_name(s, host),
				name, hv_last_error());
			goto out;
		}
	}
	path = virStorageVolGetPath(v);
	if (!path)
		err_set(err, "host '%s': volume '%s' has no path: %s", host_name(s, host), name,
			hv_last_error());
out:
	if (v)
		virStorageVolFree(v);
	strbuf_release(&xml);
	return path;
}

static void meta_add_volume(struct vem_meta *m, char *path)
{
	m->volumes = xrealloc(m->volumes, (m->n_volumes + 1) * sizeof(char *));
	m->volumes[m->n_volumes++] = path;
}

static int seed_volume(struct hv_session *s, size_t host, virStoragePoolPtr pool,
		       const struct vm_spec *vm, struct vem_meta *meta, struct errbuf *err)
{
	char *name = xasprintf("vem-%s-%s-seed.iso", s->c->name, vm->name);
	virStorageVolPtr v = NULL;
	char *path = NULL, *iso = NULL;
	int rc = -1;

	/* built in a private directory, removed once uploaded */
	if (cloudinit_build_seed(s->c->name, vm, &iso, err))
		goto out;
	/* always uploaded again: the user's files may have changed */
	v = vol_upload(s, host, pool, name, iso, true, err);
	if (!v)
		goto out;
	path = virStorageVolGetPath(v);
	if (!path) {
		err_set(err, "host '%s': volume '%s' has no path: %s", host_name(s, host), name,
			hv_last_error());
		goto out;
	}
	meta_add_volume(meta, path);
	rc = 0;
out:
	cloudinit_seed_remove(iso);
	free(iso);
	if (v)
		virStorageVolFree(v);
	free(name);
	return rc;
}

int storage_prepare_vm(struct hv_session *s, size_t host, const struct vm_spec *vm,
		       struct vem_meta *meta, struct errbuf *err)
{
	virStoragePoolPtr pool = NULL;
	size_t from = err->nr;
	int rc = -1;

	/* a retried create starts from an empty list */
	for (size_t i = 0; i < meta->n_volumes; i++)
		free(meta->volumes[i]);
	free(meta->volumes);
	meta->volumes = NULL;
	meta->n_volumes = 0;

	for (size_t i = 0; i < vm->cfg.n_disks; i++) {
		const struct disk_spec *d = &vm->cfg.disks[i];
		char *name = xasprintf("vem-%s-%s-disk%zu.qcow2", s->c->name, vm->name, i);
		char *base = NULL, *path = NULL;
		const struct image_spec *img = NULL;
		uint64_t vsize = 0, capacity = d->size;
		char a[32], b[32];

		/* each disk in its pool (the image it overlays there too) */
		if (!pool || strcmp(virStoragePoolGetName(pool), disk_pool(d))) {
			if (pool)
				virStoragePoolFree(pool);
			pool = pool_open(s, host, disk_pool(d), err);
			if (!pool)
				goto next;
			virStoragePoolRefresh(pool, 0);
		}
		if (d->image) {
			img = cluster_image(s->c, d->image);
			if (!img) {
				err_set(err, "disk %zu: unknown image '%s'", i, d->image);
				goto next;
			}
			base = image_volume(s, host, pool, img, &vsize, err);
			if (!base)
				goto next;
			if (!capacity)
				capacity = vsize;
			if (capacity < vsize) {
				err_set(err, "disk %zu: size %s is smaller than image '%s' (%s)", i,
					format_size(capacity, a), img->name, format_size(vsize, b));
				goto next;
			}
		} else if (!capacity) {
			err_set(err, "disk %zu: a blank disk needs a size", i);
			goto next;
		}
		path = disk_volume(s, host, pool, name, capacity, base,
				   img ? img->format : NULL, err);
		if (path)
			meta_add_volume(meta, path);
next:
		free(name);
		free(base);
		if (!path)
			goto out;
	}
	/* the seed beside the first disk, or in "default" */
	if (cloudinit_wanted(&vm->cfg)) {
		const char *sp = vm->cfg.n_disks ? disk_pool(&vm->cfg.disks[0]) : STORAGE_POOL;
		if (!pool || strcmp(virStoragePoolGetName(pool), sp)) {
			if (pool)
				virStoragePoolFree(pool);
			pool = pool_open(s, host, sp, err);
			if (!pool)
				goto out;
			virStoragePoolRefresh(pool, 0);
		}
		if (seed_volume(s, host, pool, vm, meta, err))
			goto out;
	}
	rc = 0;
out:
	if (rc)
		err_prefix(err, from, "vm '%s' on host '%s'", vm->name, host_name(s, host));
	if (pool)
		virStoragePoolFree(pool);
	return rc;
}

bool storage_vm_shared(const struct cluster *c, const struct vm_spec *vm)
{
	for (size_t i = 0; i < vm->cfg.n_disks; i++)
		if (!storage_pool_shared(&c->storage, disk_pool(&vm->cfg.disks[i])))
			return false;
	return true;
}

int storage_delete_volumes(struct hv_session *s, size_t host, char *const *paths,
			   size_t n, struct errbuf *err)
{
	int rc = 0;

	if (!hv_host_online(s, host))
		return err_set(err, "host '%s' is offline", host_name(s, host));
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(paths[i], '/');
		virStorageVolPtr v;

		/* the callers pass a VM's own volumes (its metadata: made by vem,
		 * or recorded when it was adopted, hv/adopt.c) or what a move
		 * made; an image is shared by every VM using it: never deleted */
		if (str_starts_with(slash ? slash + 1 : paths[i], "vem-image-"))
			continue;
		v = virStorageVolLookupByPath(s->hosts[host].conn, paths[i]);
		if (!v) {
			virErrorPtr e = virGetLastError();
			if (e && e->code == VIR_ERR_NO_STORAGE_VOL)
				continue;
			rc = err_set(err, "host '%s': cannot find volume '%s': %s",
				     host_name(s, host), paths[i], hv_last_error());
			continue;
		}
		if (virStorageVolDelete(v, 0) < 0) {
			virErrorPtr e = virGetLastError();
			if (!(e && e->code == VIR_ERR_NO_STORAGE_VOL))
				rc = err_set(err, "host '%s': cannot delete volume '%s': %s",
					     host_name(s, host), paths[i], hv_last_error());
		}
		virStorageVolFree(v);
	}
	return rc;
}

/* ---- moving a VM's volumes with a live migration ---- */

/* The XML-escaped text [p, end) unescaped. */
static char *xml_unescape(const char *p, const char *end)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
		{ "&quot;", '"' }, { "&apos;", '\'' } };
	struct strbuf sb = STRBUF_INIT;

	while (p < end) {
		size_t k;
		for (k = 0; *p == '&' && k < ARRAY_SIZE(ents); k++) {
			size_t l = strlen(ents[k].e);
			if ((size_t)(end - p) >= l && !strncmp(p, ents[k].e, l)) {
				strbuf_addc(&sb, ents[k].c);
				p += l;
				break;
			}
		}
		if (*p != '&' || k == ARRAY_SIZE(ents))
			strbuf_addc(&sb, *p++);
	}
	return strbuf_detach(&sb, NULL);
}

/* The first <elem ...> start tag in [p, end): its start, or NULL. */
static const char *xml_find_tag(const char *p, const char *end, const char *elem)
{
	size_t l = strlen(elem);

	while (p && p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
		p++;
		if ((size_t)(end - p) > l && !strncmp(p, elem, l) &&
		    strchr(" \t\n/>", p[l]))
			return p - 1;
	}
	return NULL;
}

/* Attribute attr of the start tag at tag (within end); NULL when absent. */
static char *xml_tag_attr(const char *tag, const char *end, const char *attr)
{
	const char *gt = memchr(tag, '>', (size_t)(end - tag));
	size_t l = strlen(attr);

	if (!gt)
		return NULL;
	for (const char *p = tag; p + l + 2 < gt; p++) {
		const char *q;
		if (!strchr(" \t\n", *p) || strncmp(p + 1, attr, l) || p[l + 1] != '=' ||
		    (p[l + 2] != '\'' && p[l + 2] != '"'))
			continue;
		q = memchr(p + l + 3, p[l + 2], (size_t)(gt - (p + l + 3)));
		return q ? xml_unescape(p + l + 3, q) : NULL;
	}
	return NULL;
}

/* Text of the first <elem> in [p, end); NULL when absent. */
static char *xml_elem_text(const char *p, const char *end, const char *elem)
{
	const char *t = xml_find_tag(p, end, elem), *gt, *close;

	if (!t || !(gt = memchr(t, '>', (size_t)(end - t))) || gt[-1] == '/')
		return NULL;
	close = strstr(gt + 1, "</");
	return close && close <= end ? xml_unescape(gt + 1, close) : NULL;
}

/* [*start, *end) of the next <elem>...</elem> (or <elem/>) from p. */
static bool xml_next_elem(const char *p, const char *elem, const char **start,
			  const char **end)
{
	const char *t = xml_find_tag(p, p + strlen(p), elem), *gt;
	char close[32];

	if (!t || !(gt = strchr(t, '>')))
		return false;
	*start = t;
	if (gt[-1] == '/') {
		*end = gt + 1;
		return true;
	}
	snprintf(close, sizeof(close), "</%s>", elem);
	*end = strstr(gt, close);
	if (!*end)
		return false;
	*end += strlen(close);
	return true;
}

size_t storage_disks_parse(const char *dom_xml, struct storage_disk **out)
{
	const char *p = dom_xml, *start, *end;
	size_t n = 0;

	*out = NULL;
	while (xml_next_elem(p, "disk", &start, &end)) {
		const char *src = xml_find_tag(start, end, "source");
		const char *tgt = xml_find_tag(start, end, "target");
		char *path = src ? xml_tag_attr(src, end, "file") : NULL;
		if (path) {
			*out = xrealloc(*out, (n + 1) * sizeof(**out));
			(*out)[n].path = path;
			(*out)[n].target = tgt ? xml_tag_attr(tgt, end, "dev") : NULL;
			(*out)[n].readonly = xml_find_tag(start, end, "readonly") != NULL;
			n++;
		}
		p = end;
	}
	return n;
}

void storage_disks_free(struct storage_disk *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].path);
		free(d[i].target);
	}
	free(d);
}

void storage_vol_xml_parse(const char *vol_xml, char **format, char **backing,
			   char **backing_format)
{
	const char *end = vol_xml + strlen(vol_xml), *t, *bs, *bend;
	const char *tend;

	*format = *backing = *backing_format = NULL;
	/* <volume>'s own <target> comes before <backingStore> */
	bs = xml_find_tag(vol_xml, end, "backingStore");
	tend = bs ? bs : end;
	t = xml_find_tag(vol_xml, tend, "target");
	if (t && (t = xml_find_tag(t, tend, "format")))
		*format = xml_tag_attr(t, tend, "type");
	if (bs && xml_next_elem(bs, "backingStore", &bs, &bend)) {
		*backing = xml_elem_text(bs, bend, "path");
		if ((t = xml_find_tag(bs, bend, "format")))
			*backing_format = xml_tag_attr(t, bend, "type");
	}
}

void storage_move_release(struct storage_move *mv)
{
	for (size_t i = 0; i < mv->n_copy; i++)
		free(mv->copy[i]);
	for (size_t i = 0; i < mv->n_created; i++)
		free(mv->created[i]);
	for (size_t i = 0; i < mv->n_local; i++)
		free(mv->local[i]);
	free(mv->local);
	free(mv->copy);
	free(mv->created);
	memset(mv, 0, sizeof(*mv));
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = s;
}

/* Copy volume sv of host src into a new volume called name on dst (a
 * leftover of that name is replaced). Returns the new volume's path. */
static char *vol_copy(struct hv_session *s, size_t src, size_t dst, virStorageVolPtr sv,
		      virStoragePoolPtr dpool, const char *name, struct errbuf *err)
{
	virStreamPtr in = NULL, out = NULL;
	virStorageVolPtr dv = NULL;
	struct strbuf xml = STRBUF_INIT;
	long long size = vol_physical(sv);
	char *path = NULL, *buf = xmalloc(256 * 1024);
	bool ok = false;

	if (size < 0) {
		err_set(err, "host '%s': cannot read the size of volume '%s': %s",
			host_name(s, src), name, hv_last_error());
		goto out;
	}
	dv = virStorageVolLookupByName(dpool, name);
	if (dv && virStorageVolDelete(dv, 0) < 0) {
		err_set(err, "host '%s': cannot delete volume '%s': %s", host_name(s, dst), name,
			hv_last_error());
		goto out;
	}
	if (dv)
		virStorageVolFree(dv);
	strbuf_adds(&xml, "<volume><name>");
	strbuf_add_xml(&xml, name);
	strbuf_adds(&xml, "</name><capacity unit='bytes'>0</capacity>"
			  "<target><format type='raw'/><permissions><mode>0644</mode></permissions>"
			  "</target></volume>");
	dv = virStorageVolCreateXML(dpool, xml.buf, 0);
	if (!dv) {
		err_set(err, "host '%s': cannot create volume '%s': %s", host_name(s, dst), name,
			hv_last_error());
		goto out;
	}
	path = virStorageVolGetPath(dv);
	in = virStreamNew(s->hosts[src].conn, 0);
	out = virStreamNew(s->hosts[dst].conn, 0);
	if (!path || !in || !out ||
	    virStorageVolDownload(sv, in, 0, (unsigned long long)size, 0) < 0 ||
	    virStorageVolUpload(dv, out, 0, (unsigned long long)size, 0) < 0) {
		err_set(err, "cannot copy volume '%s' from host '%s' to host '%s': %s", name,
			host_name(s, src), host_name(s, dst), hv_last_error());
		goto out;
	}
	for (;;) {
		int n = virStreamRecv(in, buf, 256 * 1024);
		if (n < 0)
			break;
		if (n == 0) {
			ok = true;
			break;
		}
		for (int off = 0; off < n;) {
			int w = virStreamSend(out, buf + off, (size_t)(n - off));
			if (w < 0)
				goto copied;
			off += w;
		}
	}
copied:
	if (!ok || virStreamFinish(in) < 0 || virStreamFinish(out) < 0) {
		if (ok)
			ok = false;
		else {
			virStreamAbort(in);
			virStreamAbort(out);
		}
		err_set(err, "copy of volume '%s' from host '%s' to host '%s' failed: %s", name,
			host_name(s, src), host_name(s, dst), hv_last_error());
		goto out;
	}
	virStoragePoolRefresh(dpool, 0);
	ok = true;
out:
	if (in)
		virStreamFree(in);
	if (out)
		virStreamFree(out);
	if (!ok && dv)
		virStorageVolDelete(dv, 0);
	if (dv)
		virStorageVolFree(dv);
	if (!ok) {
		free(path);
		path = NULL;
	}
	strbuf_release(&xml);
	free(buf);
	return path;
}

/* The image spec whose volume is named base (vem-image-<sha16>.<fmt>). */
static const struct image_spec *image_by_volume(const struct cluster *c, const char *base)
{
	for (size_t i = 0; i < c->n_images; i++) {
		const struct image_spec *img = &c->images[i];
		char *name = xasprintf("vem-image-%.16s.%s", img->sha256,
				       img->format ? img->format : "qcow2");
		bool hit = str_eq(name, base);
		free(name);
		if (hit)
			return img;
	}
	return NULL;
}

/* libvirt moves a disk by its path: the counterpart on dst of src's volume
 * at spath (what: "image" or "volume", named name) must be at that path
 * too. 0, or HV_ERR_DETERMINISTIC with err saying where each host keeps it. */
static int same_path(struct hv_session *s, size_t src, size_t dst, const char *what,
		     const char *name, const char *dpath, const char *spath, struct errbuf *err)
{
	if (str_eq(dpath, spath))
		return 0;
	err_set(err, "host '%s' would keep %s '%s' at '%s', host '%s' keeps it at '%s': "
		"the pools must have the same target path", host_name(s, dst), what, name, dpath,
		host_name(s, src), spath);
	return HV_ERR_DETERMINISTIC;
}

/* Make the backing image at path `backing` of host src present on dst. */
static int move_backing(struct hv_session *s, size_t src, size_t dst, virStoragePoolPtr dpool,
			const char *backing, struct errbuf *err)
{
	const char *slash = strrchr(backing, '/');
	const char *base = slash ? slash + 1 : backing;
	const struct image_spec *img = image_by_volume(s->c, base);
	virStorageVolPtr sv = NULL, dv = NULL;
	char *path = NULL;
	uint64_t vsize;
	int rc = -1;

	if (!str_starts_with(base, "vem-image-")) {
		err_set(err, "backing store '%s' was not made by vem: make it present on "
			"host '%s' at the same path first", backing, host_name(s, dst));
		return HV_ERR_DETERMINISTIC;
	}
	if (img) {
		path = image_volume(s, dst, dpool, img, &vsize, err);
	} else {
		/* the cluster file no longer names it: take it from src */
		dv = virStorageVolLookupByName(dpool, base);
		sv = virStorageVolLookupByPath(s->hosts[src].conn, backing);
		if (dv && sv && vol_physical(dv) == vol_physical(sv)) {
			path = virStorageVolGetPath(dv);
		} else if (sv) {
			pthread_mutex_lock(&upload_lock);
			path = vol_copy(s, src, dst, sv, dpool, base, err);
			pthread_mutex_unlock(&upload_lock);
		} else {
			err_set(err, "host '%s': cannot find backing store '%s': %s",
				host_name(s, src), backing, hv_last_error());
		}
	}
	if (!path)
		goto out;
	rc = same_path(s, src, dst, "image", base, path, backing, err);
out:
	if (sv)
		virStorageVolFree(sv);
	if (dv)
		virStorageVolFree(dv);
	free(path);
	return rc;
}

/* Name of the pool holding sv (caller frees), or NULL. */
static char *vol_pool_name(virStorageVolPtr sv)
{
	virStoragePoolPtr p = virStoragePoolLookupByVolume(sv);
	const char *n = p ? virStoragePoolGetName(p) : NULL;
	char *name = n ? xstrdup(n) : NULL;

	if (p)
		virStoragePoolFree(p);
	return name;
}

/* A volume of a shared pool: dst must see it at the same path. */
static int move_shared(struct hv_session *s, size_t src, size_t dst, const char *spath,
		       const char *pool, struct errbuf *err)
{
	virStorageVolPtr dv = virStorageVolLookupByPath(s->hosts[dst].conn, spath);

	if (!dv) {
		err_set(err, "pool '%s' is declared shared, but host '%s' has no volume '%s' "
			"(host '%s' has): is the pool really shared?", pool,
			host_name(s, dst), spath, host_name(s, src));
		return HV_ERR_DETERMINISTIC;
	}
	virStorageVolFree(dv);
	return 0;
}

/*
 * The volume at path on host, its active pools refreshed when it is not
 * listed: a VM that came to the host by a migration vem did not make, or a
 * recovery, runs from a volume of a shared pool that another host created,
 * which this host's pool lists only after a refresh.
 */
static virStorageVolPtr vol_lookup_fresh(struct hv_session *s, size_t host, const char *path)
{
	virStorageVolPtr v = virStorageVolLookupByPath(s->hosts[host].conn, path);
	virStoragePoolPtr *pools = NULL;
	int n;

	if (v)
		return v;
	n = virConnectListAllStoragePools(s->hosts[host].conn, &pools,
					  VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
	for (int i = 0; i < n; i++) {
		virStoragePoolRefresh(pools[i], 0);
		virStoragePoolFree(pools[i]);
	}
	free(pools);
	return n > 0 ? virStorageVolLookupByPath(s->hosts[host].conn, path) : NULL;
}

/* Make on dst the counterpart of vem volume spath of src used as disk dk. */
static int move_volume(struct hv_session *s, size_t src, size_t dst, virStoragePoolPtr dpool,
		       const char *spath, const struct storage_disk *dk,
		       struct storage_move *mv, struct errbuf *err)
{
	virStorageVolPtr sv = vol_lookup_fresh(s, src, spath), dv = NULL;
	const char *name = NULL;
	char *xml = NULL, *fmt = NULL, *backing = NULL, *bfmt = NULL;
	char *path = NULL, *pool = NULL;
	const char *dpname = virStoragePoolGetName(dpool);
	virStorageVolInfo info;
	int rc = -1;

	if (!sv || !(name = virStorageVolGetName(sv)) || !(xml = virStorageVolGetXMLDesc(sv, 0)) ||
	    virStorageVolGetInfo(sv, &info) < 0) {
		err_set(err, "host '%s': cannot read volume '%s': %s", host_name(s, src), spath,
			hv_last_error());
		goto out;
	}
	pool = vol_pool_name(sv);
	if (storage_pool_shared(&s->c->storage, pool)) {
		rc = move_shared(s, src, dst, spath, pool, err);
		goto out;
	}
	if (storage_pool_shared(&s->c->storage, dpname)) {
		err_set(err, "volume '%s' is host-local (pool '%s') and is never copied onto "
			"pool '%s', declared shared", spath, pool ? pool : "?", dpname);
		rc = HV_ERR_DETERMINISTIC;
		goto out;
	}
	strv_push(&mv->local, &mv->n_local, xstrdup(spath));
	if (dk->readonly) {
		/* libvirt copies no read-only disk: vem copies it */
		path = vol_copy(s, src, dst, sv, dpool, name, err);
		if (!path)
			goto out;
		strv_push(&mv->created, &mv->n_created, xstrdup(path));
		mv->seed_bytes += (uint64_t)vol_physical(sv);
	} else {
		storage_vol_xml_parse(xml, &fmt, &backing, &bfmt);
		if (!str_eq(fmt, "qcow2")) {
			err_set(err, "host '%s': volume '%s' is '%s', not qcow2", host_name(s, src),
				spath, fmt ? fmt : "of no format");
			rc = HV_ERR_DETERMINISTIC;
			goto out;
		}
		if (backing && (rc = move_backing(s, src, dst, dpool, backing, err)))
			goto out;
		rc = -1;
		/* a leftover of a move that did not finish: src is the primary */
		dv = virStorageVolLookupByName(dpool, name);
		if (dv && virStorageVolDelete(dv, 0) < 0) {
			err_set(err, "host '%s': cannot replace the leftover volume '%s': %s",
				host_name(s, dst), name, hv_last_error());
			goto out;
		}
		path = disk_volume(s, dst, dpool, name, info.capacity, backing, bfmt, err);
		if (!path)
			goto out;
		strv_push(&mv->created, &mv->n_created, xstrdup(path));
		strv_push(&mv->copy, &mv->n_copy, xstrdup(dk->target));
		mv->copy_bytes += info.allocation;
	}
	rc = same_path(s, src, dst, "volume", name, path, spath, err);
out:
	if (sv)
		virStorageVolFree(sv);
	if (dv)
		virStorageVolFree(dv);
	free(xml);
	free(fmt);
	free(backing);
	free(bfmt);
	free(path);
	free(pool);
	return rc;
}

int storage_move_prepare(struct hv_session *s, size_t src, size_t dst, const char *vm,
			 const char *dom_xml, const struct vem_meta *meta,
			 struct storage_move *mv, struct errbuf *err)
{
	struct storage_disk *disks = NULL;
	size_t nd = storage_disks_parse(dom_xml, &disks), from = err->nr;
	virStoragePoolPtr dpool = NULL;
	virDomainPtr there;
	int rc = -1;

	memset(mv, 0, sizeof(*mv));
	if (!hv_host_online(s, src) || !hv_host_online(s, dst)) {
		err_set(err, "host '%s' is offline",
			host_name(s, hv_host_online(s, src) ? dst : src));
		goto out;
	}
	there = virDomainLookupByName(s->hosts[dst].conn, vm);
	if (there) {
		virDomainFree(there);
		err_set(err, "host '%s' already has a domain '%s'", host_name(s, dst), vm);
		goto out;
	}
	dpool = pool_open(s, dst, STORAGE_POOL, err);
	if (!dpool) {
		virErrorPtr e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_STORAGE_POOL)
			rc = HV_ERR_DETERMINISTIC;
		goto out;
	}
	virStoragePoolRefresh(dpool, 0);
	for (size_t i = 0; i < meta->n_volumes; i++) {
		/* a volume no disk uses goes with the VM all the same, read-only */
		struct storage_disk none = { meta->volumes[i], NULL, true };
		const struct storage_disk *dk = NULL;

		for (size_t j = 0; j < nd && !dk; j++)
			if (str_eq(disks[j].path, meta->volumes[i]))
				dk = &disks[j];
		if (dk && !dk->readonly && !dk->target) {
			err_set(err, "disk '%s' has no target device", dk->path);
			rc = HV_ERR_DETERMINISTIC;
			goto out;
		}
		if ((rc = move_volume(s, src, dst, dpool, meta->volumes[i], dk ? dk : &none, mv, err)))
			goto out;
	}
	rc = 0;
out:
	if (rc) {
		struct errbuf ignore = ERRBUF_INIT;
		storage_move_undo(s, dst, vm, mv, &ignore);
		errbuf_release(&ignore);
		err_prefix(err, from, "moving the volumes of '%s' to host '%s'", vm,
			   host_name(s, dst));
	}
	if (dpool)
		virStoragePoolFree(dpool);
	storage_disks_free(disks, nd);
	return rc;
}

int storage_move_undo(struct hv_session *s, size_t dst, const char *vm,
		      struct storage_move *mv, struct errbuf *err)
{
	virDomainPtr there;
	int rc;

	if (!mv->n_created)
		return 0;
	if (!hv_host_online(s, dst))
		return err_set(err, "host '%s' is offline: volumes of '%s' left there",
			       host_name(s, dst), vm);
	there = virDomainLookupByName(s->hosts[dst].conn, vm);
	if (there) {
		/* the domain got there after all: its volumes are in use */
		virDomainFree(there);
		return err_set(err, "host '%s' has a domain '%s': its volumes are kept",
			       host_name(s, dst), vm);
	}
	rc = storage_delete_volumes(s, dst, mv->created, mv->n_created, err);
	for (size_t i = 0; i < mv->n_created; i++)
		free(mv->created[i]);
	free(mv->created);
	mv->created = NULL;
	mv->n_created = 0;
	return rc;
}
