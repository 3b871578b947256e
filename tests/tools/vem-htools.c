/*
 * vem-htools - convert between Ganeti htools' text format (hbal -t FILE)
 * and vem's observed-state snapshot plus a matching cluster file, so that
 * hbal and vem can balance the same cluster and hbal can score vem's result.
 *
 *   vem-htools gen HOSTS VMS SEED PREFIX [SHAPE]
 *       write a skewed cluster of the given shape (default uniform; see
 *       `vem-htools shapes`): PREFIX.htools (text backend) and PREFIX.dynu
 *       (hbal -U: per instance "name cpu mem disk net", the CPU load in
 *       units of 16 cores, i.e. a fraction of a 16-CPU node; mem/disk/net 0)
 *   vem-htools shapes
 *       list the shapes
 *   vem-htools to-vem HTOOLS DYNU|- SNAPSHOT.json CLUSTER.yaml
 *       nodes become hosts (capacity: cpus, memory less one byte, which
 *       is hbal's memory limit, see cmd_to_vem; offline nodes are
 *       offline; "memory used by the node" becomes a running foreign domain
 *       "node-os-NODE" of that memory, so vem's u_mem is hbal's used
 *       fraction (node + instances) / total; vem's own `reserve:` would
 *       be committed / (total - reserve), another metric), instances
 *       become VMs (memory, vcpus) and their running domains; the CPU load
 *       is the dynu value times 16 cores, whatever the node (hbal's -U load
 *       is absolute: it does not depend on the node an instance runs on). Instances with a disk
 *       template on shared storage (sharedfile, rbd, ext, gluster,
 *       diskless) may run anywhere; plain/file/blockdev ones are pinned to
 *       their node and drbd ones to their two nodes (placement.hosts).
 *   vem-htools from-vem SNAPSHOT.json PLAN.json|- HTOOLS [ORIGINAL.htools]
 *       the snapshot with the plan's migrations applied, as htools text
 *       (instances keep ORIGINAL's disk template, else sharedfile: hbal
 *       scores pinned instances differently; node free memory from the
 *       domains).
 *
 * Sizes in htools text are MiB. The cluster file is written without a
 * balance section: append one.
 */
#include "schema/load.h"
#include "hv/hv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define GROUP_UUID "vem-bench-group-uuid"

static void die(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vem-htools: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write '%s'", path);
	return f;
}

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / (double)(1ull << 53);
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

/* ---- htools text ---- */

static void write_htools_header(FILE *f)
{
	fprintf(f, "default|%s|preferred||\n\n", GROUP_UUID);
}

static void write_htools_node(FILE *f, const char *name, uint64_t mem_mib, uint64_t used_mib,
			      uint64_t free_mib, int cpus, bool offline)
{
	fprintf(f, "%s|%llu|%llu|%llu|1048576|1048576|%d|%c|%s|1||N|0|0|1.0\n", name,
		(unsigned long long)mem_mib, (unsigned long long)used_mib,
		(unsigned long long)free_mib, cpus, offline ? 'Y' : 'N', GROUP_UUID);
}

static void write_htools_instance(FILE *f, const char *name, uint64_t mem_mib, int vcpus,
				  bool running, const char *node, const char *tmpl)
{
	fprintf(f, "%s|%llu|0|%d|%s|Y|%s||%s||1|-\n", name, (unsigned long long)mem_mib,
		vcpus, running ? "running" : "ADMIN_down", node, tmpl);
}

static void write_htools_trailer(FILE *f, double vcpu_ratio)
{
	/* no cluster tags; the cluster's and the group's instance policy */
	static const char *const spec = "|128,1,1024,1,1,1|128,1,1024,1,1,1;1048576,64,1048576,16,8,12|"
		"diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext,gluster|";
	fprintf(f, "\n\n%s%.1f|32.0\n", spec, vcpu_ratio);
	fprintf(f, "default%s%.1f|32.0\n", spec, vcpu_ratio);
}

/* ---- gen ---- */

/*
 * Cluster shapes for the sweep. Each shape fixes how hosts and VMs are
 * drawn; the seed draws them. Loads are in cores; the dynu file carries
 * them divided by REF_CPUS (see to-vem), so on 16-CPU hosts hbal's CPU
 * term is vem's u_cpu.
 */
