/*
 * keys.h - the key tables of the cluster file format.
 *
 * One table per mapping of the format: each key has its YAML name, type,
 * where it is stored, its documentation, its default and its limits. The
 * loader walks YAML with these tables and fills defaults from them, `vem
 * schema` generates the JSON Schema from them and the man page follows them,
 * so the three cannot drift. Defaults live in keys.c and nowhere else.
 */
#ifndef VEM_KEYS_H
#define VEM_KEYS_H

#include "model.h"
#include <yaml.h>

enum ktype {
	K_STR,        /* char * */
	K_PATH,       /* char *, relative paths resolved against the file's directory */
	K_ENUM,       /* char *, one of enums[] */
	K_HV,         /* enum hv_type */
	K_STATE,      /* enum vm_state */
	K_CHOICE,     /* int: index into enums[] */
	K_INT,        /* int */
	K_FLOAT,      /* double */
	K_BOOL,       /* bool */
	K_SIZE,       /* uint64_t bytes */
	K_RATE,       /* uint64_t bytes per second ("100MiB" or "100MiB/s") */
	K_DURATION,   /* int64_t ms */
	K_UNAVAIL,    /* int: a count (> 0) or a percentage ("25%" stored as -25) */
	K_LABELS,     /* struct labels */
	K_STRLIST,    /* char ** at off, size_t count at off2 */
	K_MAP,        /* nested mapping stored in the same struct: sub */
	K_LIST,       /* list of mappings: sub describes an item, add() appends one */
};

#define KF_REQUIRED 1u
#define KF_APPEND 2u     /* K_STRLIST: a list given in several files adds up */
/* Checked by the loader after the walk; the JSON Schema says it as a pattern: */
#define KF_NAME 4u       /* a name (cfg_valid_name) */
#define KF_URI 8u        /* a libvirt URI (cfg_valid_uri) */
#define KF_MAC 16u       /* a unicast MAC address (cfg_valid_mac) */
#define KF_SHA256 32u    /* 64 lowercase hex digits (cfg_valid_sha256) */
#define KF_URL 64u       /* an image URL: https://, http:// or file:/// */

/*
 * Keys of a VM configuration, numbered so the loader can remember where
 * each was set (for errors found after merging a template and a VM).
 */
enum cfg_key {
	CK_NONE = 0,
	CK_HYPERVISOR, CK_VCPUS, CK_MAX_VCPUS, CK_MEMORY, CK_MAX_MEMORY, CK_CPU_MODE,
	CK_DISKS, CK_NETWORKS, CK_KERNEL, CK_INITRD, CK_CMDLINE, CK_CLOUD_INIT,
	CK_USER_DATA, CK_META_DATA, CK_NETWORK_CONFIG, CK_AUTOSTART, CK_READINESS,
	CK_COUNT
};

struct table;

struct key {
	const char *name;
	enum ktype type;
	size_t off;                    /* field in the table's struct */
	size_t off2;                   /* K_STRLIST: its size_t count */
	enum cfg_key ck;               /* VM configuration keys only */
	const char *doc;
	const char *def;               /* default, as YAML text; NULL: none (zero) */
	const char *same_as;           /* default: this other key's value */
	const char *const *enums;      /* K_ENUM: NULL-terminated */
	const struct table *sub;       /* K_MAP, K_LIST */
	void *(*add)(void *base);      /* K_LIST: append a zeroed item to base */
	void (*clear)(void *base);     /* K_LIST: drop base's items (an override replaces them) */
	double min, max;               /* numeric range, checked when min < max */
	unsigned flags;
};

struct table {
	const char *name;              /* "host", "template", ... */
	const char *doc;
	const struct key *keys;
	size_t n;
	const struct table *with;      /* its keys apply here too (VM configuration) */
	size_t with_off;               /* where with's struct is in an item */
	bool has_loc, has_src;         /* items keep a struct loc / struct raw_src */
	size_t loc_off, src_off;
};

/* Where a template's or a VM's mapping is, to walk it again when merging. */
struct raw_src {
	yaml_document_t *doc;
	yaml_node_t *node;
	const char *file, *dir;
};

/* What the loader fills while walking, before templates are merged, replicas
 * expanded and cross-references checked. */
struct raw_template {
	struct template_spec t;
	struct raw_src src;
};

struct raw_vm {
	struct vm_spec spec;           /* name, template, state, placement */
	int replicas;                  /* -1: no replicas key */
	struct raw_src src;
	struct loc *host_locs;         /* placement.hosts item locations */
};

struct raw_top {
	char *cluster;
	struct host_spec *hosts;
	size_t n_hosts, a_hosts;
	struct image_spec *images;
	size_t n_images, a_images;
	struct raw_template *templates;
	size_t n_templates, a_templates;
	struct raw_vm *vms;
	size_t n_vms, a_vms;
	struct balance_spec balance;
	struct rollout_spec rollout;
	char **allow_destroy;
	size_t n_allow_destroy;
	struct storage_spec storage;
	struct ha_spec ha;
};

extern const struct table tbl_top, tbl_host, tbl_image, tbl_vmcfg, tbl_template,
	tbl_vm, tbl_balance, tbl_storage, tbl_ha, tbl_disk, tbl_net, tbl_placement, tbl_rollout;

/* Fill base (a struct described by t, zeroed) with t's defaults. */
void keys_fill_defaults(const struct table *t, void *base);
/* Defaults that follow another key (max-memory = memory): after the walk. */
void keys_fill_derived(const struct table *t, void *base);
/* Parse text s as key k's type into p. 0, or -1 with *why. */
int keys_parse_value(const struct key *k, const char *s, void *p, const char **why);
const struct key *keys_find(const struct table *t, const char *name);

#endif
