/*
 * cache.c - observation's memory between runs (see cache.h): a hash table
 * of entries keyed by host and domain UUID, and its file (one tab-separated
 * line per entry).
 */
#include "cache.h"
#include "hv_priv.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CACHE_HEADER "# vem observation cache 2"

struct meta_cache {
	char *path;
	struct meta_cache_entry *e;
	size_t n, alloc;
	size_t *slots;             /* open addressing: index + 1, 0 = empty */
	size_t nslots;
};

static void cache_rehash(struct meta_cache *mc)
{
	free(mc->slots);
	mc->nslots = 64;
	while (mc->nslots < mc->n * 2 + 16)
		mc->nslots *= 2;
	mc->slots = xcalloc(mc->nslots, sizeof(*mc->slots));
	for (size_t i = 0; i < mc->n; i++) {
		size_t s = (size_t)str_hash(mc->e[i].key, 0) & (mc->nslots - 1);
		while (mc->slots[s])
			s = (s + 1) & (mc->nslots - 1);
		mc->slots[s] = i + 1;
	}
}

static struct meta_cache_entry *cache_find(struct meta_cache *mc, const char *key, bool create)
{
	size_t s;
	if (!mc->slots || mc->n * 2 + 2 > mc->nslots)
		cache_rehash(mc);
	s = (size_t)str_hash(key, 0) & (mc->nslots - 1);
	while (mc->slots[s]) {
		struct meta_cache_entry *e = &mc->e[mc->slots[s] - 1];
		if (!strcmp(e->key, key))
			return e;
		s = (s + 1) & (mc->nslots - 1);
	}
	if (!create)
		return NULL;
	ALLOC_GROW(mc->e, mc->n + 1, mc->alloc);
	memset(&mc->e[mc->n], 0, sizeof(mc->e[0]));
	snprintf(mc->e[mc->n].key, sizeof(mc->e[0].key), "%s", key);
	mc->slots[s] = ++mc->n;
	return &mc->e[mc->n - 1];
}

