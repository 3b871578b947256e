/*
 * curl_load.c - libcurl, opened on its first call (lazy.h).
 */
/* the functions themselves, not curl.h's type-checking macros */
#define CURL_DISABLE_TYPECHECK 1
#include "lazy.h"

#include <curl/curl.h>
#include <stdarg.h>

#define CURL_SONAME "libcurl.so.4"

LAZY_LIBRARY(curl_sym, CURL_SONAME, NULL)

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
	LAZY_PTR(curl_sym, CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...))
	CURLcode rc;
	va_list ap;

	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = f_(handle, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		rc = f_(handle, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = f_(handle, option, va_arg(ap, void (*)(void)));
	else if (option < CURLOPTTYPE_BLOB)
		rc = f_(handle, option, va_arg(ap, curl_off_t));
	else
		rc = f_(handle, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *handle, CURLINFO info, ...)
{
	LAZY_PTR(curl_sym, CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...))
	CURLcode rc;
	va_list ap;

	va_start(ap, info);
	rc = f_(handle, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
