/*
 * keys.h - the key tables of the cluster file format.
 *
 * One table per mapping of the format: each key has its YAML name, type,
 * where it is stored, its documentation and its default. The loader walks
 * YAML with these tables, applies defaults from them, and `vem schema`
 * generates the JSON Schema from them, so the three cannot drift.
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
	K_INT,        /* int */
	K_FLOAT,      /* double */
	K_BOOL,       /* bool */
	K_SIZE,       /* uint64_t bytes */
	K_DURATION,   /* int64_t ms */
	K_LABELS,     /* struct labels */
	K_STRLIST,    /* char ** at off, size_t count at off2 */
	K_MAP,        /* nested mapping stored in the same struct: sub */
	K_LIST,       /* list of mappings: sub describes an item, add() appends one */
};

#define KF_REQUIRED 1u

struct ctx;
struct table;

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	size_t off2;
	int bit;                       /* override bit (vm config keys), -1 none */
	const char *doc;
	const char *def;               /* default, as YAML text; NULL: none */
	const char *const *enums;      /* K_ENUM: NULL-terminated */
	const struct table *sub;       /* K_MAP, K_LIST */
	/* K_LIST: make room for one more item in base, return it */
	void *(*add)(void *base);
	/* K_LIST: free the items already in base (a later file replaces them) */
	void (*clear)(void *base);
	double min, max;               /* numeric range, used when min < max */
	unsigned flags;
};

struct table {
	const char *name;              /* "host", "template", ... */
	const char *doc;
	const struct key *keys;
	size_t n;
};

/* What the loader fills while walking: the cluster's parts before they are
 * resolved (templates merged, replicas expanded, defaults applied). */
struct raw_template {
	struct template_spec t;
	yaml_node_t *node;             /* the template's mapping, for re-walks */
	yaml_document_t *doc;
	const char *dir;               /* directory of its file */
};

struct raw_vm {
	struct vm_spec spec;           /* name, template, state, placement */
	int replicas;                  /* -1: no replicas key */
	struct loc replicas_loc, template_loc;
	struct loc *host_locs;         /* placement.hosts item locations */
	yaml_node_t *node;
	yaml_document_t *doc;
	const char *dir;
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
	bool have_balance;
};

extern const struct table tbl_top, tbl_host, tbl_image, tbl_vmcfg, tbl_template,
	tbl_vm, tbl_balance;

/* placement.hosts (its items' locations are kept for later errors) */
extern const struct key *const key_placement_hosts;

/* Number of override bits used by tbl_vmcfg (and its nested tables). */
#define VMCFG_BITS 20

#endif
