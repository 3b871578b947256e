/*
 * keys.c - the key tables of the cluster file (see keys.h). Defaults live
 * here and nowhere else.
 */
#include "keys.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ARR(x) (x), ARRAY_SIZE(x)

static const char *const e_cpu_mode[] = { "host-passthrough", "host-model", "maximum", NULL };
static const char *const e_bus[] = { "virtio", "sata", "scsi", "ide", NULL };
static const char *const e_format[] = { "qcow2", "raw", NULL };
static const char *const e_net_model[] = { "virtio", "e1000", "rtl8139", NULL };

/* ---- list item makers ---- */

#define GROW_ITEM(base_t, arr, n, a)                                           \
	do {                                                                   \
		base_t *b_ = base;                                             \
		ALLOC_GROW(b_->arr, b_->n + 1, b_->a);                         \
		memset(&b_->arr[b_->n], 0, sizeof(b_->arr[0]));                \
		return &b_->arr[b_->n++];                                      \
	} while (0)

static void *add_host(void *base) { GROW_ITEM(struct raw_top, hosts, n_hosts, a_hosts); }
static void *add_image(void *base) { GROW_ITEM(struct raw_top, images, n_images, a_images); }
static void *add_template(void *base) { GROW_ITEM(struct raw_top, templates, n_templates, a_templates); }

static void *add_vm(void *base)
{
	struct raw_top *t = base;
	ALLOC_GROW(t->vms, t->n_vms + 1, t->a_vms);
	memset(&t->vms[t->n_vms], 0, sizeof(t->vms[0]));
	t->vms[t->n_vms].replicas = -1;
	return &t->vms[t->n_vms++];
}

static void *add_disk(void *base)
{
	struct vm_config *c = base;
	c->disks = xrealloc(c->disks, (c->n_disks + 1) * sizeof(*c->disks));
	memset(&c->disks[c->n_disks], 0, sizeof(c->disks[0]));
	return &c->disks[c->n_disks++];
}

static void clear_disks(void *base)
{
	struct vm_config *c = base;
	for (size_t i = 0; i < c->n_disks; i++) {
		free(c->disks[i].image);
		free(c->disks[i].bus);
	}
	free(c->disks);
	c->disks = NULL;
	c->n_disks = 0;
}

static void *add_net(void *base)
{
	struct vm_config *c = base;
	c->nets = xrealloc(c->nets, (c->n_nets + 1) * sizeof(*c->nets));
	memset(&c->nets[c->n_nets], 0, sizeof(c->nets[0]));
	return &c->nets[c->n_nets++];
}

