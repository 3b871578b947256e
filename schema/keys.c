/*
 * keys.c - the key tables of the cluster file (see keys.h). Defaults live
 * here and nowhere else: keys_fill_defaults() applies the `def` column when
 * an item is created, keys_fill_derived() the `same_as` column after it was
 * read.
 */
#include "keys.h"
#include "model_priv.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARR(x) .keys = (x), .n = ARRAY_SIZE(x)
#define HOST(f) offsetof(struct host_spec, f)
#define CFG(f) offsetof(struct vm_config, f)
#define BAL(f) offsetof(struct balance_spec, f)

static const char *const e_cpu_mode[] = { "host-passthrough", "host-model", "maximum", NULL };
static const char *const e_bus[] = { "virtio", "sata", "scsi", "ide", NULL };
static const char *const e_format[] = { "qcow2", "raw", NULL };
static const char *const e_net_model[] = { "virtio", "e1000", "rtl8139", NULL };
static const char *const e_hv[] = { "auto", "kvm", "qemu", "xen", "lxc", NULL };
static const char *const e_state[] = { "running", "stopped", NULL };
static const char *const e_ha_policy[] = { "restart", "recreate", "none", NULL };
static const char *const e_balance_mode[] = { "spread", "pack", NULL };   /* enum balance_mode */

/* ---- list items ---- */

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
	vm_config_release_disks(base);
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
	vm_config_release_nets(base);
}

/* ---- hosts ---- */

static const struct key k_capacity[] = {
	{ .name = "cpus", .type = K_INT, .off = HOST(cpus), .min = 1, .max = 100000,
	  .doc = "host CPUs vem may commit (default: what the host reports)" },
	{ .name = "memory", .type = K_SIZE, .off = HOST(memory), .min = 1, .max = 1e18,
	  .doc = "host memory vem may commit (default: what the host reports)" },
};
static const struct table tbl_capacity = {
	.name = "capacity", .doc = "what vem may commit on the host", ARR(k_capacity)
};

static const struct key k_fence[] = {
	{ .name = "agent", .type = K_STR, .off = offsetof(struct fence_spec, agent), .flags = KF_REQUIRED,
	  .doc = "fence agent of the fence-agents package, a plain name like fence_ipmilan "
		 "(run from /usr/sbin; only from a cluster file on the local disk)" },
	{ .name = "options", .type = K_LABELS, .off = offsetof(struct fence_spec, options),
	  .doc = "agent options, given to it as key=value lines on stdin (ip, username, "
		 "password_script, plug, ...)" },
};
static const struct table tbl_fence = {
	.name = "fence", .doc = "how to power the host off when it stops answering", ARR(k_fence)
};

static const struct key k_host[] = {
	{ .name = "name", .type = K_STR, .off = HOST(name), .flags = KF_REQUIRED | KF_NAME,
	  .doc = "unique host name" },
	{ .name = "uri", .type = K_STR, .off = HOST(uri), .flags = KF_REQUIRED | KF_URI,
	  .doc = "libvirt connection URI (qemu+tcp://, qemu+ssh://, qemu+tls://, qemu:///system, xen:///, lxc:///)" },
	{ .name = "labels", .type = K_LABELS, .off = HOST(labels),
	  .doc = "labels that placement rules can require" },
	{ .name = "capacity", .type = K_MAP, .sub = &tbl_capacity,
	  .doc = "capacity override: cpus, memory (default: what the host reports)" },
	{ .name = "reserve", .type = K_SIZE, .off = HOST(reserve), .def = "0",
	  .doc = "memory kept free for the host itself" },
	{ .name = "maintenance", .type = K_BOOL, .off = HOST(maintenance), .def = "false",
	  .doc = "true: evacuate by live migration and place nothing here" },
	{ .name = "fence", .type = K_MAP, .off = HOST(fence), .sub = &tbl_fence,
	  .doc = "fence device: agent and options; a dead host's VMs are recovered only "
		 "once it is fenced" },
};
const struct table tbl_host = {
	.name = "host", .doc = "a libvirt host", ARR(k_host),
	.has_loc = true, .loc_off = HOST(loc),
};

