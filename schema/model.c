/*
 * model.c - the desired-state model: names, lookups, hashing, freeing.
 */
#include "model_priv.h"

#include <stdlib.h>
#include <string.h>

static const char *const hv_names[] = {
	[HV_AUTO] = "auto", [HV_KVM] = "kvm", [HV_QEMU] = "qemu",
	[HV_XEN] = "xen", [HV_LXC] = "lxc",
};

const char *hv_type_name(enum hv_type t)
{
	return (size_t)t < ARRAY_SIZE(hv_names) ? hv_names[t] : "unknown";
}

int hv_type_parse(const char *s, enum hv_type *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(hv_names); i++)
		if (str_eq(s, hv_names[i])) {
			*out = (enum hv_type)i;
			return 0;
		}
	return -1;
}

const char *labels_get(const struct labels *l, const char *key)
{
	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->items[i].key, key))
			return l->items[i].value;
	return NULL;
}

void labels_release(struct labels *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->nr = 0;
}

const char *disk_pool(const struct disk_spec *d)
{
	return d->pool ? d->pool : "default";
}

void vm_config_release_disks(struct vm_config *c)
{
	for (size_t i = 0; i < c->n_disks; i++) {
		free(c->disks[i].image);
		free(c->disks[i].bus);
		free(c->disks[i].pool);
	}
	free(c->disks);
	c->disks = NULL;
	c->n_disks = 0;
}

void vm_config_release_nets(struct vm_config *c)
{
	for (size_t i = 0; i < c->n_nets; i++) {
		free(c->nets[i].network);
		free(c->nets[i].bridge);
		free(c->nets[i].mac);
		free(c->nets[i].model);
	}
	free(c->nets);
	c->nets = NULL;
	c->n_nets = 0;
}

void vm_config_release(struct vm_config *c)
{
	vm_config_release_disks(c);
	vm_config_release_nets(c);
	free(c->cpu_mode);
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->user_data);
	free(c->meta_data);
	free(c->network_config);
	memset(c, 0, sizeof(*c));
}

void vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	dst->disks = src->n_disks ? xcalloc(src->n_disks, sizeof(*dst->disks)) : NULL;
	for (size_t i = 0; i < src->n_disks; i++) {
		dst->disks[i] = src->disks[i];
		dst->disks[i].image = xstrdup(src->disks[i].image);
		dst->disks[i].bus = xstrdup(src->disks[i].bus);
		dst->disks[i].pool = xstrdup(src->disks[i].pool);
	}
	dst->nets = src->n_nets ? xcalloc(src->n_nets, sizeof(*dst->nets)) : NULL;
	for (size_t i = 0; i < src->n_nets; i++) {
		dst->nets[i].network = xstrdup(src->nets[i].network);
		dst->nets[i].bridge = xstrdup(src->nets[i].bridge);
		dst->nets[i].mac = xstrdup(src->nets[i].mac);
		dst->nets[i].model = xstrdup(src->nets[i].model);
	}
	dst->cpu_mode = xstrdup(src->cpu_mode);
	dst->kernel = xstrdup(src->kernel);
	dst->initrd = xstrdup(src->initrd);
	dst->cmdline = xstrdup(src->cmdline);
	dst->user_data = xstrdup(src->user_data);
	dst->meta_data = xstrdup(src->meta_data);
	dst->network_config = xstrdup(src->network_config);
}

void labels_copy(struct labels *dst, const struct labels *src)
{
	dst->nr = src->nr;
	dst->items = src->nr ? xcalloc(src->nr, sizeof(*dst->items)) : NULL;
	for (size_t i = 0; i < src->nr; i++) {
		dst->items[i].key = xstrdup(src->items[i].key);
		dst->items[i].value = xstrdup(src->items[i].value);
	}
}

void placement_release(struct placement_spec *p)
{
	for (size_t i = 0; i < p->n_hosts; i++)
		free(p->hosts[i]);
	free(p->hosts);
	labels_release(&p->labels);
	free(p->spread);
	free(p->together);
	memset(p, 0, sizeof(*p));
}

void cluster_release_hosts_images(struct cluster *c)
{
	for (size_t i = 0; i < c->n_hosts; i++) {
		free(c->hosts[i].name);
		free(c->hosts[i].uri);
		labels_release(&c->hosts[i].labels);
		free(c->hosts[i].fence.agent);
		labels_release(&c->hosts[i].fence.options);
	}
	free(c->hosts);
	c->hosts = NULL;
	c->n_hosts = 0;
	for (size_t i = 0; i < c->n_images; i++) {
		free(c->images[i].name);
		free(c->images[i].url);
		free(c->images[i].sha256);
		free(c->images[i].format);
	}
	free(c->images);
	c->images = NULL;
	c->n_images = 0;
}