enum { REF_CPUS = 16, OVERCOMMIT = 4 };

struct shape {
	const char *name, *doc;
	const int *host_cpus;           /* drawn per host, parallel to host_gib */
	const int *host_gib;
	size_t n_host_kinds;
	int reserve_max_gib;            /* reserve drawn in 0..this (0: none) */
	double mem_scale;               /* VM sizes x this: fill level */
	double pinned;                  /* share of VMs pinned (plain) */
	bool hot_loads;                 /* one VM in ten very busy, the rest idle */
};

static const int cpus_uniform[] = { 16 }, gib_uniform[] = { 64 };
static const int cpus_mixmem[] = { 16, 16, 16 }, gib_mixmem[] = { 32, 64, 128 };
static const int cpus_mixcpu[] = { 8, 16, 32, 64 }, gib_mixcpu[] = { 64, 64, 64, 64 };
static const int cpus_mixed[] = { 8, 16, 24, 32, 48 }, gib_mixed[] = { 32, 64, 96, 128, 256 };

#define KINDS(c, g) .host_cpus = (c), .host_gib = (g), .n_host_kinds = ARRAY_SIZE(c)
static const struct shape shapes[] = {
	{ "uniform", "16 CPUs, 64 GiB hosts; all movable", KINDS(cpus_uniform, gib_uniform), 0, 1.0, 0, false },
	{ "mixmem", "16 CPUs; 32, 64 or 128 GiB", KINDS(cpus_mixmem, gib_mixmem), 0, 1.0, 0, false },
	{ "mixcpu", "64 GiB; 8, 16, 32 or 64 CPUs", KINDS(cpus_mixcpu, gib_mixcpu), 0, 1.0, 0, false },
	{ "reserve", "16 CPUs, 64 GiB, 0-8 GiB reserved for the host", KINDS(cpus_uniform, gib_uniform), 8, 1.0, 0, false },
	{ "pinned", "uniform hosts, 25% of VMs pinned (plain)", KINDS(cpus_uniform, gib_uniform), 0, 1.0, 0.25, false },
	{ "hotload", "uniform hosts, 1 VM in 10 busy, the rest nearly idle", KINDS(cpus_uniform, gib_uniform), 0, 1.0, 0, true },
	{ "full", "uniform hosts, VMs 1.25x larger (~85% of memory)", KINDS(cpus_uniform, gib_uniform), 0, 1.25, 0, false },
	{ "empty", "uniform hosts, VMs 4x smaller (~17% of memory)", KINDS(cpus_uniform, gib_uniform), 0, 0.25, 0, false },
	{ "mixed", "mixed CPUs and memory, reserves, 15% pinned, busy VMs", KINDS(cpus_mixed, gib_mixed), 4, 1.0, 0.15, true },
};

static const struct shape *shape_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++)
		if (!strcmp(shapes[i].name, name))
			return &shapes[i];
	return NULL;
}