/* ---- images ---- */

static const struct key k_image[] = {
	{ .name = "name", .type = K_STR, .off = offsetof(struct image_spec, name), .flags = KF_REQUIRED | KF_NAME,
	  .doc = "unique image name" },
	{ .name = "url", .type = K_STR, .off = offsetof(struct image_spec, url), .flags = KF_REQUIRED | KF_URL,
	  .doc = "https://, http:// or file:// URL of the image" },
	{ .name = "sha256", .type = K_STR, .off = offsetof(struct image_spec, sha256), .flags = KF_REQUIRED | KF_SHA256,
	  .doc = "sha256 of the file, 64 lowercase hex digits; checked before any use" },
	{ .name = "format", .type = K_ENUM, .off = offsetof(struct image_spec, format), .def = "qcow2",
	  .enums = e_format, .doc = "image format" },
};
const struct table tbl_image = {
	.name = "image", .doc = "a disk image downloaded and verified by vem", ARR(k_image),
	.has_loc = true, .loc_off = offsetof(struct image_spec, loc),
};

/* ---- VM configuration (templates and per-VM overrides) ---- */

static const struct key k_disk[] = {
	{ .name = "size", .type = K_SIZE, .off = offsetof(struct disk_spec, size), .min = 1, .max = 1e18,
	  .doc = "disk size (default: the image's size)" },
	{ .name = "image", .type = K_STR, .off = offsetof(struct disk_spec, image),
	  .doc = "image name: the disk is a copy-on-write overlay on it (default: a blank disk)" },
	{ .name = "bus", .type = K_ENUM, .off = offsetof(struct disk_spec, bus), .def = "virtio",
	  .enums = e_bus, .doc = "disk bus" },
	{ .name = "pool", .type = K_STR, .off = offsetof(struct disk_spec, pool),
	  .doc = "libvirt storage pool its volume is made in (default: 'default'); the VM is "
		 "placed only on hosts where that pool is active" },
};
const struct table tbl_disk = { .name = "disk", .doc = "a disk: a size, an image or both", ARR(k_disk) };

static const struct key k_net[] = {
	{ .name = "network", .type = K_STR, .off = offsetof(struct net_spec, network),
	  .doc = "libvirt network name (or bridge)" },
	{ .name = "bridge", .type = K_STR, .off = offsetof(struct net_spec, bridge),
	  .doc = "host bridge name (or network)" },
	{ .name = "mac", .type = K_STR, .off = offsetof(struct net_spec, mac), .flags = KF_MAC,
	  .doc = "unicast MAC address like 52:54:00:12:34:56 (default: chosen by libvirt)" },
	{ .name = "model", .type = K_ENUM, .off = offsetof(struct net_spec, model), .def = "virtio",
	  .enums = e_net_model, .doc = "NIC model" },
};
const struct table tbl_net = { .name = "network interface", .doc = "a network interface", ARR(k_net) };

static const struct key k_cloudinit[] = {
	{ .name = "user-data", .type = K_PATH, .off = CFG(user_data), .ck = CK_USER_DATA,
	  .doc = "user-data file (relative to the cluster file's directory)" },
	{ .name = "meta-data", .type = K_PATH, .off = CFG(meta_data), .ck = CK_META_DATA,
	  .doc = "meta-data file (relative to the cluster file's directory)" },
	{ .name = "network-config", .type = K_PATH, .off = CFG(network_config), .ck = CK_NETWORK_CONFIG,
	  .doc = "network-config file (relative to the cluster file's directory)" },
};
static const struct table tbl_cloudinit = {
	.name = "cloud-init", .doc = "a NoCloud seed built from these local files", ARR(k_cloudinit)
};

#define RDY(f) offsetof(struct readiness_spec, f)

