/*
 * eventlog.c - structured events: JSON or text lines, and the webhook (see
 * eventlog.h).
 */
#include "eventlog.h"
#include "json.h"
#include "uri.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256
#define WEBHOOK_TIMEOUT_MS 5000
#define DRAIN_MS 5000
#define MAX_KV 32

struct eventlog {
	enum log_format fmt;
	FILE *out;
	pthread_mutex_t lock;           /* out, the queue */
	/* webhook */
	char *url;
	char *shown;                    /* masked */
	bool hook_running;
	pthread_t thread;
	pthread_cond_t cond;
	char *queue[QUEUE_MAX];
	size_t head, count;
	bool stopping;
	int64_t drain_until;            /* monotonic ms */
	uint64_t dropped, failed;
};

void eventlog_json(struct strbuf *out, int64_t now_ms, int priority, const char *event,
		   const char *message, const char *const *kv, size_t n_kv)
{
	struct json_writer w;
	char tb[32], pb[8];

	snprintf(pb, sizeof(pb), "%d", priority);
	jw_init(&w, out, false);
	jw_object_begin(&w);
	jw_key(&w, "MESSAGE");
	jw_string(&w, message);
	jw_key(&w, "PRIORITY");
	jw_string(&w, pb);
	jw_key(&w, "SYSLOG_IDENTIFIER");
	jw_string(&w, "vem");
	jw_key(&w, "VEM_EVENT");
	jw_string(&w, event);
	jw_key(&w, "VEM_TIME");
	jw_string(&w, format_time_utc(now_ms, tb));
	for (size_t i = 0; i + 1 < n_kv; i += 2) {
		if (!kv[i + 1])
			continue;
		jw_key(&w, kv[i]);
		jw_string(&w, kv[i + 1]);
	}
	jw_object_end(&w);
}

char *eventlog_mask_url(const char *url)
{
	return strstr(url, "://") ? uri_mask_all_params(url) : xstrdup("****");
}

static void *webhook_thread(void *arg)
{
	struct eventlog *l = arg;
	CURL *curl = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");

	pthread_mutex_lock(&l->lock);
	for (;;) {
		char *body;
		CURLcode rc;
		long code = 0;

		while (!l->count && !l->stopping)
			pthread_cond_wait(&l->cond, &l->lock);
		if (!l->count || (l->stopping && time_mono_ms() > l->drain_until))
			break;
		body = l->queue[l->head];
		l->head = (l->head + 1) % QUEUE_MAX;
		l->count--;
		pthread_mutex_unlock(&l->lock);
		rc = CURLE_FAILED_INIT;
		if (curl) {
			curl_easy_reset(curl);
			curl_easy_setopt(curl, CURLOPT_URL, l->url);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
			curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
			curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
			curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
			curl_easy_setopt(curl, CURLOPT_USERAGENT, "vem/" VEM_VERSION);
			rc = curl_easy_perform(curl);
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
		}
		free(body);
		pthread_mutex_lock(&l->lock);
		if (rc != CURLE_OK || code >= 300) {
			/* once per 100 failures, so a dead receiver does not flood the log */
			if (l->failed++ % 100 == 0)
				fprintf(stderr, "vem: webhook %s: %s\n", l->shown,
					rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error status");
		}
	}
	while (l->count) {
		free(l->queue[l->head]);
		l->head = (l->head + 1) % QUEUE_MAX;
		l->count--;
		l->dropped++;
	}
	pthread_mutex_unlock(&l->lock);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(curl);
	return NULL;
}

struct eventlog *eventlog_new(enum log_format fmt, FILE *out, const char *webhook,
			      struct errbuf *err)
{
	struct eventlog *l;

	if (webhook && !str_starts_with(webhook, "http://") && !str_starts_with(webhook, "https://")) {
		char *shown = eventlog_mask_url(webhook);
		err_set(err, "webhook '%s': expected an http:// or https:// URL", shown);
		free(shown);
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->fmt = fmt;
	l->out = out;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	if (webhook) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		l->url = xstrdup(webhook);
		l->shown = eventlog_mask_url(webhook);
		l->hook_running = !pthread_create(&l->thread, NULL, webhook_thread, l);
	}
	return l;
}

enum log_format eventlog_format(const struct eventlog *l)
{
	return l ? l->fmt : LOG_TEXT;
}

void eventlog_free(struct eventlog *l)
{
	if (!l)
		return;
	if (l->hook_running) {
		pthread_mutex_lock(&l->lock);
		l->stopping = true;
		l->drain_until = time_mono_ms() + DRAIN_MS;
		pthread_cond_broadcast(&l->cond);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->thread, NULL);
		if (l->dropped)
			fprintf(stderr, "vem: webhook %s: %llu events dropped\n", l->shown,
				(unsigned long long)l->dropped);
	}
	free(l->url);
	free(l->shown);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void eventlog_emit(struct eventlog *l, int priority, const char *event, const char *message, ...)
{
	const char *kv[MAX_KV];
	size_t n = 0;
	va_list ap;
	const char *k;
	struct strbuf sb = STRBUF_INIT;
	int64_t now = time_now_ms();

	if (!l)
		return;
	va_start(ap, message);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		if (n + 2 <= MAX_KV) {
			kv[n++] = k;
			kv[n++] = v;
		}
	}
	va_end(ap);
	eventlog_json(&sb, now, priority, event, message, kv, n);
	pthread_mutex_lock(&l->lock);
	if (!l->out) {
		/* lines off: the webhook only */
	} else if (l->fmt == LOG_JSON) {
		fprintf(l->out, "%s\n", sb.buf);
	} else {
		char tb[32];
		fprintf(l->out, "%s %s\n", format_time_utc(now, tb), message);
	}
	if (l->out)
		fflush(l->out);
	if (l->hook_running && !l->stopping) {
		if (l->count < QUEUE_MAX) {
			l->queue[(l->head + l->count) % QUEUE_MAX] = strbuf_detach(&sb, NULL);
			l->count++;
			pthread_cond_signal(&l->cond);
		} else {
			l->dropped++;
		}
	}
	pthread_mutex_unlock(&l->lock);
	strbuf_release(&sb);
}
