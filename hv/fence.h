/*
 * fence.h - powering a host off through a fence agent of the fence-agents
 * package (fence_ipmilan, fence_redfish, fence_apc, fence_virsh, ...).
 *
 * The agent runs on the machine that runs vem, as the standard fence agent
 * API wants it: no arguments, its options as "key=value" lines on stdin
 * ("action=off", then the host's fence options from the cluster file: ip,
 * username, password or password_script, plug, ...). Exit 0 is success; for
 * action=status exit 0 means "on" and 2 means "off".
 *
 * Trust: the agent is a command on this machine. It is run only when the
 * cluster file came from the local disk (a git or https source may describe
 * VMs, never run commands here), only by a plain fence_* name, and only from
 * the agent directory (/usr/sbin; VEM_FENCE_AGENT_DIR overrides it, from
 * the environment of whoever runs vem). Options never appear on a command
 * line or in a message (they may hold a password).
 */
#ifndef VEM_FENCE_H
#define VEM_FENCE_H

#include "schema/model.h"

enum fence_power {
	FENCE_ON,
	FENCE_OFF,
	FENCE_UNKNOWN,
};

/* The agent directory (VEM_FENCE_AGENT_DIR or /usr/sbin). */
const char *fence_agent_dir(void);
/* Whether a cluster file from source may name fence agents: local paths only. */
bool fence_source_trusted(const char *source);
/* 0 when host h of c can be fenced (agent given, plain name, present and
 * executable in the agent directory, trusted source); -1 with err. */
int fence_check(const struct cluster *c, const struct host_spec *h, struct errbuf *err);

/* Run h's agent with action "off", "on" or "status" (at most timeout ms; the
 * agent is killed after). Returns the agent's exit code (>= 0), or -1 with
 * err when it could not be run or timed out. *power (may be NULL) is what a
 * status reported. err names the agent's last output line on failure. */
int fence_run(const struct cluster *c, const struct host_spec *h, const char *action,
	      int64_t timeout, enum fence_power *power, struct errbuf *err);

/* Power h off and confirm with a status that says off: 0, or -1 with err. */
int fence_off(const struct cluster *c, const struct host_spec *h, int64_t timeout,
	      struct errbuf *err);

#endif