static const struct key k_readiness[] = {
	{ .name = "agent", .type = K_BOOL, .off = RDY(agent), .def = "false",
	  .doc = "the QEMU guest agent answers guest-ping (vem adds the org.qemu.guest_agent.0 channel; "
		 "the guest runs qemu-guest-agent)" },
	{ .name = "tcp", .type = K_INT, .off = RDY(tcp), .min = 1, .max = 65535,
	  .doc = "a TCP port that accepts connections on the guest's address (from the guest agent "
		 "or the DHCP lease of a libvirt network)" },
	{ .name = "settle", .type = K_DURATION, .off = RDY(settle), .def = "0s",
	  .doc = "time the VM must have been running after vem starts it" },
	{ .name = "timeout", .type = K_DURATION, .off = RDY(timeout), .def = "5m",
	  .doc = "how long vem waits for the VM to become ready; a VM not ready by then halts "
		 "its group's rollout" },
};
static const struct table tbl_readiness = {
	.name = "readiness", .doc = "when the VM counts as ready (no probe: when it runs)", ARR(k_readiness)
};

static const struct key k_vmcfg[] = {
	{ .name = "hypervisor", .type = K_HV, .off = CFG(hypervisor), .ck = CK_HYPERVISOR, .def = "auto",
	  .enums = e_hv, .doc = "auto (kvm where the host offers it, else qemu), kvm, qemu, xen or lxc" },
	{ .name = "vcpus", .type = K_INT, .off = CFG(vcpus), .ck = CK_VCPUS, .def = "1",
	  .min = 1, .max = 4096, .doc = "virtual CPUs" },
	{ .name = "max-vcpus", .type = K_INT, .off = CFG(max_vcpus), .ck = CK_MAX_VCPUS, .same_as = "vcpus",
	  .min = 1, .max = 4096, .doc = "most vCPUs the VM can have without a restart (default: vcpus)" },
	{ .name = "memory", .type = K_SIZE, .off = CFG(memory), .ck = CK_MEMORY, .def = "512MiB",
	  .min = 1 << 20, .max = 1e18, .doc = "memory" },
	{ .name = "max-memory", .type = K_SIZE, .off = CFG(max_memory), .ck = CK_MAX_MEMORY, .same_as = "memory",
	  .min = 1 << 20, .max = 1e18, .doc = "most memory the VM can have without a restart (default: memory)" },
	{ .name = "cpu-mode", .type = K_ENUM, .off = CFG(cpu_mode), .ck = CK_CPU_MODE, .enums = e_cpu_mode,
	  .doc = "guest CPU model (default: the hypervisor's)" },
	{ .name = "disks", .type = K_LIST, .ck = CK_DISKS, .sub = &tbl_disk, .add = add_disk, .clear = clear_disks,
	  .doc = "disks (a VM's list replaces its template's)" },
	{ .name = "networks", .type = K_LIST, .ck = CK_NETWORKS, .sub = &tbl_net, .add = add_net, .clear = clear_nets,
	  .doc = "network interfaces (a VM's list replaces its template's)" },
	{ .name = "kernel", .type = K_STR, .off = CFG(kernel), .ck = CK_KERNEL,
	  .doc = "kernel path on the host (direct kernel boot)" },
	{ .name = "initrd", .type = K_STR, .off = CFG(initrd), .ck = CK_INITRD,
	  .doc = "initrd path on the host (needs kernel)" },
	{ .name = "cmdline", .type = K_STR, .off = CFG(cmdline), .ck = CK_CMDLINE,
	  .doc = "kernel command line (needs kernel); for lxc, the container's init command" },
	{ .name = "cloud-init", .type = K_MAP, .ck = CK_CLOUD_INIT, .sub = &tbl_cloudinit,
	  .doc = "cloud-init files: user-data, meta-data, network-config" },
	{ .name = "autostart", .type = K_BOOL, .off = CFG(autostart), .ck = CK_AUTOSTART, .def = "false",
	  .doc = "libvirt starts the VM when the host boots" },
	{ .name = "readiness", .type = K_MAP, .off = CFG(readiness), .ck = CK_READINESS, .sub = &tbl_readiness,
	  .doc = "readiness probes: agent, tcp, settle, timeout" },
};
const struct table tbl_vmcfg = {
	.name = "vm configuration", .doc = "what a template sets and a VM may override", ARR(k_vmcfg)
};

