/*
 * fuzz_snapshot.c - libFuzzer target for the observed-state snapshot
 * reader (vem plan --observed FILE): any input must load or fail with
 * diagnostics, without crashing, leaking, overflowing or taking unbounded
 * time or memory. What loads must write back as JSON that loads again with
 * the same hosts and domains. Build: make fuzz; run: tests/fuzz/run-short.
 */
#include "hv/hv_priv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf err = ERRBUF_INIT;
	struct strbuf sb = STRBUF_INIT;
	struct observed o, back;

	if (observed_read_json_buffer("fuzz.json", (const char *)data, size, &o, &err)) {
		if (!err.nr)
			abort();   /* a failure always says why */
		errbuf_release(&err);
		return 0;
	}
	if (err.nr)
		abort();   /* success leaves no diagnostics */
	for (size_t i = 0; i < o.n_domains; i++)
		if (o.domains[i].host >= o.n_hosts || o.domains[i].vcpus < 0)
			abort();
	observed_write_json(&o, &sb);
	if (observed_read_json_buffer("back.json", sb.buf, sb.len, &back, &err)) {
		err_print(&err, stderr, "round trip");
		abort();   /* what vem writes, it reads */
	}
	if (back.n_hosts != o.n_hosts || back.n_domains != o.n_domains)
		abort();
	observed_release(&back);
	observed_release(&o);
	strbuf_release(&sb);
	errbuf_release(&err);
	return 0;
}