static char *field(char **p)
{
	char *s = *p, *t;
	if (!s)
		return NULL;
	t = strchr(s, '\t');
	if (t) {
		*t = '\0';
		*p = t + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static char *opt_str(const char *s)
{
	return s && *s && strcmp(s, "-") ? xstrdup(s) : NULL;
}

struct meta_cache *meta_cache_load(const char *cluster, const char *dir)
{
	struct meta_cache *mc = xcalloc(1, sizeof(*mc));
	char *d = cache_dir(dir, "observe");
	struct strbuf sb = STRBUF_INIT;
	char *line, *save = NULL;

	mc->path = xasprintf("%s/%s.tsv", d, cluster);
	free(d);
	if (strbuf_read_file(&sb, mc->path, 64u << 20) || !str_starts_with(sb.buf, CACHE_HEADER "\n"))
		goto out;   /* missing, or written by another version: start afresh */
	for (line = strtok_r(sb.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line;
		if (line[0] == '#')
			continue;
		char *key = field(&p), *hm = field(&p), *vc = field(&p), *mm = field(&p),
		     *fa = field(&p), *ct = field(&p), *sa = field(&p), *cl_ = field(&p), *la = field(&p);
		char *cl = field(&p), *vm = field(&p), *tp = field(&p), *sh = field(&p),
		     *rv = field(&p), *ca = field(&p), *ma = field(&p), *vols = field(&p);
		struct meta_cache_entry *e;
		int64_t v;
		if (!la || strlen(key) >= sizeof(e->key))
			continue;
		e = cache_find(mc, key, true);
		e->has_meta = !strcmp(hm, "1") && cl && vm;
		e->vcpus = parse_int64(vc, &v) ? 0 : (int)v;
		e->max_memory = parse_int64(mm, &v) ? 0 : (uint64_t)v;
		e->fetched_at = parse_int64(fa, &v) ? 0 : v;
		e->cpu_time = parse_int64(ct, &v) ? 0 : (uint64_t)v;
		e->sampled_at = parse_int64(sa, &v) ? 0 : v;
		if (parse_double(cl_, &e->cpu_load))
			e->cpu_load = 0;
		e->load_at = parse_int64(la, &v) ? 0 : v;
		if (e->has_meta) {
			e->meta.cluster = opt_str(cl);
			e->meta.vm = opt_str(vm);
			e->meta.template = opt_str(tp);
			e->meta.spec_hash = opt_str(sh);
			e->meta.revision = opt_str(rv);
			e->meta.created_at = ca && !parse_int64(ca, &v) ? v : 0;
			e->meta.migrated_at = ma && !parse_int64(ma, &v) ? v : 0;
			for (char *q = vols && strcmp(vols, "-") ? vols : NULL, *s2 = NULL,
				  *tok = q ? strtok_r(q, "|", &s2) : NULL; tok; tok = strtok_r(NULL, "|", &s2)) {
				e->meta.volumes = xrealloc(e->meta.volumes, (e->meta.n_volumes + 1) * sizeof(char *));
				e->meta.volumes[e->meta.n_volumes++] = xstrdup(tok);
			}
		}
	}
out:
	strbuf_release(&sb);
	return mc;
}

static bool clean_field(const char *s)
{
	return !s || !strpbrk(s, "\t\n|");
}

void meta_cache_save(struct meta_cache *mc)
{
	struct strbuf sb = STRBUF_INIT;
	char *tmp;
	FILE *f;

	strbuf_adds(&sb, CACHE_HEADER "\n");
	for (size_t i = 0; i < mc->n; i++) {
		struct meta_cache_entry *e = &mc->e[i];
		const struct vem_meta *m = &e->meta;
		/* blocks are not in the file: such metadata is read from libvirt */
		bool meta = e->has_meta && !m->n_blocks && clean_field(m->cluster) && clean_field(m->vm) &&
			    clean_field(m->template) && clean_field(m->spec_hash) && clean_field(m->revision);
		if (!e->used)
			continue;
		for (size_t j = 0; meta && j < m->n_volumes; j++)
			meta = clean_field(m->volumes[j]);
		strbuf_addf(&sb, "%s\t%d\t%d\t%llu\t%lld\t%llu\t%lld\t%.6f\t%lld", e->key, meta ? 1 : 0,
			    e->vcpus, (unsigned long long)e->max_memory, (long long)(meta || !e->has_meta ? e->fetched_at : 0),
			    (unsigned long long)e->cpu_time, (long long)e->sampled_at, e->cpu_load,
			    (long long)e->load_at);
		if (meta) {
			strbuf_addf(&sb, "\t%s\t%s\t%s\t%s\t%s\t%lld\t%lld\t", m->cluster, m->vm,
				    m->template ? m->template : "-", m->spec_hash ? m->spec_hash : "-",
				    m->revision ? m->revision : "-", (long long)m->created_at,
				    (long long)m->migrated_at);
			for (size_t j = 0; j < m->n_volumes; j++)
				strbuf_addf(&sb, "%s%s", j ? "|" : "", m->volumes[j]);
			if (!m->n_volumes)
				strbuf_adds(&sb, "-");
		}
		strbuf_addc(&sb, '\n');
	}
	tmp = xasprintf("%s.%d.tmp", mc->path, (int)getpid());
	f = fopen(tmp, "w");
	if (f) {
		bool ok = fwrite(sb.buf, 1, sb.len, f) == sb.len;
		ok = !fclose(f) && ok;
		if (!ok || rename(tmp, mc->path))
			unlink(tmp);
	}
	free(tmp);
	strbuf_release(&sb);
}

void meta_cache_free(struct meta_cache *mc)
{
	if (!mc)
		return;
	for (size_t i = 0; i < mc->n; i++)
		vem_meta_release(&mc->e[i].meta);
	free(mc->e);
	free(mc->slots);
	free(mc->path);
	free(mc);
}

static void cache_key(char out[74], const char *host_uuid, const char *dom_uuid)
{
	snprintf(out, 74, "%s/%s", host_uuid, dom_uuid);
}

struct meta_cache_entry *meta_cache_entry(struct meta_cache *mc, const char *host_uuid,
					  const char *dom_uuid, bool create)
{
	char key[74];

	cache_key(key, host_uuid, dom_uuid);
	return cache_find(mc, key, create);
}

void meta_cache_put(struct meta_cache *mc, const char *host_uuid, const char *dom_uuid,
		    const struct vem_meta *m, int vcpus, uint64_t max_memory)
{
	char key[74];
	struct meta_cache_entry *e;

	cache_key(key, host_uuid, dom_uuid);
	e = cache_find(mc, key, true);
	vem_meta_release(&e->meta);
	e->has_meta = m != NULL;
	if (m)
		vem_meta_copy(&e->meta, m);
	e->vcpus = vcpus;
	e->max_memory = max_memory;
	e->fetched_at = time_now_ms();
	e->used = true;
}

void meta_cache_forget(struct meta_cache *mc, const char *host_uuid, const char *dom_uuid)
{
	char key[74];
	struct meta_cache_entry *e;

	cache_key(key, host_uuid, dom_uuid);
	e = cache_find(mc, key, false);
	if (e) {
		e->fetched_at = 0;   /* read the metadata again next time */
		e->has_meta = false;
		vem_meta_release(&e->meta);
	}
}