static const struct key k_template[] = {
	{ .name = "name", .type = K_STR, .off = offsetof(struct raw_template, t.name), .flags = KF_REQUIRED | KF_NAME,
	  .doc = "unique template name" },
};
const struct table tbl_template = {
	.name = "template", .doc = "a VM template: any VM configuration key", ARR(k_template),
	.with = &tbl_vmcfg, .with_off = offsetof(struct raw_template, t.cfg),
	.has_loc = true, .loc_off = offsetof(struct raw_template, t.loc),
	.has_src = true, .src_off = offsetof(struct raw_template, src),
};

/* ---- vms ---- */

#define VM(f) offsetof(struct raw_vm, f)

static const struct key k_placement[] = {
	{ .name = "hosts", .type = K_STRLIST, .off = VM(spec.placement.hosts) - VM(spec.placement),
	  .off2 = VM(spec.placement.n_hosts) - VM(spec.placement), .doc = "allowed hosts (default: all)" },
	{ .name = "labels", .type = K_LABELS, .off = VM(spec.placement.labels) - VM(spec.placement),
	  .doc = "host labels required" },
	{ .name = "spread", .type = K_STR, .off = VM(spec.placement.spread) - VM(spec.placement),
	  .doc = "anti-affinity group: at most one member per host" },
	{ .name = "together", .type = K_STR, .off = VM(spec.placement.together) - VM(spec.placement),
	  .doc = "affinity group: all members on one host" },
};
const struct table tbl_placement = { .name = "placement", .doc = "where the VM may run", ARR(k_placement) };

#define RO(f) offsetof(struct rollout_spec, f)

static const struct key k_vm_rollout[] = {
	{ .name = "max-unavailable", .type = K_UNAVAIL, .off = RO(max_unavailable), .min = 1, .max = 100000,
	  .doc = "members of this group that a change may interrupt at once: a count or a "
		 "percentage like 25% (default: the cluster's rollout.max-unavailable)" },
};
static const struct table tbl_vm_rollout = {
	.name = "rollout", .doc = "how changes roll over this group", ARR(k_vm_rollout)
};
static const struct key k_vm_ha[] = {
	{ .name = "policy", .type = K_ENUM, .off = offsetof(struct vm_ha, policy), .enums = e_ha_policy,
	  .doc = "when its host is down and fenced: restart (on another host, with the same disks; "
		 "the default where all its disks are on shared pools or it has none), recreate "
		 "(from its image: its local disks are lost; needs allow-destroy), none" },
	{ .name = "priority", .type = K_INT, .off = offsetof(struct vm_ha, priority), .def = "0",
	  .min = -1000000, .max = 1000000,
	  .doc = "recovered first when the surviving hosts cannot take every VM (higher first)" },
};
static const struct table tbl_vm_ha = { .name = "ha", .doc = "high availability of the VM", ARR(k_vm_ha) };

static const struct key k_vm[] = {
	{ .name = "name", .type = K_STR, .off = VM(spec.name), .flags = KF_REQUIRED | KF_NAME,
	  .doc = "VM name; with replicas, the VMs are NAME-0 .. NAME-(N-1)" },
	{ .name = "template", .type = K_STR, .off = VM(spec.template), .doc = "template name" },
	{ .name = "replicas", .type = K_INT, .off = VM(replicas), .min = 0, .max = 100000,
	  .doc = "number of identical VMs (default: one VM named NAME)" },
	{ .name = "state", .type = K_STATE, .off = VM(spec.state), .def = "running", .enums = e_state,
	  .doc = "running or stopped" },
	{ .name = "placement", .type = K_MAP, .off = VM(spec.placement), .sub = &tbl_placement,
	  .doc = "placement rules: hosts, labels, spread, together" },
	{ .name = "rollout", .type = K_MAP, .off = VM(spec.rollout), .sub = &tbl_vm_rollout,
	  .doc = "rollout of changes over the group: max-unavailable" },
	{ .name = "adopt", .type = K_BOOL, .off = VM(spec.adopt), .def = "false",
	  .doc = "a domain of this name that carries no vem metadata is adopted: vem writes its "
		 "ownership metadata without restarting it, then reconciles it like any VM "
		 "(a domain of another cluster is never adopted)" },
	{ .name = "ha", .type = K_MAP, .off = VM(spec.ha), .sub = &tbl_vm_ha,
	  .doc = "high availability: policy (restart, recreate, none), priority" },
};
const struct table tbl_vm = {
	.name = "vm", .doc = "a VM or a group of replicas; any VM configuration key overrides the template's",
	ARR(k_vm),
	.with = &tbl_vmcfg, .with_off = VM(spec.cfg),
	.has_loc = true, .loc_off = VM(spec.loc),
	.has_src = true, .src_off = VM(src),
};