static int cmd_gen(int argc, char **argv)
{
	static const uint64_t sizes[] = { 512, 1024, 1024, 2048, 2048, 2048, 4096, 4096, 8192 };
	static const int vcpu_choices[] = { 1, 1, 1, 1, 2, 2, 2, 4, 4, 8 };
	const struct shape *sh = &shapes[0];
	size_t nh, nv, hot;
	uint64_t *mem_used, *mem_cap, *reserve;
	int *vcpus_used, *cpus;
	char *path;
	FILE *ht, *du, *inst;
	int64_t v;

	if ((argc != 5 && argc != 6) || parse_int64(argv[1], &v) || v < 1)
		die("%s", "usage: vem-htools gen HOSTS VMS SEED PREFIX [SHAPE]");
	nh = (size_t)v;
	if (parse_int64(argv[2], &v) || v < 0)
		die("bad VMS '%s'", argv[2]);
	nv = (size_t)v;
	if (parse_int64(argv[3], &v))
		die("bad SEED '%s'", argv[3]);
	if (argc == 6 && !(sh = shape_find(argv[5])))
		die("unknown shape '%s' (vem-htools shapes lists them)", argv[5]);
	rng_state = (uint64_t)v;
	hot = nh / 3 ? nh / 3 : 1;
	mem_used = xcalloc(nh, sizeof(*mem_used));
	mem_cap = xcalloc(nh, sizeof(*mem_cap));
	reserve = xcalloc(nh, sizeof(*reserve));
	vcpus_used = xcalloc(nh, sizeof(*vcpus_used));
	cpus = xcalloc(nh, sizeof(*cpus));
	for (size_t h = 0; h < nh; h++) {
		size_t k = sh->n_host_kinds > 1 ? rng_below(sh->n_host_kinds) : 0;
		cpus[h] = sh->host_cpus[k];
		mem_cap[h] = (uint64_t)sh->host_gib[k] * 1024;
		if (sh->reserve_max_gib)
			reserve[h] = 512 * rng_below(2 * (size_t)sh->reserve_max_gib + 1);
	}

	path = xasprintf("%s.htools", argv[4]);
	ht = open_out(path);
	free(path);
	path = xasprintf("%s.dynu", argv[4]);
	du = open_out(path);
	free(path);
	inst = tmpfile();
	if (!inst)
		die("%s", "cannot create a temporary file");

	/* three VMs in four go to the first third of the hosts while they fit
	 * (memory up to 90% of what the host offers); the rest anywhere */
	for (size_t i = 0; i < nv; i++) {
		uint64_t m = (uint64_t)((double)sizes[rng_below(ARRAY_SIZE(sizes))] * sh->mem_scale);
		int c = vcpu_choices[rng_below(ARRAY_SIZE(vcpu_choices))];
		double load = c * (0.05 + 0.9 * rng_unit() * rng_unit());
		size_t h = rng_unit() < 0.75 ? rng_below(hot) : rng_below(nh);
		size_t tries = 0;
		bool pinned = sh->pinned > 0 && rng_unit() < sh->pinned;

		m = m < 128 ? 128 : m / 128 * 128;
		if (sh->hot_loads)
			load = rng_unit() < 0.1 ? c * (0.6 + 0.4 * rng_unit()) : c * 0.02 * rng_unit();
		while (mem_used[h] + m > (mem_cap[h] - reserve[h]) * 9 / 10 ||
		       vcpus_used[h] + c > cpus[h] * OVERCOMMIT) {
			h = ++tries < 8 ? rng_below(nh) : (h + 1) % nh;
			if (tries > 8 + nh)
				die("%s", "the VMs do not fit on the hosts");
		}
		mem_used[h] += m;
		vcpus_used[h] += c;
		{
			char name[32], node[32];
			snprintf(name, sizeof(name), "vm%05zu", i);
			snprintf(node, sizeof(node), "node%04zu", h);
			write_htools_instance(inst, name, m, c, true, node, pinned ? "plain" : "sharedfile");
			fprintf(du, "%s %.6f 0 0 0\n", name, load / REF_CPUS);
		}
	}
	write_htools_header(ht);
	for (size_t h = 0; h < nh; h++) {
		char node[32];
		snprintf(node, sizeof(node), "node%04zu", h);
		write_htools_node(ht, node, mem_cap[h], reserve[h], mem_cap[h] - reserve[h] - mem_used[h],
				  cpus[h], false);
	}
	fputc('\n', ht);
	rewind(inst);
	{
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), inst)) > 0)
			fwrite(buf, 1, n, ht);
	}
	write_htools_trailer(ht, OVERCOMMIT);
	fclose(inst);
	if (fclose(ht) || fclose(du))
		die("%s", "write error");
	free(mem_used);
	free(mem_cap);
	free(reserve);
	free(vcpus_used);
	free(cpus);
	return 0;
}

static int cmd_shapes(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++)
		printf("%-8s %s\n", shapes[i].name, shapes[i].doc);
	return 0;
}

/* ---- reading htools text ---- */

struct ht_node {
	char *name;
	uint64_t mem, used;        /* MiB */
	int cpus;
	bool offline;
};