static void clear_nets(void *base)
{
	struct vm_config *c = base;
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

/* ---- hosts ---- */

static const struct key k_capacity[] = {
	{ "cpus", K_INT, offsetof(struct host_spec, cpus), 0, -1,
	  "host CPUs vem may commit (default: what the host reports)", NULL, NULL, NULL, NULL, NULL, 1, 1e6, 0 },
	{ "memory", K_SIZE, offsetof(struct host_spec, memory), 0, -1,
	  "host memory vem may commit (default: what the host reports)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
};
static const struct table tbl_capacity = { "capacity", "capacity override", ARR(k_capacity) };

static const struct key k_host[] = {
	{ "name", K_STR, offsetof(struct host_spec, name), 0, -1, "unique host name", NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
	{ "uri", K_STR, offsetof(struct host_spec, uri), 0, -1,
	  "libvirt connection URI (qemu+tcp://, qemu+ssh://, qemu+tls://, qemu:///system, xen:///, lxc:///)",
	  NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
	{ "labels", K_LABELS, offsetof(struct host_spec, labels), 0, -1, "labels that placement rules can require", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "capacity", K_MAP, 0, 0, -1, "capacity override: cpus, memory", NULL, NULL, &tbl_capacity, NULL, NULL, 0, 0, 0 },
	{ "reserve", K_SIZE, offsetof(struct host_spec, reserve), 0, -1, "memory kept free for the host itself", "0", NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "maintenance", K_BOOL, offsetof(struct host_spec, maintenance), 0, -1,
	  "true: evacuate by live migration and place nothing here", "false", NULL, NULL, NULL, NULL, 0, 0, 0 },
};
const struct table tbl_host = { "host", "a libvirt host", ARR(k_host) };

/* ---- images ---- */

static const struct key k_image[] = {
	{ "name", K_STR, offsetof(struct image_spec, name), 0, -1, "unique image name", NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
	{ "url", K_STR, offsetof(struct image_spec, url), 0, -1, "https:// (or file://) URL of the image", NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
	{ "sha256", K_STR, offsetof(struct image_spec, sha256), 0, -1, "sha256 of the file, 64 hex digits; checked before any use", NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
	{ "format", K_ENUM, offsetof(struct image_spec, format), 0, -1, "image format", "qcow2", e_format, NULL, NULL, NULL, 0, 0, 0 },
};
const struct table tbl_image = { "image", "a disk image downloaded and verified by vem", ARR(k_image) };

/* ---- VM configuration (templates and per-VM overrides) ---- */

static const struct key k_disk[] = {
	{ "size", K_SIZE, offsetof(struct disk_spec, size), 0, -1, "disk size (default: the image's size)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "image", K_STR, offsetof(struct disk_spec, image), 0, -1, "image name: the disk is a copy-on-write overlay on it", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "bus", K_ENUM, offsetof(struct disk_spec, bus), 0, -1, "disk bus", "virtio", e_bus, NULL, NULL, NULL, 0, 0, 0 },
};
static const struct table tbl_disk = { "disk", "a disk", ARR(k_disk) };

static const struct key k_net[] = {
	{ "network", K_STR, offsetof(struct net_spec, network), 0, -1, "libvirt network name", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "bridge", K_STR, offsetof(struct net_spec, bridge), 0, -1, "host bridge name (instead of network)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "mac", K_STR, offsetof(struct net_spec, mac), 0, -1, "MAC address (default: chosen by libvirt)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "model", K_ENUM, offsetof(struct net_spec, model), 0, -1, "NIC model", "virtio", e_net_model, NULL, NULL, NULL, 0, 0, 0 },
};
static const struct table tbl_net = { "network", "a network interface", ARR(k_net) };

static const struct key k_cloudinit[] = {
	{ "user-data", K_PATH, offsetof(struct vm_config, user_data), 0, 14, "user-data file (relative to the cluster file)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "meta-data", K_PATH, offsetof(struct vm_config, meta_data), 0, 15, "meta-data file", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "network-config", K_PATH, offsetof(struct vm_config, network_config), 0, 16, "network-config file", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
};
static const struct table tbl_cloudinit = { "cloud-init", "a NoCloud seed built from these files", ARR(k_cloudinit) };

#define VMCFG_KEYS                                                                          \
	{ "hypervisor", K_HV, offsetof(struct vm_config, hypervisor), 0, 0,                  \
	  "auto (kvm where offered, else qemu), kvm, qemu, xen or lxc", "auto", NULL, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "vcpus", K_INT, offsetof(struct vm_config, vcpus), 0, 1, "virtual CPUs", "1", NULL, NULL, NULL, NULL, 1, 4096, 0 }, \
	{ "max-vcpus", K_INT, offsetof(struct vm_config, max_vcpus), 0, 2,                   \
	  "most vCPUs the VM can have without a restart (default: vcpus)", NULL, NULL, NULL, NULL, NULL, 1, 4096, 0 }, \
	{ "memory", K_SIZE, offsetof(struct vm_config, memory), 0, 3, "memory", "512MiB", NULL, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "max-memory", K_SIZE, offsetof(struct vm_config, max_memory), 0, 4,                \
	  "most memory the VM can have without a restart (default: memory)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "cpu-mode", K_ENUM, offsetof(struct vm_config, cpu_mode), 0, 5,                    \
	  "CPU model (default: the hypervisor's)", NULL, e_cpu_mode, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "disks", K_LIST, 0, 0, 6, "disks", NULL, NULL, &tbl_disk, add_disk, clear_disks, 0, 0, 0 }, \
	{ "networks", K_LIST, 0, 0, 7, "network interfaces", NULL, NULL, &tbl_net, add_net, clear_nets, 0, 0, 0 }, \
	{ "kernel", K_STR, offsetof(struct vm_config, kernel), 0, 8, "kernel path on the host (direct kernel boot)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "initrd", K_STR, offsetof(struct vm_config, initrd), 0, 9, "initrd path on the host", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "cmdline", K_STR, offsetof(struct vm_config, cmdline), 0, 10, "kernel command line", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }, \
	{ "cloud-init", K_MAP, 0, 0, 11, "cloud-init files: user-data, meta-data, network-config", NULL, NULL, &tbl_cloudinit, NULL, NULL, 0, 0, 0 }, \
	{ "autostart", K_BOOL, offsetof(struct vm_config, autostart), 0, 12, "start with the host", "false", NULL, NULL, NULL, NULL, 0, 0, 0 }

static const struct key k_vmcfg[] = { VMCFG_KEYS };
const struct table tbl_vmcfg = { "vm configuration", "what a template sets and a VM may override", ARR(k_vmcfg) };

static const struct key k_template[] = {
	{ "name", K_STR, offsetof(struct raw_template, t.name), 0, -1, "unique template name", NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
};
const struct table tbl_template = { "template", "a VM template", ARR(k_template) };

/* ---- vms ---- */

static const struct key k_placement[] = {
	{ "hosts", K_STRLIST, offsetof(struct raw_vm, spec.placement.hosts),
	  offsetof(struct raw_vm, spec.placement.n_hosts), -1, "allowed hosts (default: all)", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "labels", K_LABELS, offsetof(struct raw_vm, spec.placement.labels), 0, -1, "required host labels", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "spread", K_STR, offsetof(struct raw_vm, spec.placement.spread), 0, -1,
	  "anti-affinity group: at most one member per host", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "together", K_STR, offsetof(struct raw_vm, spec.placement.together), 0, -1,
	  "affinity group: all members on one host", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
};
static const struct table tbl_placement = { "placement", "where the VM may run", ARR(k_placement) };
const struct key *const key_placement_hosts = &k_placement[0];

static const char *const e_state[] = { "running", "stopped", NULL };
static const struct key k_vm[] = {
	{ "name", K_STR, offsetof(struct raw_vm, spec.name), 0, -1,
	  "VM name; with replicas, the VMs are NAME-0 .. NAME-(N-1)", NULL, NULL, NULL, NULL, NULL, 0, 0, KF_REQUIRED },
	{ "template", K_STR, offsetof(struct raw_vm, spec.template), 0, -1, "template name", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "replicas", K_INT, offsetof(struct raw_vm, replicas), 0, -1, "number of identical VMs", NULL, NULL, NULL, NULL, NULL, 0, 10000, 0 },
	{ "state", K_STATE, offsetof(struct raw_vm, spec.state), 0, -1, "running or stopped", "running", e_state, NULL, NULL, NULL, 0, 0, 0 },
	{ "placement", K_MAP, 0, 0, -1, "placement rules", NULL, NULL, &tbl_placement, NULL, NULL, 0, 0, 0 },
};
const struct table tbl_vm = { "vm", "a VM or a group of replicas; any template key overrides the template", ARR(k_vm) };

/* ---- balance ---- */

static const struct key k_metrics[] = {
	{ "cpu", K_FLOAT, offsetof(struct balance_spec, w_cpu), 0, -1, "weight of measured CPU load", "1.0", NULL, NULL, NULL, NULL, 0, 100, 0 },
	{ "memory", K_FLOAT, offsetof(struct balance_spec, w_memory), 0, -1, "weight of reserved memory", "0.5", NULL, NULL, NULL, NULL, 0, 100, 0 },
	{ "vcpu", K_FLOAT, offsetof(struct balance_spec, w_vcpu), 0, -1, "weight of the vCPU ratio", "0.0", NULL, NULL, NULL, NULL, 0, 100, 0 },
};
static const struct table tbl_metrics = { "metrics", "weights of the imbalance score", ARR(k_metrics) };

static const struct key k_balance[] = {
	{ "enabled", K_BOOL, offsetof(struct balance_spec, enabled), 0, -1, "plan balancing migrations", "true", NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "metrics", K_MAP, 0, 0, -1, "weights: cpu, memory, vcpu", NULL, NULL, &tbl_metrics, NULL, NULL, 0, 0, 0 },
	{ "threshold", K_FLOAT, offsetof(struct balance_spec, threshold), 0, -1,
	  "act when the imbalance score exceeds this", "0.10", NULL, NULL, NULL, NULL, 0, 1, 0 },
	{ "min-gain", K_FLOAT, offsetof(struct balance_spec, min_gain), 0, -1,
	  "each migration must lower the score at least this much", "0.01", NULL, NULL, NULL, NULL, 0, 1, 0 },
	{ "max-migrations", K_INT, offsetof(struct balance_spec, max_migrations), 0, -1,
	  "balancing migrations per reconcile", "4", NULL, NULL, NULL, NULL, 0, 100000, 0 },
	{ "max-parallel", K_INT, offsetof(struct balance_spec, max_parallel), 0, -1,
	  "migrations at once (at most one per host)", "2", NULL, NULL, NULL, NULL, 1, 1000, 0 },
	{ "cooldown", K_DURATION, offsetof(struct balance_spec, cooldown), 0, -1,
	  "a migrated VM is not moved again before this", "10m", NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "vcpu-overcommit", K_FLOAT, offsetof(struct balance_spec, vcpu_overcommit), 0, -1,
	  "most vCPUs per host CPU (a hard limit for placement)", "4.0", NULL, NULL, NULL, NULL, 0.01, 1000, 0 },
	{ "bandwidth", K_SIZE, offsetof(struct balance_spec, bandwidth), 0, -1,
	  "migration bandwidth limit per second (0: none)", "0", NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "migration-timeout", K_DURATION, offsetof(struct balance_spec, migration_timeout), 0, -1,
	  "abort a migration that takes longer (the VM stays where it was)", "5m", NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "sample-window", K_DURATION, offsetof(struct balance_spec, sample_window), 0, -1,
	  "CPU load is measured over this window", "2s", NULL, NULL, NULL, NULL, 0, 0, 0 },
};
const struct table tbl_balance = { "balance", "load balancing by live migration", ARR(k_balance) };

/* ---- top level ---- */

static const struct key k_top[] = {
	{ "cluster", K_STR, offsetof(struct raw_top, cluster), 0, -1,
	  "cluster name: the owner tag written into every domain vem creates", NULL, NULL, NULL, NULL, NULL, 0, 0, 0 },
	{ "hosts", K_LIST, 0, 0, -1, "libvirt hosts", NULL, NULL, &tbl_host, add_host, NULL, 0, 0, 0 },
	{ "images", K_LIST, 0, 0, -1, "disk images", NULL, NULL, &tbl_image, add_image, NULL, 0, 0, 0 },
	{ "templates", K_LIST, 0, 0, -1, "VM templates", NULL, NULL, &tbl_template, add_template, NULL, 0, 0, 0 },
	{ "vms", K_LIST, 0, 0, -1, "VMs", NULL, NULL, &tbl_vm, add_vm, NULL, 0, 0, 0 },
	{ "balance", K_MAP, offsetof(struct raw_top, balance), 0, -1, "load balancing", NULL, NULL, &tbl_balance, NULL, NULL, 0, 0, 0 },
};
const struct table tbl_top = { "cluster file", "a vem cluster description", ARR(k_top) };