/* ---- balance ---- */

static const struct key k_metrics[] = {
	{ .name = "cpu", .type = K_FLOAT, .off = BAL(w_cpu), .def = "1.0", .min = 0, .max = 100,
	  .doc = "weight of measured CPU load" },
	{ .name = "memory", .type = K_FLOAT, .off = BAL(w_memory), .def = "0.5", .min = 0, .max = 100,
	  .doc = "weight of reserved memory" },
	{ .name = "vcpu", .type = K_FLOAT, .off = BAL(w_vcpu), .def = "0.0", .min = 0, .max = 100,
	  .doc = "weight of the vCPU ratio" },
};
static const struct table tbl_metrics = { .name = "metrics", .doc = "weights of the imbalance score", ARR(k_metrics) };

static const struct key k_balance[] = {
	{ .name = "enabled", .type = K_BOOL, .off = BAL(enabled), .def = "true",
	  .doc = "plan balancing migrations" },
	{ .name = "mode", .type = K_CHOICE, .off = BAL(mode), .def = "spread", .enums = e_balance_mode,
	  .doc = "spread: even out the load; pack: gather VMs on as few hosts as fit and report the hosts that can be powered down" },
	{ .name = "pack-headroom", .type = K_FLOAT, .off = BAL(pack_headroom), .def = "0.2", .min = 0, .max = 0.9,
	  .doc = "pack mode: share of each host's memory, vCPUs and CPUs kept free" },
	{ .name = "metrics", .type = K_MAP, .sub = &tbl_metrics, .doc = "weights: cpu, memory, vcpu" },
	{ .name = "threshold", .type = K_FLOAT, .off = BAL(threshold), .def = "0.10", .min = 0, .max = 1,
	  .doc = "act when the imbalance score exceeds this" },
	{ .name = "min-gain", .type = K_FLOAT, .off = BAL(min_gain), .def = "0.01", .min = 0, .max = 1,
	  .doc = "each migration must lower the score at least this much (on average over a swap's two, or over the net moves of the stopping rule's reference)" },
	{ .name = "max-migrations", .type = K_INT, .off = BAL(max_migrations), .def = "4", .min = 0, .max = 100000,
	  .doc = "balancing migrations per reconcile" },
	{ .name = "max-parallel", .type = K_INT, .off = BAL(max_parallel), .def = "2", .min = 1, .max = 1000,
	  .doc = "migrations at once (at most one per host)" },
	{ .name = "cooldown", .type = K_DURATION, .off = BAL(cooldown), .def = "10m",
	  .doc = "a migrated VM is not moved again before this" },
	{ .name = "vcpu-overcommit", .type = K_FLOAT, .off = BAL(vcpu_overcommit), .def = "4.0", .min = 0.01, .max = 1000,
	  .doc = "most vCPUs per host CPU (a hard limit for placement)" },
	{ .name = "bandwidth", .type = K_RATE, .off = BAL(bandwidth), .def = "0",
	  .doc = "migration bandwidth limit per second, like 100MiB (0: none)" },
	{ .name = "migration-timeout", .type = K_DURATION, .off = BAL(migration_timeout), .def = "5m",
	  .doc = "abort a migration that takes longer (the VM stays where it was)" },
	{ .name = "sample-window", .type = K_DURATION, .off = BAL(sample_window), .def = "2s",
	  .doc = "CPU load is measured over this window" },
};
const struct table tbl_balance = { .name = "balance", .doc = "load balancing by live migration", ARR(k_balance) };

/* ---- storage ---- */

