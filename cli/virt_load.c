/*
 * virt_load.c - libvirt, loaded when vem first calls it.
 *
 * libvirt brings some 55 shared libraries (glib, gnutls, libxml2, ...)
 * whose loading and relocation cost every vem run about 14 ms: more than
 * `vem validate`, `vem schema` or planning a 20-host cluster from a
 * snapshot take otherwise, and none of them calls libvirt. So the vem
 * binary is not linked with libvirt: each libvirt function vem calls is
 * defined here with <libvirt/libvirt.h>'s prototype (the compiler checks it
 * against the header), opens libvirt.so.0 on its first call, then calls
 * through. Opening it sets the quiet error handler (errors are read where
 * they happen and turned into vem errors) and initialises libvirt. A call
 * that is not listed here fails the link of vem, not a run. The unit tests
 * and tools link libvirt directly and do not use this file.
 */
#include "apply.h"

#include <dlfcn.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define VIRT_SONAME "libvirt.so.0"

static void *virt;
/* libvirt's, copied when it is opened (hv/session.c calls virInitialize
 * before reading it) */
virConnectAuthPtr virConnectAuthPtrDefault;
static pthread_once_t virt_once = PTHREAD_ONCE_INIT;

static void virt_quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

static void *virt_dlsym(const char *name)
{
	void *p = dlsym(virt, name);
	if (!p) {
		fprintf(stderr, "vem: %s has no %s: %s\n", VIRT_SONAME, name, dlerror());
		exit(VEM_EXIT_ERROR);
	}
	return p;
}

static void virt_open(void)
{
	void (*set_error_func)(void *, virErrorFunc);
	int (*initialize)(void);

	virt = dlopen(VIRT_SONAME, RTLD_NOW | RTLD_GLOBAL);
	if (!virt) {
		fprintf(stderr, "vem: cannot load libvirt: %s\n", dlerror());
		exit(VEM_EXIT_ERROR);
	}
	set_error_func = (void (*)(void *, virErrorFunc))virt_dlsym("virSetErrorFunc");
	initialize = (int (*)(void))virt_dlsym("virInitialize");
	virConnectAuthPtrDefault = *(virConnectAuthPtr *)virt_dlsym("virConnectAuthPtrDefault");
	set_error_func(NULL, virt_quiet);
	if (initialize() < 0) {
		fprintf(stderr, "vem: cannot initialise libvirt\n");
		exit(VEM_EXIT_ERROR);
	}
}

/* libvirt's function name, libvirt opened first */
static void *virt_sym(const char *name)
{
	pthread_once(&virt_once, virt_open);
	return virt_dlsym(name);
}

/* Each function looks its pointer up once (threads that race store the
 * same value). */
