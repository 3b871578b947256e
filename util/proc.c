/*
 * proc.c - run a program and wait for it (see proc.h).
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* In the child: stdin, stdout+stderr, directory, then exec. Never returns. */
static void proc_child(char *const argv[], const struct proc_opts *o, int in_fd, int out_fd)
{
	signal(SIGPIPE, SIG_DFL);
	if (in_fd < 0)
		in_fd = open("/dev/null", O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(126);
	if (o->dir && chdir(o->dir))
		_exit(126);
	if (o->path && o->envp)
		execve(o->path, argv, o->envp);
	else if (o->path)
		execv(o->path, argv);
	else if (o->envp)
		execvpe(argv[0], argv, o->envp);
	else
		execvp(argv[0], argv);
	_exit(127);
}

/* write() that turns a closed pipe into EPIPE without a SIGPIPE. */
static ssize_t write_no_sigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	if (n < 0 && errno == EPIPE) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);   /* consume the pending one */
		errno = EPIPE;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n;
}

static void keep_output(struct strbuf *out, size_t start, const char *buf, size_t n,
			const struct proc_opts *o, size_t max, struct proc_result *res)
{
	size_t have = out->len - start;

	if (!o->keep_tail) {
		if (have + n > max) {
			res->truncated = true;
			n = max - have;
		}
		strbuf_add(out, buf, n);
		return;
	}
	strbuf_add(out, buf, n);
	if (have + n > max) {
		size_t drop = have + n - max;
		memmove(out->buf + start, out->buf + start + drop, max);
		out->len = start + max;
		out->buf[out->len] = '\0';
		res->truncated = true;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Wait for pid; with a deadline, kill it there. */
static void proc_wait(pid_t pid, int64_t deadline, struct proc_result *res)
{
	int status = 0;

	for (;;) {
		pid_t w = waitpid(pid, &status, deadline ? WNOHANG : 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			res->status = -1;
			return;
		}
		if (deadline && (res->timed_out || time_mono_ms() >= deadline)) {
			res->timed_out = true;
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (deadline) {
			struct timespec ts = { 0, 10 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (WIFEXITED(status)) {
		res->status = WEXITSTATUS(status);
	} else {
		res->status = -1;
		res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
}

int proc_run(char *const argv[], const struct proc_opts *opt, struct strbuf *out,
	     struct proc_result *res, struct errbuf *err)
{
	static const struct proc_opts defaults;
	const struct proc_opts *o = opt ? opt : &defaults;
	size_t max = o->output_max ? o->output_max : PROC_OUTPUT_MAX;
	size_t start = out->len, in_off = 0;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 };
	int64_t deadline = o->timeout_ms > 0 ? time_mono_ms() + o->timeout_ms : 0;
	pid_t pid;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (pipe2(outp, O_CLOEXEC) || (o->input && pipe2(in, O_CLOEXEC))) {
		if (err)
			err_set(err, "cannot run '%s': %s", argv[0], strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		if (err)
			err_set(err, "cannot run '%s': %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		proc_child(argv, o, in[0], outp[1]);
	close_fd(&outp[1]);
	close_fd(&in[0]);
	if (in[1] >= 0 && !o->input_len)
		close_fd(&in[1]);
	if (in[1] >= 0)
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p[2] = { { .fd = outp[0], .events = POLLIN },
				       { .fd = in[1], .events = POLLOUT } };
		nfds_t np = in[1] >= 0 ? 2 : 1;
		int wait_ms = -1;
		if (deadline) {
			int64_t left = deadline - time_mono_ms();
			if (left <= 0) {
				res->timed_out = true;
				break;
			}
			wait_ms = left > 1000 ? 1000 : (int)left;
		}
		if (poll(p, np, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (np == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = (p[1].revents & POLLOUT) ?
				write_no_sigpipe(in[1], o->input + in_off, o->input_len - in_off) : -1;
			if (w > 0)
				in_off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= o->input_len)
				close_fd(&in[1]);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[4096];
			ssize_t n = read(outp[0], buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;      /* the child closed its output: it is ending */
			keep_output(out, start, buf, (size_t)n, o, max, res);
		}
	}
	close_fd(&in[1]);
	close_fd(&outp[0]);
	proc_wait(pid, deadline, res);
	rc = 0;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	return rc;
}