struct ht_inst {
	char *name;
	uint64_t mem;              /* MiB */
	int vcpus;
	bool running;
	char *pnode, *snode, *tmpl;
	double cpu;                /* dynu: fraction of the node's CPUs */
};

struct htools {
	struct ht_node *nodes;
	size_t n_nodes, a_nodes;
	struct ht_inst *insts;
	size_t n_insts, a_insts;
};

/* Split line at '|' in place; returns the number of fields (at most max). */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '|') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static uint64_t field_u64(const char *s, const char *what)
{
	int64_t v;
	if (parse_int64(s, &v) || v < 0)
		die("bad %s '%s'", what, s);
	return (uint64_t)v;
}

static void read_htools(const char *path, struct htools *ht)
{
	struct strbuf sb = STRBUF_INIT;
	char *line, *p;
	int section = 0;

	memset(ht, 0, sizeof(*ht));
	if (strbuf_read_file(&sb, path, 1u << 30))
		die("cannot read '%s'", path);
	/* sections are separated by single empty lines: walk line by line */
	p = sb.buf;
	while (p && *p) {
		char *f[16];
		size_t n;
		line = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
		if (!*line) {
			section++;
			continue;
		}
		if (section == 1) {
			struct ht_node *nd;
			n = split(line, f, 16);
			if (n < 9)
				die("node line '%s' has too few fields", f[0]);
			ALLOC_GROW(ht->nodes, ht->n_nodes + 1, ht->a_nodes);
			nd = &ht->nodes[ht->n_nodes++];
			nd->name = xstrdup(f[0]);
			nd->mem = field_u64(f[1], "node memory");
			nd->used = field_u64(f[2], "node memory");
			nd->cpus = (int)field_u64(f[6], "node cpus");
			nd->offline = !strcmp(f[7], "Y");
		} else if (section == 2) {
			struct ht_inst *in;
			n = split(line, f, 16);
			if (n < 9)
				die("instance line '%s' has too few fields", f[0]);
			ALLOC_GROW(ht->insts, ht->n_insts + 1, ht->a_insts);
			in = &ht->insts[ht->n_insts++];
			in->name = xstrdup(f[0]);
			in->mem = field_u64(f[1], "instance memory");
			in->vcpus = (int)field_u64(f[3], "instance vcpus");
			in->running = !strcmp(f[4], "running");
			in->pnode = xstrdup(f[6]);
			in->snode = *f[7] ? xstrdup(f[7]) : NULL;
			in->tmpl = xstrdup(f[8]);
		}
	}
	strbuf_release(&sb);
}

static void htools_release(struct htools *ht)
{
	for (size_t i = 0; i < ht->n_nodes; i++)
		free(ht->nodes[i].name);
	for (size_t i = 0; i < ht->n_insts; i++) {
		free(ht->insts[i].name);
		free(ht->insts[i].pnode);
		free(ht->insts[i].snode);
		free(ht->insts[i].tmpl);
	}
	free(ht->nodes);
	free(ht->insts);
}

static int cmp_inst(const void *a, const void *b)
{
	return strcmp(((const struct ht_inst *)a)->name, ((const struct ht_inst *)b)->name);
}

static void read_dynu(const char *path, struct htools *ht)
{
	FILE *f = fopen(path, "r");
	char name[256];
	double cpu, m, d, n;

	if (!f)
		die("cannot read '%s'", path);
	qsort(ht->insts, ht->n_insts, sizeof(*ht->insts), cmp_inst);
	while (fscanf(f, "%255s %lf %lf %lf %lf", name, &cpu, &m, &d, &n) == 5) {
		struct ht_inst key = { .name = name }, *in;
		in = bsearch(&key, ht->insts, ht->n_insts, sizeof(*ht->insts), cmp_inst);
		if (in)
			in->cpu = cpu;
	}
	fclose(f);
}

static long node_index(const struct htools *ht, const char *name)
{
	for (size_t i = 0; i < ht->n_nodes; i++)
		if (!strcmp(ht->nodes[i].name, name))
			return (long)i;
	return -1;
}

static bool shared_storage(const char *tmpl)
{
	return !strcmp(tmpl, "sharedfile") || !strcmp(tmpl, "rbd") || !strcmp(tmpl, "ext") ||
	       !strcmp(tmpl, "gluster") || !strcmp(tmpl, "diskless");
}

