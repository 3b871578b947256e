/*
 * skeleton.c - `vem observe --skeleton`: a cluster file describing the
 * domains the hosts run that vem does not manage, each VM with adopt: true
 * and pinned to its host, so an existing fleet is described in minutes.
 */
#include "skeleton.h"

#include <ctype.h>
#include <string.h>

/* name as a YAML scalar: plain when safe, else single-quoted */
static void yaml_scalar(struct strbuf *sb, const char *s)
{
	bool plain = *s && (isalnum((unsigned char)*s) || *s == '_');
	for (const char *p = s; plain && *p; p++)
		plain = isalnum((unsigned char)*p) || strchr("._-", *p);
	if (plain) {
		strbuf_adds(sb, s);
		return;
	}
	strbuf_addc(sb, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			strbuf_addc(sb, '\'');
		strbuf_addc(sb, *p);
	}
	strbuf_addc(sb, '\'');
}

void observe_skeleton(const struct cluster *c, const struct observed *o, struct strbuf *out)
{
	size_t n = 0;
	char b[32];

	strbuf_addf(out, "# vem observe --skeleton: domains the hosts of cluster '%s' run that vem\n"
			 "# does not manage. Observed: vCPUs, memory, state, host. Not observed:\n"
			 "# kernel, disks, networks: add them (or a template) before applying.\n",
		    c->name);
	strbuf_adds(out, "cluster: ");
	yaml_scalar(out, c->name);
	strbuf_adds(out, "\nhosts:\n");
	for (size_t h = 0; h < o->n_hosts; h++) {
		strbuf_adds(out, "  - name: ");
		yaml_scalar(out, o->hosts[h].name);
		strbuf_adds(out, "\n    uri: ");
		yaml_scalar(out, o->hosts[h].uri ? o->hosts[h].uri : "");
		strbuf_addc(out, '\n');
	}
	for (size_t i = 0; i < o->n_domains; i++) {
		const struct obs_domain *d = &o->domains[i];
		if (d->owned || d->foreign_meta || !o->hosts[d->host].online)
			continue;
		if (!n++)
			strbuf_adds(out, "vms:\n");
		strbuf_adds(out, "  - name: ");
		yaml_scalar(out, d->name);
		strbuf_addf(out, "\n    adopt: true\n    vcpus: %d\n", d->vcpus > 0 ? d->vcpus : 1);
		strbuf_addf(out, "    memory: %s\n", format_size(d->memory, b));
		if (d->max_memory > d->memory)
			strbuf_addf(out, "    max-memory: %s\n", format_size(d->max_memory, b));
		strbuf_addf(out, "    state: %s\n", d->state == DOM_RUNNING || d->state == DOM_PAUSED ?
			    "running" : "stopped");
		strbuf_adds(out, "    placement: {hosts: [");
		yaml_scalar(out, o->hosts[d->host].name);
		strbuf_adds(out, "]}\n");
	}
	if (!n)
		strbuf_adds(out, "vms: []   # every domain is vem's already, or another cluster's\n");
}
