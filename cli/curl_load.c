/*
 * curl_load.c - libcurl, opened on its first call (lazy.h).
 */
/* the functions themselves, not curl.h's type-checking macros */
#define CURL_DISABLE_TYPECHECK 1
#include "lazy.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>

#define CURL_SONAME "libcurl.so.4"

static void *curl;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_open(void)
{
	curl = lazy_open(CURL_SONAME);
}

static void *curl_sym(const char *name)
{
	pthread_once(&curl_once, curl_open);
	return lazy_sym(curl, CURL_SONAME, name);
}

LAZY_VOID(curl_sym, curl_easy_cleanup, (CURL *curl), (curl))
LAZY_FN(curl_sym, CURL *, curl_easy_init, (void), ())
LAZY_FN(curl_sym, CURLcode, curl_easy_perform, (CURL *curl), (curl))
LAZY_VOID(curl_sym, curl_easy_reset, (CURL *curl), (curl))
LAZY_FN(curl_sym, const char *, curl_easy_strerror, (CURLcode code), (code))
LAZY_VOID(curl_sym, curl_free, (void *p), (p))
LAZY_FN(curl_sym, CURLcode, curl_global_init, (long flags), (flags))
LAZY_FN(curl_sym, struct curl_slist *, curl_slist_append,
	(struct curl_slist *list, const char *data),
	(list, data))
LAZY_VOID(curl_sym, curl_slist_free_all, (struct curl_slist *list), (list))
LAZY_FN(curl_sym, CURLU *, curl_url, (void), ())
LAZY_VOID(curl_sym, curl_url_cleanup, (CURLU *handle), (handle))
LAZY_FN(curl_sym, CURLUcode, curl_url_get,
	(CURLU *handle, CURLUPart what, char **part, unsigned int flags),
	(handle, what, part, flags))
LAZY_FN(curl_sym, CURLUcode, curl_url_set,
	(CURLU *handle, CURLUPart what, const char *part, unsigned int flags),
	(handle, what, part, flags))

/*
 * The variadic two. An option's number says the type of its value (curl.h:
 * CURLOPTTYPE_*, the ranges are libcurl's ABI): long, object pointer,
 * function pointer, curl_off_t, blob pointer. getinfo always takes a
 * pointer.
 */
CURLcode curl_easy_setopt(CURL *handle, CURLoption option, ...)
{
	typedef CURLcode (*setopt_fn)(CURL *, CURLoption, ...);
	static setopt_fn fn_;
	setopt_fn f = __atomic_load_n(&fn_, __ATOMIC_ACQUIRE);
	CURLcode rc;
	va_list ap;

	if (!f) {
		f = (setopt_fn)curl_sym("curl_easy_setopt");
		__atomic_store_n(&fn_, f, __ATOMIC_RELEASE);
	}
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = f(handle, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		rc = f(handle, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = f(handle, option, va_arg(ap, void (*)(void)));
	else if (option < CURLOPTTYPE_BLOB)
		rc = f(handle, option, va_arg(ap, curl_off_t));
	else
		rc = f(handle, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *handle, CURLINFO info, ...)
{
	typedef CURLcode (*getinfo_fn)(CURL *, CURLINFO, ...);
	static getinfo_fn fn_;
	getinfo_fn f = __atomic_load_n(&fn_, __ATOMIC_ACQUIRE);
	CURLcode rc;
	va_list ap;

	if (!f) {
		f = (getinfo_fn)curl_sym("curl_easy_getinfo");
		__atomic_store_n(&fn_, f, __ATOMIC_RELEASE);
	}
	va_start(ap, info);
	rc = f(handle, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
