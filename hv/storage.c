/*
 * storage.c - volumes of a VM on one host (see storage.h).
 *
 * In the host's storage pool "default":
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

static virStoragePoolPtr pool_open(struct hv_session *s, size_t host, struct errbuf *err)
{
	virStoragePoolPtr pool;
	int active;

	if (!hv_host_online(s, host)) {
		err_set(err, "host '%s' is offline", host_name(s, host));
		return NULL;
	}
	pool = virStoragePoolLookupByName(s->hosts[host].conn, STORAGE_POOL);
	if (!pool) {
		err_set(err, "host '%s' has no storage pool '" STORAGE_POOL "' (create one, e.g. "
			"'virsh pool-define-as default dir --target /var/lib/libvirt/images; "
			"virsh pool-build default; virsh pool-start default'): %s",
			host_name(s, host), hv_last_error());
		return NULL;
	}
	active = virStoragePoolIsActive(pool);
	if (active == 0 && virStoragePoolCreate(pool, 0) < 0) {
		err_set(err, "host '%s': cannot start storage pool '" STORAGE_POOL "': %s",
			host_name(s, host), hv_last_error());
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
	virStoragePoolPtr pool;
	size_t from = err->nr;
	int rc = -1;

	/* a retried create starts from an empty list */
	for (size_t i = 0; i < meta->n_volumes; i++)
		free(meta->volumes[i]);
	free(meta->volumes);
	meta->volumes = NULL;
	meta->n_volumes = 0;

	pool = pool_open(s, host, err);
	if (!pool)
		goto out;
	virStoragePoolRefresh(pool, 0);
	for (size_t i = 0; i < vm->cfg.n_disks; i++) {
		const struct disk_spec *d = &vm->cfg.disks[i];
		char *name = xasprintf("vem-%s-%s-disk%zu.qcow2", s->c->name, vm->name, i);
		char *base = NULL, *path = NULL;
		const struct image_spec *img = NULL;
		uint64_t vsize = 0, capacity = d->size;
		char a[32], b[32];

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
	if (cloudinit_wanted(&vm->cfg) && seed_volume(s, host, pool, vm, meta, err))
		goto out;
	rc = 0;
out:
	if (rc)
		err_prefix(err, from, "vm '%s' on host '%s'", vm->name, host_name(s, host));
	if (pool)
		virStoragePoolFree(pool);
	return rc;
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

		/* vem deletes only what it names */
		if (!str_starts_with(slash ? slash + 1 : paths[i], "vem-") ||
		    str_starts_with(slash ? slash + 1 : paths[i], "vem-image-"))
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