#define VIRT_PTR(ret, name, params)                                                  \
	static ret (*fn_) params;                                                    \
	ret (*f_) params = __atomic_load_n(&fn_, __ATOMIC_ACQUIRE);                  \
	if (!f_) {                                                                   \
		f_ = (ret (*) params)virt_sym(#name);                                \
		__atomic_store_n(&fn_, f_, __ATOMIC_RELEASE);                        \
	}

#define VIRT_FN(ret, name, params, args)                                             \
	ret name params;                                                             \
	ret name params                                                              \
	{                                                                            \
		VIRT_PTR(ret, name, params)                                          \
		return f_ args;                                                      \
	}

#define VIRT_VOID(name, params, args)                                                \
	void name params;                                                            \
	void name params                                                             \
	{                                                                            \
		VIRT_PTR(void, name, params)                                         \
		f_ args;                                                             \
	}

VIRT_FN(int, virConnectClose, (virConnectPtr conn), (conn))
VIRT_FN(int, virConnectDomainEventDeregisterAny, (virConnectPtr conn, int callbackID), (conn, callbackID))
VIRT_FN(int, virConnectDomainEventRegisterAny, (virConnectPtr conn, virDomainPtr dom, int eventID, virConnectDomainEventGenericCallback cb, void *opaque, virFreeCallback freecb), (conn, dom, eventID, cb, opaque, freecb))
VIRT_FN(int, virConnectGetAllDomainStats, (virConnectPtr conn, unsigned int stats, virDomainStatsRecordPtr **retStats, unsigned int flags), (conn, stats, retStats, flags))
VIRT_FN(char *, virConnectGetCapabilities, (virConnectPtr conn), (conn))
VIRT_FN(char *, virConnectGetHostname, (virConnectPtr conn), (conn))
VIRT_FN(int, virConnectGetLibVersion, (virConnectPtr conn, unsigned long *libVer), (conn, libVer))
VIRT_FN(const char *, virConnectGetType, (virConnectPtr conn), (conn))
VIRT_FN(int, virConnectIsAlive, (virConnectPtr conn), (conn))
VIRT_FN(int, virConnectListAllDomains, (virConnectPtr conn, virDomainPtr **domains, unsigned int flags), (conn, domains, flags))
VIRT_FN(int, virConnectListAllNetworks, (virConnectPtr conn, virNetworkPtr **nets, unsigned int flags), (conn, nets, flags))
VIRT_FN(int, virConnectListAllStoragePools, (virConnectPtr conn, virStoragePoolPtr **pools, unsigned int flags), (conn, pools, flags))
VIRT_FN(virConnectPtr, virConnectOpenAuth, (const char *name, virConnectAuthPtr auth, unsigned int flags), (name, auth, flags))
VIRT_FN(int, virConnectRef, (virConnectPtr conn), (conn))
VIRT_FN(int, virConnectRegisterCloseCallback, (virConnectPtr conn, virConnectCloseFunc cb, void *opaque, virFreeCallback freecb), (conn, cb, opaque, freecb))
VIRT_FN(int, virConnectSetKeepAlive, (virConnectPtr conn, int interval, unsigned int count), (conn, interval, count))
VIRT_FN(int, virConnectUnregisterCloseCallback, (virConnectPtr conn, virConnectCloseFunc cb), (conn, cb))
VIRT_FN(int, virDomainAbortJob, (virDomainPtr dom), (dom))
VIRT_FN(int, virDomainCreate, (virDomainPtr domain), (domain))
VIRT_FN(virDomainPtr, virDomainDefineXML, (virConnectPtr conn, const char *xml), (conn, xml))
VIRT_FN(int, virDomainDestroy, (virDomainPtr domain), (domain))
VIRT_FN(int, virDomainFree, (virDomainPtr domain), (domain))
VIRT_FN(virConnectPtr, virDomainGetConnect, (virDomainPtr domain), (domain))
VIRT_FN(int, virDomainGetGuestInfo, (virDomainPtr domain, unsigned int types, virTypedParameterPtr *params, int *nparams, unsigned int flags), (domain, types, params, nparams, flags))
VIRT_FN(int, virDomainGetInfo, (virDomainPtr domain, virDomainInfoPtr info), (domain, info))
VIRT_FN(int, virDomainGetJobInfo, (virDomainPtr dom, virDomainJobInfoPtr info), (dom, info))
VIRT_FN(char *, virDomainGetMetadata, (virDomainPtr domain, int type, const char *uri, unsigned int flags), (domain, type, uri, flags))
VIRT_FN(const char *, virDomainGetName, (virDomainPtr domain), (domain))
VIRT_FN(int, virDomainGetState, (virDomainPtr domain, int *state, int *reason, unsigned int flags), (domain, state, reason, flags))
VIRT_FN(int, virDomainGetUUIDString, (virDomainPtr domain, char *buf), (domain, buf))
VIRT_FN(char *, virDomainGetXMLDesc, (virDomainPtr domain, unsigned int flags), (domain, flags))
VIRT_FN(int, virDomainInterfaceAddresses, (virDomainPtr dom, virDomainInterfacePtr **ifaces, unsigned int source, unsigned int flags), (dom, ifaces, source, flags))
VIRT_VOID(virDomainInterfaceFree, (virDomainInterfacePtr iface), (iface))
VIRT_FN(int, virDomainIsActive, (virDomainPtr dom), (dom))
VIRT_FN(int, virDomainIsPersistent, (virDomainPtr dom), (dom))
VIRT_FN(virDomainPtr, virDomainLookupByName, (virConnectPtr conn, const char *name), (conn, name))
VIRT_FN(virDomainPtr, virDomainLookupByUUIDString, (virConnectPtr conn, const char *uuid), (conn, uuid))
VIRT_FN(virDomainPtr, virDomainMigrate3, (virDomainPtr domain, virConnectPtr dconn, virTypedParameterPtr params, unsigned int nparams, unsigned int flags), (domain, dconn, params, nparams, flags))
VIRT_FN(int, virDomainSetAutostart, (virDomainPtr domain, int autostart), (domain, autostart))
VIRT_FN(int, virDomainSetMemoryFlags, (virDomainPtr domain, unsigned long memory, unsigned int flags), (domain, memory, flags))
VIRT_FN(int, virDomainSetMetadata, (virDomainPtr domain, int type, const char *metadata, const char *key, const char *uri, unsigned int flags), (domain, type, metadata, key, uri, flags))
VIRT_FN(int, virDomainSetVcpusFlags, (virDomainPtr domain, unsigned int nvcpus, unsigned int flags), (domain, nvcpus, flags))
VIRT_FN(int, virDomainShutdown, (virDomainPtr domain), (domain))
VIRT_VOID(virDomainStatsRecordListFree, (virDomainStatsRecordPtr *stats), (stats))
VIRT_FN(int, virDomainUndefine, (virDomainPtr domain), (domain))
VIRT_FN(int, virDomainUndefineFlags, (virDomainPtr domain, unsigned int flags), (domain, flags))
VIRT_FN(int, virEventAddTimeout, (int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff), (frequency, cb, opaque, ff))
VIRT_FN(int, virEventRegisterDefaultImpl, (void), ())
VIRT_FN(int, virEventRemoveTimeout, (int timer), (timer))
VIRT_FN(int, virEventRunDefaultImpl, (void), ())
VIRT_FN(virErrorPtr, virGetLastError, (void), ())
VIRT_FN(int, virGetLastErrorCode, (void), ())
VIRT_FN(int, virGetVersion, (unsigned long *libVer, const char *type, unsigned long *typeVer), (libVer, type, typeVer))
VIRT_FN(int, virNetworkFree, (virNetworkPtr network), (network))
VIRT_FN(const char *, virNetworkGetName, (virNetworkPtr network), (network))
VIRT_FN(int, virNodeGetInfo, (virConnectPtr conn, virNodeInfoPtr info), (conn, info))
VIRT_FN(int, virStoragePoolCreate, (virStoragePoolPtr pool, unsigned int flags), (pool, flags))
VIRT_FN(int, virStoragePoolFree, (virStoragePoolPtr pool), (pool))
VIRT_FN(const char *, virStoragePoolGetName, (virStoragePoolPtr pool), (pool))
VIRT_FN(int, virStoragePoolIsActive, (virStoragePoolPtr pool), (pool))
VIRT_FN(virStoragePoolPtr, virStoragePoolLookupByName, (virConnectPtr conn, const char *name), (conn, name))
VIRT_FN(virStoragePoolPtr, virStoragePoolLookupByVolume, (virStorageVolPtr vol), (vol))
VIRT_FN(int, virStoragePoolRefresh, (virStoragePoolPtr pool, unsigned int flags), (pool, flags))
VIRT_FN(virStorageVolPtr, virStorageVolCreateXML, (virStoragePoolPtr pool, const char *xmldesc, unsigned int flags), (pool, xmldesc, flags))
VIRT_FN(int, virStorageVolDelete, (virStorageVolPtr vol, unsigned int flags), (vol, flags))
VIRT_FN(int, virStorageVolDownload, (virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset, unsigned long long length, unsigned int flags), (vol, stream, offset, length, flags))
VIRT_FN(int, virStorageVolFree, (virStorageVolPtr vol), (vol))
VIRT_FN(int, virStorageVolGetInfo, (virStorageVolPtr vol, virStorageVolInfoPtr info), (vol, info))
VIRT_FN(int, virStorageVolGetInfoFlags, (virStorageVolPtr vol, virStorageVolInfoPtr info, unsigned int flags), (vol, info, flags))
VIRT_FN(const char *, virStorageVolGetName, (virStorageVolPtr vol), (vol))
VIRT_FN(char *, virStorageVolGetPath, (virStorageVolPtr vol), (vol))
VIRT_FN(char *, virStorageVolGetXMLDesc, (virStorageVolPtr pool, unsigned int flags), (pool, flags))
VIRT_FN(virStorageVolPtr, virStorageVolLookupByName, (virStoragePoolPtr pool, const char *name), (pool, name))
VIRT_FN(virStorageVolPtr, virStorageVolLookupByPath, (virConnectPtr conn, const char *path), (conn, path))
VIRT_FN(int, virStorageVolUpload, (virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset, unsigned long long length, unsigned int flags), (vol, stream, offset, length, flags))
VIRT_FN(int, virStreamAbort, (virStreamPtr st), (st))
VIRT_FN(int, virStreamFinish, (virStreamPtr st), (st))
VIRT_FN(int, virStreamFree, (virStreamPtr st), (st))
VIRT_FN(virStreamPtr, virStreamNew, (virConnectPtr conn, unsigned int flags), (conn, flags))
VIRT_FN(int, virStreamRecv, (virStreamPtr st, char *data, size_t nbytes), (st, data, nbytes))
VIRT_FN(int, virStreamSend, (virStreamPtr st, const char *data, size_t nbytes), (st, data, nbytes))
VIRT_FN(int, virStreamSendAll, (virStreamPtr st, virStreamSourceFunc handler, void *opaque), (st, handler, opaque))
VIRT_FN(int, virTypedParamsAddString, (virTypedParameterPtr *params, int *nparams, int *maxparams, const char *name, const char *value), (params, nparams, maxparams, name, value))
VIRT_FN(int, virTypedParamsAddULLong, (virTypedParameterPtr *params, int *nparams, int *maxparams, const char *name, unsigned long long value), (params, nparams, maxparams, name, value))
VIRT_VOID(virTypedParamsFree, (virTypedParameterPtr params, int nparams), (params, nparams))
VIRT_FN(int, virTypedParamsGetInt, (virTypedParameterPtr params, int nparams, const char *name, int *value), (params, nparams, name, value))
VIRT_FN(int, virTypedParamsGetString, (virTypedParameterPtr params, int nparams, const char *name, const char **value), (params, nparams, name, value))
VIRT_FN(int, virTypedParamsGetUInt, (virTypedParameterPtr params, int nparams, const char *name, unsigned int *value), (params, nparams, name, value))
VIRT_FN(int, virTypedParamsGetULLong, (virTypedParameterPtr params, int nparams, const char *name, unsigned long long *value), (params, nparams, name, value))
VIRT_FN(int, virInitialize, (void), ())