#define STO(f) offsetof(struct storage_spec, f)
static const struct key k_storage[] = {
	{ .name = "shared-pools", .type = K_STRLIST, .off = STO(shared_pools),
	  .off2 = STO(n_shared_pools),
	  .doc = "libvirt storage pools that are the same storage on every host (NFS, Ceph RBD, "
		 "iSCSI, a shared dir): volumes there move without copying; all others are "
		 "host-local and copied by live migration" },
};
const struct table tbl_storage = { .name = "storage", .doc = "how hosts share storage", ARR(k_storage) };
/* ---- rollout ---- */

static const struct key k_rollout[] = {
	{ .name = "max-unavailable", .type = K_UNAVAIL, .off = RO(max_unavailable), .def = "1",
	  .min = 1, .max = 100000,
	  .doc = "members of a VM group that a change may interrupt at once (restart, recreate, "
		 "stop): a count or a percentage like 25% of the group, at least one" },
	{ .name = "migrations", .type = K_BOOL, .off = RO(migrations), .def = "false",
	  .doc = "live migrations roll too: at most max-unavailable members of a group migrate in one round" },
};
const struct table tbl_rollout = {
	.name = "rollout", .doc = "how changes that interrupt VMs roll over each group", ARR(k_rollout)
};

/* ---- high availability ---- */

static const struct key k_ha[] = {
	{ .name = "host-down-after", .type = K_DURATION, .off = offsetof(struct ha_spec, host_down_after),
	  .def = "60s", .doc = "a host that does not answer for this long is down (then fenced, "
	  "and its VMs recovered)" },
	{ .name = "confirmations", .type = K_INT, .off = offsetof(struct ha_spec, confirmations),
	  .def = "3", .min = 1, .max = 1000,
	  .doc = "failed observations (vem runs) needed too before a host is down" },
};
const struct table tbl_ha = { .name = "ha", .doc = "detection of dead hosts", ARR(k_ha) };

/* ---- top level ---- */

static const struct key k_top[] = {
	/* required, but in one file of a directory only: checked by the loader */
	{ .name = "cluster", .type = K_STR, .off = offsetof(struct raw_top, cluster), .flags = KF_NAME,
	  .doc = "cluster name (required, in at least one file): the owner tag written into every domain vem creates" },
	{ .name = "hosts", .type = K_LIST, .sub = &tbl_host, .add = add_host, .doc = "libvirt hosts" },
	{ .name = "images", .type = K_LIST, .sub = &tbl_image, .add = add_image, .doc = "disk images" },
	{ .name = "templates", .type = K_LIST, .sub = &tbl_template, .add = add_template, .doc = "VM templates" },
	{ .name = "vms", .type = K_LIST, .sub = &tbl_vm, .add = add_vm, .doc = "VMs" },
	{ .name = "balance", .type = K_MAP, .off = offsetof(struct raw_top, balance), .sub = &tbl_balance,
	  .doc = "load balancing (at most once per cluster)" },
	{ .name = "rollout", .type = K_MAP, .off = offsetof(struct raw_top, rollout), .sub = &tbl_rollout,
	  .doc = "rolling changes: max-unavailable, migrations" },
	{ .name = "allow-destroy", .type = K_STRLIST, .off = offsetof(struct raw_top, allow_destroy),
	  .off2 = offsetof(struct raw_top, n_allow_destroy), .flags = KF_APPEND,
	  .doc = "VMs (names or shell patterns such as 'scratch-*') whose disks vem may delete: "
		 "a removal or a recreate that deletes a data volume is held back unless its VM "
		 "is listed here or given with --allow-destroy" },
	{ .name = "storage", .type = K_MAP, .off = offsetof(struct raw_top, storage), .sub = &tbl_storage,
	  .doc = "storage shared between hosts" },
	{ .name = "ha", .type = K_MAP, .off = offsetof(struct raw_top, ha), .sub = &tbl_ha,
	  .doc = "high availability: when a host is down" },
};
const struct table tbl_top = {
	.name = "cluster file", .doc = "a vem cluster description", ARR(k_top)
};

/* ---- defaults and values ---- */

const struct key *keys_find(const struct table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->keys[i].name, name))
			return &t->keys[i];
	return NULL;
}