/* ---- to-vem ---- */

/* The foreign domain that stands for a node's own memory use. */
#define NODE_OS "node-os-"

static bool is_node_os(const struct obs_domain *d)
{
	return !d->owned && !strncmp(d->name, NODE_OS, strlen(NODE_OS));
}

static int cmd_to_vem(int argc, char **argv)
{
	struct htools ht;
	struct errbuf err = ERRBUF_INIT;
	struct cluster *c;
	struct observed o;
	struct strbuf sb = STRBUF_INIT;
	long *pidx;
	FILE *y;

	if (argc != 5)
		die("%s", "usage: vem-htools to-vem HTOOLS DYNU|- SNAPSHOT.json CLUSTER.yaml");
	read_htools(argv[1], &ht);
	if (strcmp(argv[2], "-"))
		read_dynu(argv[2], &ht);
	pidx = xcalloc(ht.n_insts + 1, sizeof(*pidx));
	for (size_t i = 0; i < ht.n_insts; i++) {
		pidx[i] = node_index(&ht, ht.insts[i].pnode);
		if (pidx[i] < 0)
			die("instance on unknown node '%s'", ht.insts[i].pnode);
	}

	y = open_out(argv[4]);
	fprintf(y, "# converted from %s by vem-htools\ncluster: htools\nhosts:\n", argv[1]);
	for (size_t i = 0; i < ht.n_nodes; i++) {
		const struct ht_node *nd = &ht.nodes[i];
		/* one byte short of the node's memory: hbal refuses a move that
		 * leaves a node no free memory at all (Node.addPri: new_mem <= 0
		 * fails), vem a move that needs more than the capacity; with
		 * sizes in whole MiB, capacity - 1 byte is hbal's limit. The
		 * snapshot keeps the whole MiB (from-vem reads it), and u_mem
		 * changes by 2^-35 of itself. */
		fprintf(y, "  - {name: %s, uri: 'test:///default', capacity: {cpus: %d, memory: %lluB}",
			nd->name, nd->cpus, (unsigned long long)(nd->mem * MiB - 1));
		fputs("}\n", y);
	}
	fputs("templates:\n  - {name: vm, kernel: /boot/vmlinuz}\nvms:\n", y);
	for (size_t i = 0; i < ht.n_insts; i++) {
		const struct ht_inst *in = &ht.insts[i];
		fprintf(y, "  - {name: %s, template: vm, vcpus: %d, memory: %lluMiB%s", in->name, in->vcpus,
			(unsigned long long)in->mem, in->running ? "" : ", state: stopped");
		if (!shared_storage(in->tmpl)) {
			fprintf(y, ", placement: {hosts: [%s", in->pnode);
			if (in->snode && !strcmp(in->tmpl, "drbd"))
				fprintf(y, ", %s", in->snode);
			fputs("]}", y);
		}
		fputs("}\n", y);
	}
	if (fclose(y))
		die("cannot write '%s'", argv[4]);

	/* the spec hashes come from loading the file just written */
	c = cfg_load(argv[4], &err);
	if (!c) {
		err_print(&err, stderr, "vem-htools");
		exit(1);
	}
	memset(&o, 0, sizeof(o));
	o.cluster = xstrdup(c->name);
	o.taken_at = time_now_ms();
	o.n_hosts = ht.n_nodes;
	o.hosts = xcalloc(ht.n_nodes + 1, sizeof(*o.hosts));
	for (size_t i = 0; i < ht.n_nodes; i++) {
		struct obs_host *h = &o.hosts[i];
		h->name = xstrdup(ht.nodes[i].name);
		h->uri = xstrdup("test:///default");
		h->online = !ht.nodes[i].offline;
		h->cpus = ht.nodes[i].cpus;
		h->memory = ht.nodes[i].mem * MiB;
		h->hv_caps = (1u << HV_QEMU) | (1u << HV_KVM);
	}
	o.domains = xcalloc(ht.n_insts + ht.n_nodes + 1, sizeof(*o.domains));
	/* the node's own memory is load vem does not manage: a foreign domain,
	 * so that u_mem is hbal's used fraction (see the header) */
	for (size_t i = 0; i < ht.n_nodes; i++) {
		struct obs_domain *d;
		if (!ht.nodes[i].used)
			continue;
		d = &o.domains[o.n_domains++];
		d->name = xasprintf("%s%s", NODE_OS, ht.nodes[i].name);
		snprintf(d->uuid, sizeof(d->uuid), "00000000-0000-4000-9000-%012x", (unsigned)(i & 0xffffff));
		d->host = i;
		d->state = DOM_RUNNING;
		d->persistent = true;
		d->memory = d->max_memory = ht.nodes[i].used * MiB;
	}
	for (size_t i = 0; i < ht.n_insts; i++) {
		const struct ht_inst *in = &ht.insts[i];
		struct obs_domain *d = &o.domains[o.n_domains++];
		const struct vm_spec *vm = cluster_vm(c, in->name);
		d->name = xstrdup(in->name);
		snprintf(d->uuid, sizeof(d->uuid), "00000000-0000-4000-8000-%012llx",
			 (unsigned long long)(i & 0xffffffffffffull));
		d->host = (size_t)pidx[i];
		d->owned = true;
		d->meta.vm = xstrdup(in->name);
		d->meta.template = xstrdup("vm");
		d->meta.spec_hash = xstrdup(vm ? vm->spec_hash : NULL);
		d->state = in->running ? DOM_RUNNING : DOM_STOPPED;
		d->persistent = true;
		d->vcpus = in->vcpus;
		d->memory = d->max_memory = in->mem * MiB;
		d->cpu_load = in->running ? in->cpu * REF_CPUS : 0;
	}
	observed_write_json(&o, &sb);
	y = open_out(argv[3]);
	fwrite(sb.buf, 1, sb.len, y);
	if (fclose(y))
		die("cannot write '%s'", argv[3]);
	strbuf_release(&sb);
	observed_release(&o);
	cluster_free(c);
	errbuf_release(&err);
	htools_release(&ht);
	free(pidx);
	return 0;
}

