/*
 * lazy.c - opening the shared libraries of lazy.h.
 */
#include "lazy.h"
#include "apply.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void *lazy_open(const char *soname)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);

	if (!h) {
		fprintf(stderr, "vem: cannot load %s: %s\n", soname, dlerror());
		exit(VEM_EXIT_ERROR);
	}
	return h;
}

void *lazy_sym(void *handle, const char *soname, const char *name)
{
	void *p = dlsym(handle, name);

	if (!p) {
		fprintf(stderr, "vem: %s has no %s: %s\n", soname, name, dlerror());
		exit(VEM_EXIT_ERROR);
	}
	return p;
}