void storage_spec_release(struct storage_spec *st)
{
	for (size_t i = 0; i < st->n_shared_pools; i++)
		free(st->shared_pools[i]);
	free(st->shared_pools);
	memset(st, 0, sizeof(*st));
}

bool storage_pool_shared(const struct storage_spec *st, const char *pool)
{
	for (size_t i = 0; pool && i < st->n_shared_pools; i++)
		if (!strcmp(st->shared_pools[i], pool))
			return true;
	return false;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	cluster_release_hosts_images(c);
	for (size_t i = 0; i < c->n_templates; i++) {
		free(c->templates[i].name);
		vm_config_release(&c->templates[i].cfg);
	}
	free(c->templates);
	for (size_t i = 0; i < c->n_vms; i++) {
		free(c->vms[i].name);
		free(c->vms[i].group);
		free(c->vms[i].template);
		vm_config_release(&c->vms[i].cfg);
		placement_release(&c->vms[i].placement);
		free(c->vms[i].ha.policy);
	}
	free(c->vms);
	for (size_t i = 0; i < c->n_allow_destroy; i++)
		free(c->allow_destroy[i]);
	free(c->allow_destroy);
	storage_spec_release(&c->storage);
	free(c->name);
	free(c->source);
	free(c->revision);
	for (size_t i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->files);
	free(c);
}

const struct host_spec *cluster_host(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_hosts; i++)
		if (str_eq(c->hosts[i].name, name))
			return &c->hosts[i];
	return NULL;
}

static int vm_cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct vm_spec *)elem)->name);
}

const struct vm_spec *cluster_vm(const struct cluster *c, const char *name)
{
	if (!name || !c->n_vms)
		return NULL;
	return bsearch(name, c->vms, c->n_vms, sizeof(*c->vms), vm_cmp_name);
}

const struct image_spec *cluster_image(const struct cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n_images; i++)
		if (str_eq(c->images[i].name, name))
			return &c->images[i];
	return NULL;
}

/*
 * Canonical JSON of everything that defines the domain. The spec hash is
 * taken of it with the file's own key names (hash_keys: "max-memory"), so
 * that the hashes of running VMs stay what they were; JSON output uses
 * snake_case (K("max-memory", "max_memory")) like every other JSON vem prints.
 */
