/*
 * fuzz_load.c - libFuzzer target for the cluster file loader: any input
 * must load or fail with diagnostics, without crashing, leaking or taking
 * unbounded time or memory. Build: make fuzz; run: tests/fuzz/run-short.
 */
#include "schema/load.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct cluster *c;

	c = cfg_load_buffer("fuzz.yaml", (const char *)data, size, &err);
	if (c) {
		cluster_write_json(c, &sb);
		if (!c->name || sb.len == 0)
			abort();   /* a loaded cluster always has a name and a JSON form */
		for (size_t i = 1; i < c->n_vms; i++)
			if (strcmp(c->vms[i - 1].name, c->vms[i].name) >= 0)
				abort();   /* VMs are sorted by name, without duplicates */
		cluster_free(c);
	} else if (!err.nr) {
		abort();   /* a failure always says why */
	}
	strbuf_release(&sb);
	errbuf_release(&err);
	return 0;
}