/* ---- from-vem ---- */

struct move {
	char *vm, *dest;
};

static int cmp_move(const void *a, const void *b)
{
	return strcmp(((const struct move *)a)->vm, ((const struct move *)b)->vm);
}

static const char *map_str(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (k && v && k->type == YAML_SCALAR_NODE && v->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)k->data.scalar.value, key))
			return (const char *)v->data.scalar.value;
	}
	return NULL;
}

/* The migrations of a plan (vem plan -o json), sorted by VM. */
static struct move *read_moves(const char *path, size_t *n)
{
	struct strbuf sb = STRBUF_INIT;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *acts = NULL;
	struct move *mv = NULL;
	size_t alloc = 0;

	*n = 0;
	if (strbuf_read_file(&sb, path, 1u << 30))
		die("cannot read '%s'", path);
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (unsigned char *)sb.buf, sb.len);
	if (!yaml_parser_load(&parser, &doc))
		die("'%s' is not JSON", path);
	root = yaml_document_get_root_node(&doc);
	for (yaml_node_pair_t *p = root && root->type == YAML_MAPPING_NODE ? root->data.mapping.pairs.start : NULL;
	     p && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, "actions"))
			acts = yaml_document_get_node(&doc, p->value);
	}
	if (!acts || acts->type != YAML_SEQUENCE_NODE)
		die("'%s' is not a vem plan (vem plan -o json)", path);
	for (yaml_node_item_t *it = acts->data.sequence.items.start; it < acts->data.sequence.items.top; it++) {
		yaml_node_t *a = yaml_document_get_node(&doc, *it);
		const char *kind = map_str(&doc, a, "action");
		if (!kind || strcmp(kind, "migrate"))
			continue;
		ALLOC_GROW(mv, *n + 1, alloc);
		mv[*n].vm = xstrdup(map_str(&doc, a, "vm"));
		mv[*n].dest = xstrdup(map_str(&doc, a, "dest"));
		(*n)++;
	}
	qsort(mv, *n, sizeof(*mv), cmp_move);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	strbuf_release(&sb);
	return mv;
}

