/*
 * fence.c - run a fence agent (see fence.h).
 */
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
	struct strbuf in = STRBUF_INIT;
	char out[FENCE_OUTPUT_MAX + 1];
	size_t out_len = 0, in_off = 0;
	int to_child[2] = { -1, -1 }, from_child[2] = { -1, -1 };
	char *path = NULL;
	int64_t deadline;
	pid_t pid = -1;
	int status = 0, ret = -1;
	bool timed_out = false;

	if (power)
		*power = FENCE_UNKNOWN;
	if (fence_check(c, h, err))
		return -1;
	path = xasprintf("%s/%s", fence_agent_dir(), h->fence.agent);
	agent_input(h, action, &in);
	if (pipe2(to_child, O_CLOEXEC) || pipe2(from_child, O_CLOEXEC)) {
		err_set(err, "host '%s': cannot run fence agent: %s", h->name, strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err_set(err, "host '%s': cannot run fence agent: %s", h->name, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		char *const argv[] = { h->fence.agent, NULL };
		char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
		signal(SIGPIPE, SIG_DFL);
		if (dup2(to_child[0], 0) < 0 || dup2(from_child[1], 1) < 0 || dup2(from_child[1], 2) < 0)
			_exit(126);
		execve(path, argv, envp);
		_exit(127);
	}
	close(to_child[0]);
	to_child[0] = -1;
	close(from_child[1]);
	from_child[1] = -1;
	fcntl(to_child[1], F_SETFL, O_NONBLOCK);
	deadline = time_mono_ms() + (timeout > 0 ? timeout : 60000);
	for (;;) {
		struct pollfd p[2] = { { .fd = from_child[0], .events = POLLIN },
				       { .fd = to_child[1], .events = POLLOUT } };
		int64_t left = deadline - time_mono_ms();
		int np = to_child[1] >= 0 ? 2 : 1, r;
		if (left <= 0) {
			timed_out = true;
			break;
		}
		r = poll(p, (nfds_t)np, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR)
			break;
		if (np == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = (p[1].revents & POLLOUT) ? write(to_child[1], in.buf + in_off, in.len - in_off) : -1;
			if (w > 0)
				in_off += (size_t)w;
			if (w < 0 || in_off >= in.len) {
				close(to_child[1]);
				to_child[1] = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[512];
			ssize_t n = read(from_child[0], buf, sizeof(buf));
			if (n <= 0)
				break;      /* the agent closed its output: it is ending */
			for (ssize_t k = 0; k < n; k++) {
				if (out_len == FENCE_OUTPUT_MAX) {
					memmove(out, out + FENCE_OUTPUT_MAX / 2, FENCE_OUTPUT_MAX / 2);
					out_len = FENCE_OUTPUT_MAX / 2;
				}
				out[out_len++] = buf[k];
			}
		}
	}
	out[out_len] = '\0';
	/* wait for the exit until the deadline, then kill */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			err_set(err, "host '%s': fence agent '%s': %s", h->name, h->fence.agent, strerror(errno));
			pid = -1;
			goto out;
		}
		if (timed_out || time_mono_ms() >= deadline) {
			timed_out = true;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		{
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	pid = -1;
	if (timed_out) {
		err_set(err, "host '%s': fence agent '%s' action=%s did not finish within %lld ms",
			h->name, h->fence.agent, action, (long long)timeout);
		goto out;
	}
	if (!WIFEXITED(status)) {
		err_set(err, "host '%s': fence agent '%s' action=%s was killed by signal %d",
			h->name, h->fence.agent, action, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		goto out;
	}
	ret = WEXITSTATUS(status);
	if (ret == 127 || ret == 126) {
		err_set(err, "host '%s': fence agent '%s' could not be run", h->name, h->fence.agent);
		ret = -1;
		goto out;
	}
	if (power && !strcmp(action, "status"))
		*power = ret == 0 ? FENCE_ON : ret == 2 ? FENCE_OFF : FENCE_UNKNOWN;
	if (ret != 0 && !(ret == 2 && !strcmp(action, "status")))
		err_set(err, "host '%s': fence agent '%s' action=%s failed (exit %d): %.200s",
			h->name, h->fence.agent, action, ret, last_line(out));
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	free(path);
	strbuf_release(&in);
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