void keys_fill_defaults(const struct table *t, void *base)
{
	const char *why;

	for (size_t i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i];
		if (k->type == K_MAP)
			keys_fill_defaults(k->sub, (char *)base + k->off);
		else if (k->def)
			keys_parse_value(k, k->def, (char *)base + k->off, &why);
	}
	if (t->with)
		keys_fill_defaults(t->with, (char *)base + t->with_off);
}

static bool is_zero(const struct key *k, const void *p)
{
	switch (k->type) {
	case K_INT: return !*(const int *)p;
	case K_SIZE: case K_RATE: return !*(const uint64_t *)p;
	default: return false;
	}
}

void keys_fill_derived(const struct table *t, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct key *k = &t->keys[i], *src;
		void *p = (char *)base + k->off;
		if (!k->same_as || !is_zero(k, p) || !(src = keys_find(t, k->same_as)))
			continue;
		memcpy(p, (char *)base + src->off, k->type == K_INT ? sizeof(int) : sizeof(uint64_t));
	}
}

static int parse_enum(const struct key *k, const char *s, int *idx)
{
	for (int j = 0; k->enums[j]; j++)
		if (!strcmp(s, k->enums[j])) {
			*idx = j;
			return 0;
		}
	return -1;
}

static bool in_range(const struct key *k, double v)
{
	return !(k->min < k->max) || (v >= k->min && v <= k->max);
}

/* Returns 0, -1 (malformed: *why says why, or NULL) or -2 (out of range). */
int keys_parse_value(const struct key *k, const char *s, void *p, const char **why)
{
	int64_t i;
	uint64_t u;
	double d;
	int idx;

	*why = NULL;
	switch (k->type) {
	case K_STR:
	case K_PATH:
		free(*(char **)p);
		*(char **)p = xstrdup(s);
		return 0;
	case K_ENUM:
		if (parse_enum(k, s, &idx))
			return -1;
		free(*(char **)p);
		*(char **)p = xstrdup(s);
		return 0;
	case K_HV:
		return hv_type_parse(s, p);
	case K_CHOICE:
		if (parse_enum(k, s, &idx))
			return -1;
		*(int *)p = idx;
		return 0;
	case K_STATE:
		if (parse_enum(k, s, &idx))
			return -1;
		*(enum vm_state *)p = idx ? VM_STOPPED : VM_RUNNING;
		return 0;
	case K_INT:
		if (parse_int64(s, &i))
			return -1;
		if (!in_range(k, (double)i) || i < INT32_MIN || i > INT32_MAX)
			return -2;
		*(int *)p = (int)i;
		return 0;
	case K_FLOAT:
		if (parse_double(s, &d) || d != d)
			return -1;
		if (!in_range(k, d))
			return -2;
		*(double *)p = d;
		return 0;
	case K_BOOL:   /* YAML 1.2's spellings: true, True, TRUE, ... */
		if (strcasecmp(s, "true") && strcasecmp(s, "false"))
			return -1;
		*(bool *)p = !strcasecmp(s, "true");
		return 0;
	case K_RATE:
	case K_SIZE: {
		size_t n = strlen(s);
		char *tmp = k->type == K_RATE && n > 2 && !strcmp(s + n - 2, "/s") ? xstrndup(s, n - 2) : NULL;
		int r = parse_size(tmp ? tmp : s, &u, why);
		free(tmp);
		if (r)
			return -1;
		if (!in_range(k, (double)u))
			return -2;
		*(uint64_t *)p = u;
		return 0;
	}
	case K_DURATION:
		return parse_duration(s, p, why) ? -1 : 0;
	case K_UNAVAIL: {
		size_t n = strlen(s);
		bool pct = n > 1 && s[n - 1] == '%';
		char *num = xstrndup(s, pct ? n - 1 : n);
		int r = parse_int64(num, &i);
		free(num);
		if (r)
			return -1;
		if (i < 1 || (pct && i > 100) || (!pct && !in_range(k, (double)i))) {
			*why = pct ? "a percentage must be from 1% to 100%" : "a count must be from 1 to 100000";
			return -1;
		}
		*(int *)p = pct ? -(int)i : (int)i;
		return 0;
	}
	default:
		return -1;
	}
}
