/*
 * fence.c - run a fence agent (see fence.h).
 */
#include "fence.h"
#include "util/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FENCE_OUTPUT_MAX 4096

const char *fence_agent_dir(void)
{
	const char *d = getenv("VEM_FENCE_AGENT_DIR");
	return d && *d == '/' ? d : "/usr/sbin";
}

bool fence_source_trusted(const char *source)
{
	if (!source || !*source)
		return false;
	return !strstr(source, "://") && !str_starts_with(source, "git+");
}

static bool plain_agent(const char *a)
{
	if (!a || !str_starts_with(a, "fence_") || !a[6])
		return false;
	for (const char *p = a + 6; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

int fence_check(const struct cluster *c, const struct host_spec *h, struct errbuf *err)
{
	struct stat st;
	char *path;
	int ret = -1;

	if (!h->fence.agent)
		return err_set(err, "host '%s' has no fence device (hosts: fence: {agent: ...})",
			       h->name);
	if (!plain_agent(h->fence.agent))
		return err_set(err, "host '%s': fence agent '%s' is not a plain fence_* name",
			       h->name, h->fence.agent);
	if (!fence_source_trusted(c->source))
		return err_set(err, "host '%s': fence agents are run only from a cluster file on "
			       "the local disk, not from '%s'", h->name, c->source ? c->source : "?");
	path = xasprintf("%s/%s", fence_agent_dir(), h->fence.agent);
	if (stat(path, &st) || !S_ISREG(st.st_mode) || access(path, X_OK)) {
		err_set(err, "host '%s': fence agent '%s' is not an executable file "
			"(install fence-agents)", h->name, path);
		goto out;
	}
	ret = 0;
out:
	free(path);
	return ret;
}

/* The agent's stdin: action first, then the options, one per line. */
static void agent_input(const struct host_spec *h, const char *action, struct strbuf *in)
{
	strbuf_addf(in, "action=%s\n", action);
	for (size_t i = 0; i < h->fence.options.nr; i++) {
		const struct label *o = &h->fence.options.items[i];
		if (strpbrk(o->key, "=\r\n") || strpbrk(o->value, "\r\n") || !strcmp(o->key, "action"))
			continue;   /* the loader refuses these; never let one add a line */
		strbuf_addf(in, "%s=%s\n", o->key, o->value);
	}
}

/* The last non-empty line of out (in place). */
static const char *last_line(char *out)
{
	char *end = out + strlen(out), *start;
	while (end > out && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(out, '\n');
	return start ? start + 1 : out;
}

int fence_run(const struct cluster *c, const struct host_spec *h, const char *action,
	      int64_t timeout, enum fence_power *power, struct errbuf *err)
{
	struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	char *const argv[] = { h->fence.agent, NULL };
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	struct proc_opts po = { .envp = envp, .output_max = FENCE_OUTPUT_MAX, .keep_tail = true,
				.timeout_ms = timeout > 0 ? timeout : 60000 };
	struct proc_result pr;
	char *path = NULL;
	int ret = -1;

	if (power)
		*power = FENCE_UNKNOWN;
	if (fence_check(c, h, err))
		return -1;
	path = xasprintf("%s/%s", fence_agent_dir(), h->fence.agent);
	agent_input(h, action, &in);
	po.path = path;
	po.input = in.buf;
	po.input_len = in.len;
	if (proc_run(argv, &po, &out, &pr, NULL)) {
		err_set(err, "host '%s': cannot run fence agent: %s", h->name, strerror(errno));
		goto out;
	}
	if (pr.timed_out) {
		err_set(err, "host '%s': fence agent '%s' action=%s did not finish within %lld ms",
			h->name, h->fence.agent, action, (long long)timeout);
		goto out;
	}
	if (pr.status < 0) {
		err_set(err, "host '%s': fence agent '%s' action=%s was killed by signal %d",
			h->name, h->fence.agent, action, pr.signal);
		goto out;
	}
	ret = pr.status;
	if (ret == 127 || ret == 126) {
		err_set(err, "host '%s': fence agent '%s' could not be run", h->name, h->fence.agent);
		ret = -1;
		goto out;
	}
	if (power && !strcmp(action, "status"))
		*power = ret == 0 ? FENCE_ON : ret == 2 ? FENCE_OFF : FENCE_UNKNOWN;
	if (ret != 0 && !(ret == 2 && !strcmp(action, "status")))
		err_set(err, "host '%s': fence agent '%s' action=%s failed (exit %d): %.200s",
			h->name, h->fence.agent, action, ret, last_line(out.buf));
out:
	free(path);
	strbuf_release(&in);
	strbuf_release(&out);
	return ret;
}

int fence_off(const struct cluster *c, const struct host_spec *h, int64_t timeout,
	      struct errbuf *err)
{
	enum fence_power pw;
	int r = fence_run(c, h, "off", timeout, NULL, err);

	if (r != 0)
		return -1;    /* err says why (an exit code other than 0 did too) */
	r = fence_run(c, h, "status", timeout, &pw, err);
	if (r < 0)
		return -1;
	if (pw != FENCE_OFF)
		return err_set(err, "host '%s': fence agent '%s' reports the host still %s after "
			       "action=off", h->name, h->fence.agent, pw == FENCE_ON ? "on" : "in an unknown state");
	return 0;
}
