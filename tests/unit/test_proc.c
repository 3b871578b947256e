/*
 * test_proc.c - util/proc.c: exit status, stdin, captured output and its
 * cap, the timeout that kills, a clean environment, a working directory, and
 * arguments that no shell ever sees.
 */
#include "test.h"
#include "util/proc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int run(char *const argv[], const struct proc_opts *o, struct strbuf *out,
	       struct proc_result *r)
{
	strbuf_reset(out);
	return proc_run(argv, o, out, r, NULL);
}

TEST(exit_status)
{
	char *t[] = { "true", NULL }, *f[] = { "false", NULL };
	char *three[] = { "sh", "-c", "exit 3", NULL };
	char *none[] = { "vem-test-no-such-program", NULL };
	char *killed[] = { "sh", "-c", "kill -TERM $$", NULL };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;

	CHECK_INT(run(t, NULL, &out, &r), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(run(f, NULL, &out, &r), 0);
	CHECK_INT(r.status, 1);
	CHECK_INT(run(three, NULL, &out, &r), 0);
	CHECK_INT(r.status, 3);
	CHECK_INT(run(none, NULL, &out, &r), 0);
	CHECK_INT(r.status, 127);
	CHECK_INT(run(killed, NULL, &out, &r), 0);
	CHECK_INT(r.status, -1);
	CHECK_INT(r.signal, SIGTERM);
	CHECK(!r.timed_out);
	strbuf_release(&out);
}

TEST(stdout_and_stderr_captured)
{
	char *argv[] = { "sh", "-c", "echo out; echo err >&2", NULL };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;

	CHECK_INT(run(argv, NULL, &out, &r), 0);
	CHECK_STR(out.buf, "out\nerr\n");
	CHECK(!r.truncated);
	strbuf_release(&out);
}

TEST(no_shell_interpretation)
{
	const char *nasty = "a;b $(echo x) `id` * $HOME | > /tmp/x 'q\" \\";
	char *argv[] = { "printf", "%s|%s", (char *)nasty, "", NULL };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;
	char *want = xasprintf("%s|", nasty);

	CHECK_INT(run(argv, NULL, &out, &r), 0);
	CHECK_INT(r.status, 0);
	CHECK_STR(out.buf, want);
	free(want);
	strbuf_release(&out);
}

TEST(stdin_given_and_default)
{
	char *cat[] = { "cat", NULL }, *wc[] = { "wc", "-c", NULL };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;
	struct proc_opts o = { .input = "hello\nworld\n", .input_len = 12 };
	size_t big = 1 << 20;   /* far beyond a pipe buffer */
	char *data = xmalloc(big);

	CHECK_INT(run(cat, &o, &out, &r), 0);
	CHECK_STR(out.buf, "hello\nworld\n");
	CHECK_INT(run(cat, NULL, &out, &r), 0);   /* /dev/null: cat ends at once */
	CHECK_STR(out.buf, "");
	memset(data, 'z', big);
	o.input = data;
	o.input_len = big;
	CHECK_INT(run(wc, &o, &out, &r), 0);
	CHECK_INT(strtol(out.buf, NULL, 10), (long)big);
	free(data);
	strbuf_release(&out);
}

TEST(unread_input_no_sigpipe)
{
	/* the child never reads and ends: the rest of the input is dropped, the
	 * run ends, and no SIGPIPE reaches this process */
	char *argv[] = { "sh", "-c", "sleep 0.2; exit 4", NULL };
	size_t big = 1 << 20;
	char *data = xmalloc(big);
	struct proc_opts o = { .input = data, .input_len = big };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;

	memset(data, 'y', big);
	CHECK_INT(run(argv, &o, &out, &r), 0);
	CHECK_INT(r.status, 4);
	free(data);
	strbuf_release(&out);
}

TEST(big_output_capped)
{
	char *argv[] = { "seq", "1", "300000", NULL };   /* about 2 MB */
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;
	struct proc_opts head = { .output_max = 1000 };
	struct proc_opts tail = { .output_max = 1000, .keep_tail = true };
	struct proc_opts dflt = { 0 };

	CHECK_INT(run(argv, &head, &out, &r), 0);
	CHECK_INT(r.status, 0);        /* read to the end: seq was never blocked */
	CHECK(r.truncated);
	CHECK_INT(out.len, 1000);
	CHECK(!strncmp(out.buf, "1\n2\n3\n", 6));
	CHECK_INT(run(argv, &tail, &out, &r), 0);
	CHECK(r.truncated);
	CHECK_INT(out.len, 1000);
	CHECK(str_ends_with(out.buf, "\n299999\n300000\n"));
	CHECK_INT(run(argv, &dflt, &out, &r), 0);
	CHECK_INT(out.len, PROC_OUTPUT_MAX);
	/* appended: what out held before stays */
	strbuf_reset(&out);
	strbuf_adds(&out, "kept:");
	CHECK_INT(proc_run(argv, &head, &out, &r, NULL), 0);
	CHECK_INT(out.len, 5 + 1000);
	CHECK(!strncmp(out.buf, "kept:1\n", 7));
	strbuf_release(&out);
}

TEST(timeout_kills)
{
	char *argv[] = { "sleep", "30", NULL };
	char *quiet[] = { "sh", "-c", "exec >/dev/null 2>&1; sleep 30", NULL };
	struct proc_opts o = { .timeout_ms = 300 };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;
	int64_t t0 = time_mono_ms();

	CHECK_INT(run(argv, &o, &out, &r), 0);
	CHECK(r.timed_out);
	CHECK_INT(r.status, -1);
	CHECK_INT(r.signal, SIGKILL);
	CHECK(time_mono_ms() - t0 < 5000);
	/* a child that closed its output early is still killed at the deadline */
	t0 = time_mono_ms();
	CHECK_INT(run(quiet, &o, &out, &r), 0);
	CHECK(r.timed_out);
	CHECK(time_mono_ms() - t0 < 5000);
	/* one that ends in time is not */
	o.timeout_ms = 10000;
	{
		char *quick[] = { "true", NULL };
		CHECK_INT(run(quick, &o, &out, &r), 0);
		CHECK(!r.timed_out);
		CHECK_INT(r.status, 0);
	}
	strbuf_release(&out);
}

TEST(clean_environment_and_dir)
{
	char *const envp[] = { "VEM_PROC_TEST=1", "PATH=/usr/bin:/bin", NULL };
	char *env[] = { "env", NULL }, *pwd[] = { "pwd", NULL };
	struct proc_opts o = { .envp = envp };
	struct proc_opts abs = { .envp = envp, .path = "/usr/bin/env" };
	struct proc_opts d = { .dir = "/" };
	struct proc_opts bad = { .dir = "/nonexistent/vem-proc" };
	struct strbuf out = STRBUF_INIT;
	struct proc_result r;

	setenv("VEM_PROC_LEAK", "secret", 1);
	CHECK_INT(run(env, &o, &out, &r), 0);
	CHECK_STR(out.buf, "VEM_PROC_TEST=1\nPATH=/usr/bin:/bin\n");
	CHECK_INT(run(env, &abs, &out, &r), 0);
	CHECK_STR(out.buf, "VEM_PROC_TEST=1\nPATH=/usr/bin:/bin\n");
	CHECK_INT(run(env, NULL, &out, &r), 0);          /* inherited */
	CHECK(strstr(out.buf, "VEM_PROC_LEAK=secret") != NULL);
	unsetenv("VEM_PROC_LEAK");
	CHECK_INT(run(pwd, &d, &out, &r), 0);
	CHECK_STR(out.buf, "/\n");
	CHECK_INT(run(pwd, &bad, &out, &r), 0);
	CHECK_INT(r.status, 126);
	strbuf_release(&out);
}

int main(void)
{
	RUN(exit_status);
	RUN(stdout_and_stderr_captured);
	RUN(no_shell_interpretation);
	RUN(stdin_given_and_default);
	RUN(unread_input_no_sigpipe);
	RUN(big_output_capped);
	RUN(timeout_kills);
	RUN(clean_environment_and_dir);
	return test_done();
}
