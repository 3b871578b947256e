/*
 * lazy.h - shared libraries vem opens on their first call.
 *
 * libvirt, libcurl and libgit2 bring some 60 shared libraries (glib,
 * gnutls, libxml2, nghttp2, ssh, kerberos, ...), and loading and relocating
 * them cost every run of vem some 13 ms: more than `vem validate`, `vem
 * schema`, completion or planning a 20-host cluster from a snapshot take
 * otherwise, and none of them calls those libraries. So the vem binary is
 * not linked with them: each function of theirs that vem calls is defined
 * in virt_load.c, curl_load.c or git_load.c with the library header's
 * prototype (the compiler checks it against the header), opens the library
 * on the first call of any of them, and calls through. A call that is not
 * listed there fails the link of vem, not a run. The unit tests and tools
 * link the libraries directly and do not use these files.
 */
#ifndef VEM_LAZY_H
#define VEM_LAZY_H

#include <pthread.h>

/* dlopen soname, or exit with an error naming it (VEM_EXIT_ERROR). */
void *lazy_open(const char *soname);
/* The symbol name of handle (opened from soname), or exit with an error. */
void *lazy_sym(void *handle, const char *soname, const char *name);

/* static void *sym(const char *name): name in soname, which the first call
 * opens and then passes to on_open (void (*)(void *handle), or NULL). */
#define LAZY_LIBRARY(sym, soname, on_open)                                           \
	static void *sym##_handle_;                                                  \
	static pthread_once_t sym##_once_ = PTHREAD_ONCE_INIT;                       \
	static void sym##_open_(void)                                                \
	{                                                                            \
		void (*opened_)(void *) = on_open;                                   \
		sym##_handle_ = lazy_open(soname);                                   \
		if (opened_)                                                         \
			opened_(sym##_handle_);                                      \
	}                                                                            \
	static void *sym(const char *name)                                           \
	{                                                                            \
		pthread_once(&sym##_once_, sym##_open_);                             \
		return lazy_sym(sym##_handle_, soname, name);                        \
	}

/* In a wrapper of name: f_, the library's function, looked up once by
 * sym(name) (threads that race store the same value). */
#define LAZY_PTR(sym, ret, name, params)                                             \
	static ret (*fn_) params;                                                    \
	ret (*f_) params = __atomic_load_n(&fn_, __ATOMIC_ACQUIRE);                  \
	if (!f_) {                                                                   \
		f_ = (ret (*) params)sym(#name);                                     \
		__atomic_store_n(&fn_, f_, __ATOMIC_RELEASE);                        \
	}

#define LAZY_FN(sym, ret, name, params, args)                                        \
	ret name params;                                                             \
	ret name params                                                              \
	{                                                                            \
		LAZY_PTR(sym, ret, name, params)                                     \
		return f_ args;                                                      \
	}

#define LAZY_VOID(sym, name, params, args)                                           \
	void name params;                                                            \
	void name params                                                             \
	{                                                                            \
		LAZY_PTR(sym, void, name, params)                                    \
		f_ args;                                                             \
	}

#endif
