/*
 * eventlog.h - structured events of the reconcile loop: every action,
 * refusal (held-back change), domain state change and host drop, as one
 * line each, and optionally POSTed to a webhook.
 *
 * --log-format json writes one JSON object per line, with journald's field
 * names so that a line can be fed to the journal (or read by any log
 * shipper) as it is:
 *
 *   {"MESSAGE":"create api-0 on h1: ok (600ms)","PRIORITY":"6",
 *    "SYSLOG_IDENTIFIER":"vem","VEM_EVENT":"action","VEM_TIME":"2026-...Z",
 *    "VEM_KIND":"create","VEM_VM":"api-0","VEM_HOST":"h1","VEM_RESULT":"ok",...}
 *
 * PRIORITY is syslog's (3 error, 4 warning, 5 notice, 6 info). The text
 * format writes "TIME MESSAGE" instead.
 *
 * The webhook (--webhook URL) gets the same JSON object per event by HTTP
 * POST (libcurl) from a thread of its own with a bounded queue and a 5 s
 * timeout per request: a slow or dead receiver costs dropped events (counted
 * in the log), never a stalled round. The URL's password and query values
 * are masked wherever it is shown (eventlog_mask_url).
 *
 * Threads: eventlog_emit() may be called from any thread.
 */
#ifndef VEM_EVENTLOG_H
#define VEM_EVENTLOG_H

#include "util.h"

enum log_format { LOG_TEXT = 0, LOG_JSON };

struct eventlog;

/* out: where lines go (stdout; NULL: none, the webhook only); webhook may be NULL. NULL with err when the
 * webhook URL is not http(s). */
struct eventlog *eventlog_new(enum log_format fmt, FILE *out, const char *webhook,
			      struct errbuf *err);
/* Deliver what the webhook queue still holds (for at most 5 s), then free. */
void eventlog_free(struct eventlog *l);
enum log_format eventlog_format(const struct eventlog *l);

/*
 * One event. kv: pairs of field name (VEM_...) and value, NULL-terminated;
 * a NULL value leaves its field out. Example:
 *   eventlog_emit(l, 6, "action", msg, "VEM_VM", vm, "VEM_HOST", host, NULL);
 */
void eventlog_emit(struct eventlog *l, int priority, const char *event, const char *message,
		   ...) __attribute__((sentinel));

/* The JSON object of one event (no newline), for tests and the webhook. */
void eventlog_json(struct strbuf *out, int64_t now_ms, int priority, const char *event,
		   const char *message, const char *const *kv, size_t n_kv);
/* url with the userinfo password and every query value replaced by "****"
 * (caller frees). */
char *eventlog_mask_url(const char *url);

#endif
