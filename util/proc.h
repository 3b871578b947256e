/*
 * proc.h - run a program and wait for it: fork, pipes, exec and wait in
 * one place.
 *
 * argv only, never a shell: argv[0] is looked up in $PATH (or opt->path is
 * executed as it is) and every argument reaches the program byte for byte.
 * The child's stdin is opt->input (or /dev/null); its stdout and stderr
 * together are appended to *out, of which at most opt->output_max bytes are
 * kept (the first ones, or with keep_tail the last ones); the rest is read
 * and dropped, so a chatty child never blocks on a full pipe. With a
 * timeout the child is killed (SIGKILL) at the deadline. A child that does
 * not read its input never raises SIGPIPE in the caller.
 *
 * The child exits 127 when the program cannot be executed (not found) and
 * 126 when its stdin, stdout or working directory cannot be set up.
 */
#ifndef VEM_PROC_H
#define VEM_PROC_H

#include "util.h"

#define PROC_OUTPUT_MAX (64u << 10)

struct proc_opts {
	const char *path;        /* program to execute; NULL: argv[0] through $PATH */
	const char *dir;         /* working directory; NULL: the caller's */
	const char *input;       /* written to stdin, then closed; NULL: /dev/null */
	size_t input_len;
	char *const *envp;       /* NULL: the caller's environment; else exactly this */
	int64_t timeout_ms;      /* <= 0: wait as long as it takes */
	size_t output_max;       /* 0: PROC_OUTPUT_MAX */
	bool keep_tail;          /* over output_max keep the last bytes, not the first */
};

struct proc_result {
	int status;              /* exit status 0..255; -1 when killed by a signal */
	int signal;              /* the signal that killed it, or 0 */
	bool timed_out;          /* killed at the deadline (status -1, signal SIGKILL) */
	bool truncated;          /* output over output_max was dropped */
};

/*
 * Run argv (opt may be NULL: all defaults) and wait for it. 0 when the
 * child ran and ended (res says how); -1 with err (which may be NULL) when
 * no child could be started (pipe or fork failed).
 */
int proc_run(char *const argv[], const struct proc_opts *opt, struct strbuf *out,
	     struct proc_result *res, struct errbuf *err);

#endif