void vm_config_write_json(struct json_writer *w, const struct vm_config *cfg, bool hash_keys)
{
#define K(dashed, snake) (hash_keys ? (dashed) : (snake))
	jw_object_begin(w);
	jw_kv_string(w, "hypervisor", hv_type_name(cfg->hypervisor));
	jw_kv_int(w, "vcpus", cfg->vcpus);
	jw_kv_int(w, K("max-vcpus", "max_vcpus"), cfg->max_vcpus);
	jw_kv_uint(w, "memory", cfg->memory);
	jw_kv_uint(w, K("max-memory", "max_memory"), cfg->max_memory);
	jw_kv_string(w, K("cpu-mode", "cpu_mode"), cfg->cpu_mode);
	jw_key(w, "disks");
	jw_array_begin(w);
	for (size_t i = 0; i < cfg->n_disks; i++) {
		jw_object_begin(w);
		jw_kv_uint(w, "size", cfg->disks[i].size);
		jw_kv_string(w, "image", cfg->disks[i].image);
		jw_kv_string(w, "bus", cfg->disks[i].bus);
		/* only when named, so that the hashes of VMs on "default" stay */
		if (cfg->disks[i].pool)
			jw_kv_string(w, "pool", cfg->disks[i].pool);
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_key(w, "networks");
	jw_array_begin(w);
	for (size_t i = 0; i < cfg->n_nets; i++) {
		jw_object_begin(w);
		jw_kv_string(w, "network", cfg->nets[i].network);
		jw_kv_string(w, "bridge", cfg->nets[i].bridge);
		jw_kv_string(w, "mac", cfg->nets[i].mac);
		jw_kv_string(w, "model", cfg->nets[i].model);
		jw_object_end(w);
	}
	jw_array_end(w);
	jw_kv_string(w, "kernel", cfg->kernel);
	jw_kv_string(w, "initrd", cfg->initrd);
	jw_kv_string(w, "cmdline", cfg->cmdline);
	jw_key(w, K("cloud-init", "cloud_init"));
	jw_object_begin(w);
	jw_kv_string(w, K("user-data", "user_data"), cfg->user_data);
	jw_kv_string(w, K("meta-data", "meta_data"), cfg->meta_data);
	jw_kv_string(w, K("network-config", "network_config"), cfg->network_config);
	jw_object_end(w);
	jw_kv_bool(w, "autostart", cfg->autostart);
	/* the agent's channel is in the domain XML; the other probes are not */
	if (cfg->readiness.agent)
		jw_kv_bool(w, K("guest-agent", "guest_agent"), true);
	jw_object_end(w);
#undef K
}

/*
 * A cloud-init file stands in the hash by its content, not its path: the
 * same cluster checked out elsewhere (a git source's per-commit work tree,
 * a CI clone) must not look like a change to every VM. Replicas share their
 * files, so each distinct path is read and hashed once, and found again
 * through a hash table of the paths (one file per VM is common).
 */
struct content_refs {
	struct {
		char *path, *ref;
	} *e;
	size_t n, alloc;
	uint32_t *slot;           /* 1 + an index into e, or 0: open addressing */
	size_t n_slots;           /* a power of two, more than twice n */
};

static void content_refs_index(struct content_refs *cr, size_t i)
{
	size_t mask = cr->n_slots - 1, h = (size_t)str_hash(cr->e[i].path, 0) & mask;

	while (cr->slot[h])
		h = (h + 1) & mask;
	cr->slot[h] = (uint32_t)i + 1;
}

static const char *content_ref(struct content_refs *cr, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char hex[65];
	size_t h;

	if (!path)
		return NULL;
	if (cr->n_slots) {
		for (h = (size_t)str_hash(path, 0) & (cr->n_slots - 1); cr->slot[h];
		     h = (h + 1) & (cr->n_slots - 1))
			if (!strcmp(cr->e[cr->slot[h] - 1].path, path))
				return cr->e[cr->slot[h] - 1].ref;
	}
	ALLOC_GROW(cr->e, cr->n + 1, cr->alloc);
	cr->e[cr->n].path = xstrdup(path);
	/* regular files only, never blocking on a FIFO (the loader checked) */
	if (strbuf_read_regular(&sb, path, 16u << 20, NULL) < 0) {
		cr->e[cr->n].ref = xstrdup(path);
	} else {
		sha256_hex(sb.buf, sb.len, hex);
		cr->e[cr->n].ref = xasprintf("sha256:%s", hex);
	}
	strbuf_release(&sb);
	cr->n++;
	if (2 * cr->n >= cr->n_slots) {   /* grow and index every path again */
		free(cr->slot);
		cr->n_slots = cr->n_slots ? 2 * cr->n_slots : 16;
		cr->slot = xcalloc(cr->n_slots, sizeof(*cr->slot));
		for (size_t i = 0; i < cr->n; i++)
			content_refs_index(cr, i);
	} else {
		content_refs_index(cr, cr->n - 1);
	}
	return cr->e[cr->n - 1].ref;
}

void cluster_hash_vms(struct cluster *c)
{
	struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	struct content_refs cr = { 0 };
	char hex[65];

	for (size_t i = 0; i < c->n_vms; i++) {
		struct vm_spec *vm = &c->vms[i];
		struct vm_config cfg = vm->cfg;

		/* the refs stay owned by cr; cfg is a shallow copy only written out */
		cfg.user_data = (char *)content_ref(&cr, vm->cfg.user_data);
		cfg.meta_data = (char *)content_ref(&cr, vm->cfg.meta_data);
		cfg.network_config = (char *)content_ref(&cr, vm->cfg.network_config);
		strbuf_reset(&sb);
		jw_init(&w, &sb, false);
		jw_object_begin(&w);
		jw_kv_string(&w, "cluster", c->name);
		jw_kv_string(&w, "name", vm->name);
		jw_key(&w, "config");
		vm_config_write_json(&w, &cfg, true);
		jw_object_end(&w);
		sha256_hex(sb.buf, sb.len, hex);
		memcpy(vm->spec_hash, hex, 16);
		vm->spec_hash[16] = '\0';
	}
	strbuf_release(&sb);
	for (size_t i = 0; i < cr.n; i++) {
		free(cr.e[i].path);
		free(cr.e[i].ref);
	}
	free(cr.e);
	free(cr.slot);
}

int cluster_max_unavailable(const struct cluster *c, const struct vm_spec *vm, size_t group_size)
{
	int m = vm && vm->rollout.max_unavailable ? vm->rollout.max_unavailable
						  : c->rollout.max_unavailable;
	if (m > 0)
		return m;
	if (m < 0) {
		size_t n = group_size * (size_t)-m / 100;
		return n >= 1 ? (n > INT32_MAX ? INT32_MAX : (int)n) : 1;
	}
	return 1;
}
