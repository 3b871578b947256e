/*
 * fuzz_load.c - libFuzzer target for the cluster file loader: any input
 * must load or fail with diagnostics, without crashing, leaking or taking
 * unbounded time or memory. Build: make fuzz; run: tests/fuzz/run-short.
 *
 * Each input is loaded three ways:
 *  - as one buffer, trusted (the local file case);
 *  - as one buffer, untrusted (a git or https source) rooted at a scratch
 *    directory, so path, URI and image checks run;
 *  - when it holds separator lines "%%% NAME" (NAME: a file name, at most
 *    8 files), as a directory of those files, trusted and untrusted: the
 *    text before the first separator is "00.yaml". Names not ending in
 *    .yaml are there for cloud-init paths and symlinks to point at.
 * A loaded cluster must be consistent both times; untrusted must never load
 * what trusted refuses.
 */
#include "schema/load.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\n%%% "
#define MAX_FILES 8

static char dir[64];   /* scratch directory, one per process */

static bool check(struct cluster *c, const struct errbuf *err)
{
	struct strbuf sb = STRBUF_INIT;

	if (c) {
		cluster_write_json(c, NULL, &sb);
		if (!c->name || sb.len == 0)
			abort();   /* a loaded cluster always has a name and a JSON form */
		for (size_t i = 1; i < c->n_vms; i++)
			if (strcmp(c->vms[i - 1].name, c->vms[i].name) >= 0)
				abort();   /* VMs are sorted by name, without duplicates */
		cluster_free(c);
	} else if (!err->nr) {
		abort();   /* a failure always says why */
	}
	strbuf_release(&sb);
	return c != NULL;
}

/* A file name from the separator line: [A-Za-z0-9._-], not "." or "..". */
static bool file_name(const char *s, size_t len, char *out, size_t outlen)
{
	if (!len || len >= outlen || (s[0] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '.' || s[i] == '_' || s[i] == '-' ||
		      (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static void put(const char *name, const char *data, size_t len)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	if (f) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
	free(p);
}

static void clear_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
}

static void remove_dir(void)
{
	clear_dir();
	rmdir(dir);
}

/* Write the files of data into dir; false when data has no separator. */
static bool split_files(const char *data, size_t size)
{
	const char *p = data, *end = data + size;
	const char *sep = memmem(p, size, SEP, strlen(SEP));
	char name[64] = "00.yaml";
	int n = 0;

	if (!sep)
		return false;
	while (p < end && n < MAX_FILES) {
		const char *next = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
		const char *stop = next ? next : end;
		put(name, p, (size_t)(stop - p));
		n++;
		if (!next)
			break;
		p = next + strlen(SEP);
		{
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (!file_name(p, len, name, sizeof(name)))
				snprintf(name, sizeof(name), "%02d.yaml", n);
			p = nl ? nl + 1 : end;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf err = ERRBUF_INIT;
	struct load_options trusted = { 0 };
	struct load_options untrusted = { .untrusted = true, .trusted_hosts = "/nonexistent" };
	bool trusted_ok;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/vem-fuzz-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
	}
	untrusted.root = trusted.root = dir;
	clear_dir();   /* the same input always sees the same files */

	trusted_ok = check(cfg_load_buffer_opts("fuzz.yaml", (const char *)data, size, &trusted,
						&err), &err);
	errbuf_release(&err);
	if (check(cfg_load_buffer_opts("fuzz.yaml", (const char *)data, size, &untrusted, &err),
		  &err) && !trusted_ok)
		abort();   /* untrusted is never more permissive */
	errbuf_release(&err);

	if (split_files((const char *)data, size)) {
		trusted_ok = check(cfg_load(dir, &err), &err);
		errbuf_release(&err);
		if (check(cfg_load_opts(dir, &untrusted, &err), &err) && !trusted_ok)
			abort();
		errbuf_release(&err);
	}
	return 0;
}