static int cmd_from_vem(int argc, char **argv)
{
	struct errbuf err = ERRBUF_INIT;
	struct observed o;
	struct move *mv = NULL;
	size_t nm = 0;
	uint64_t *used, *nodemem;
	FILE *f;

	struct htools orig;
	bool have_orig = argc == 5;

	if (argc != 4 && argc != 5)
		die("%s", "usage: vem-htools from-vem SNAPSHOT.json PLAN.json|- HTOOLS [ORIGINAL.htools]");
	if (have_orig) {
		read_htools(argv[4], &orig);
		qsort(orig.insts, orig.n_insts, sizeof(*orig.insts), cmp_inst);
	}
	if (observed_read_json(argv[1], &o, &err)) {
		err_print(&err, stderr, "vem-htools");
		exit(1);
	}
	if (strcmp(argv[2], "-"))
		mv = read_moves(argv[2], &nm);
	for (size_t i = 0; i < o.n_domains; i++) {
		struct obs_domain *d = &o.domains[i];
		struct move key = { .vm = d->owned ? d->meta.vm : d->name }, *m;
		long h;
		m = nm ? bsearch(&key, mv, nm, sizeof(*mv), cmp_move) : NULL;
		if (!m)
			continue;
		h = observed_host_index(&o, m->dest);
		if (h < 0)
			die("the plan names unknown host '%s'", m->dest);
		d->host = (size_t)h;
	}
	used = xcalloc(o.n_hosts + 1, sizeof(*used));
	nodemem = xcalloc(o.n_hosts + 1, sizeof(*nodemem));
	for (size_t i = 0; i < o.n_domains; i++) {
		const struct obs_domain *d = &o.domains[i];
		uint64_t m = (d->max_memory > d->memory ? d->max_memory : d->memory) / MiB;
		if (is_node_os(d))
			nodemem[d->host] += m;
		else
			used[d->host] += m;
	}
	f = open_out(argv[3]);
	write_htools_header(f);
	for (size_t h = 0; h < o.n_hosts; h++) {
		const struct obs_host *oh = &o.hosts[h];
		uint64_t mem = oh->memory / MiB, res = oh->reserve / MiB + nodemem[h];
		write_htools_node(f, oh->name, mem, res, mem > res + used[h] ? mem - res - used[h] : 0,
				  oh->cpus, !oh->online);
	}
	fputc('\n', f);
	for (size_t i = 0; i < o.n_domains; i++) {
		const struct obs_domain *d = &o.domains[i];
		uint64_t m = d->max_memory > d->memory ? d->max_memory : d->memory;
		struct ht_inst key = { .name = d->name }, *in = NULL;
		if (is_node_os(d))
			continue;
		if (have_orig)
			in = bsearch(&key, orig.insts, orig.n_insts, sizeof(*orig.insts), cmp_inst);
		write_htools_instance(f, d->name, m / MiB, d->vcpus,
				      d->state == DOM_RUNNING || d->state == DOM_PAUSED,
				      o.hosts[d->host].name, in ? in->tmpl : "sharedfile");
	}
	write_htools_trailer(f, 4.0);
	if (fclose(f))
		die("cannot write '%s'", argv[3]);
	for (size_t i = 0; i < nm; i++) {
		free(mv[i].vm);
		free(mv[i].dest);
	}
	free(mv);
	free(used);
	free(nodemem);
	if (have_orig)
		htools_release(&orig);
	observed_release(&o);
	errbuf_release(&err);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "shapes"))
		return cmd_shapes();
	if (argc >= 2 && !strcmp(argv[1], "to-vem"))
		return cmd_to_vem(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "from-vem"))
		return cmd_from_vem(argc - 1, argv + 1);
	fprintf(stderr, "usage: vem-htools gen HOSTS VMS SEED PREFIX [SHAPE]\n"
			"       vem-htools shapes\n"
			"       vem-htools to-vem HTOOLS DYNU|- SNAPSHOT.json CLUSTER.yaml\n"
			"       vem-htools from-vem SNAPSHOT.json PLAN.json|- HTOOLS [ORIGINAL.htools]\n");
	return 64;
}
