/*
 * cloudinit.c - build the NoCloud seed ISO of a VM (see cloudinit.h).
 */
#include "cloudinit.h"
#include "util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLOUDINIT_MAX_FILE (1024 * 1024)   /* NoCloud files are small */

bool cloudinit_wanted(const struct vm_config *cfg)
{
	return cfg->user_data || cfg->meta_data || cfg->network_config;
}

/* Whether YAML text has a top-level key (a line starting with "key:"). */
static bool has_top_key(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return true;
	return false;
}

static int read_small(const char *what, const char *path, struct strbuf *sb, struct errbuf *err)
{
	if (strbuf_read_file(sb, path, CLOUDINIT_MAX_FILE))
		return err_set(err, "cloud-init %s '%s': %s", what, path,
			       errno == EFBIG ? "larger than 1MiB" : strerror(errno));
	return 0;
}

int cloudinit_meta_data(const char *cluster, const struct vm_spec *vm, struct strbuf *out,
			struct errbuf *err)
{
	struct strbuf user = STRBUF_INIT;

	if (vm->cfg.meta_data && read_small("meta-data", vm->cfg.meta_data, &user, err)) {
		strbuf_release(&user);
		return -1;
	}
	strbuf_add(out, user.buf, user.len);
	if (user.len && user.buf[user.len - 1] != '\n')
		strbuf_addc(out, '\n');
	if (!has_top_key(user.buf, "instance-id"))
		strbuf_addf(out, "instance-id: %s-%s\n", cluster, vm->name);
	if (!has_top_key(user.buf, "local-hostname"))
		strbuf_addf(out, "local-hostname: %s\n", vm->name);
	strbuf_release(&user);
	return 0;
}

/* Create path (never an existing file, never through a symlink), 0600. */
static int write_all(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return close(fd);
}

static int put_file(const char *dir, const char *file, const struct strbuf *sb,
		    const struct vm_spec *vm, struct errbuf *err)
{
	char *path = xasprintf("%s/%s", dir, file);
	int rc = 0;
	if (write_all(path, sb->buf, sb->len))
		rc = err_set(err, "vm '%s': cannot write '%s': %s", vm->name, path, strerror(errno));
	free(path);
	return rc;
}

static const char *const seed_files[] = { "user-data", "meta-data", "network-config",
					   "seed.iso" };

void cloudinit_seed_remove(const char *iso_path)
{
	const char *slash = iso_path ? strrchr(iso_path, '/') : NULL;
	char *dir, *p;

	if (!slash)
		return;
	dir = xasprintf("%.*s", (int)(slash - iso_path), iso_path);
	for (size_t i = 0; i < ARRAY_SIZE(seed_files); i++) {
		p = xasprintf("%s/%s", dir, seed_files[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
	free(dir);
}

int cloudinit_build_seed(const char *cluster, const struct vm_spec *vm,
			 char **iso_path, struct errbuf *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/vem-seed.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	struct strbuf user = STRBUF_INIT, meta = STRBUF_INIT, net = STRBUF_INIT, out = STRBUF_INIT;
	char *iso = NULL;
	bool has_net = vm->cfg.network_config != NULL;
	int status = 127, rc = -1;
	struct stat st;

	*iso_path = NULL;
	/* mkdtemp makes the directory 0700 */
	if (!mkdtemp(dir)) {
		err_set(err, "vm '%s': cannot create a temporary directory: %s", vm->name,
			strerror(errno));
		free(dir);
		return -1;
	}
	iso = xasprintf("%s/seed.iso", dir);
	if (vm->cfg.user_data) {
		if (read_small("user-data", vm->cfg.user_data, &user, err))
			goto out;
	} else {
		strbuf_adds(&user, "#cloud-config\n");
	}
	if (cloudinit_meta_data(cluster, vm, &meta, err))
		goto out;
	if (has_net && read_small("network-config", vm->cfg.network_config, &net, err))
		goto out;
	/* the ISO too exists before the tool opens it: 0600, and ours */
	if (put_file(dir, "user-data", &user, vm, err) ||
	    put_file(dir, "meta-data", &meta, vm, err) ||
	    (has_net && put_file(dir, "network-config", &net, vm, err)) ||
	    put_file(dir, "seed.iso", &out, vm, err))
		goto out;
	{
		char *geniso[] = { "genisoimage", "-output", "seed.iso", "-volid", "cidata",
				   "-joliet", "-rock", "-quiet", "user-data", "meta-data",
				   has_net ? "network-config" : NULL, NULL };
		char *xorriso[] = { "xorriso", "-as", "mkisofs", "-output", "seed.iso",
				    "-volid", "cidata", "-joliet", "-rock", "-quiet", "user-data",
				    "meta-data", has_net ? "network-config" : NULL, NULL };
		char *localds[] = { "cloud-localds", has_net ? "--network-config=network-config" :
				    "seed.iso", has_net ? "seed.iso" : "user-data",
				    has_net ? "user-data" : "meta-data", has_net ? "meta-data" : NULL,
				    NULL };
		char *const *tools[] = { geniso, xorriso, localds };
		struct proc_opts po = { .dir = dir, .output_max = 8192 };
		struct proc_result pr;
		for (size_t i = 0; i < ARRAY_SIZE(tools) && status == 127; i++) {
			strbuf_reset(&out);
			status = proc_run(tools[i], &po, &out, &pr, NULL) ? -1 : pr.status;
		}
	}
	if (status == 127) {
		err_set(err, "vm '%s': cannot build the cloud-init seed: none of genisoimage, "
			"xorriso, cloud-localds is installed", vm->name);
		goto out;
	}
	if (status != 0) {
		while (out.len && (out.buf[out.len - 1] == '\n'))
			out.buf[--out.len] = '\0';
		err_set(err, "vm '%s': building the cloud-init seed failed: %s", vm->name,
			out.len ? out.buf : "unknown error");
		goto out;
	}
	/* a tool that replaced the file must still leave a private one */
	if (lstat(iso, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077 && chmod(iso, 0600))) {
		err_set(err, "vm '%s': the cloud-init seed '%s' is not a private regular file",
			vm->name, iso);
		goto out;
	}
	*iso_path = iso;
	iso = NULL;
	rc = 0;
out:
	if (rc)
		cloudinit_seed_remove(iso);
	free(iso);
	free(dir);
	strbuf_release(&user);
	strbuf_release(&meta);
	strbuf_release(&net);
	strbuf_release(&out);
	return rc;
}
