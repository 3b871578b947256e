/*
 * virt_load.c - libvirt, opened on its first call (lazy.h). Opening it
 * sets the quiet error handler (errors are read where they happen and
 * turned into vem errors) and initialises libvirt.
 */
#include "lazy.h"
#include "apply.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>

#define VIRT_SONAME "libvirt.so.0"

/* libvirt's, copied when it is opened (hv/session.c calls virInitialize
 * before reading it) */
virConnectAuthPtr virConnectAuthPtrDefault;

static void virt_quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

static void virt_opened(void *virt)
{
	void (*set_error_func)(void *, virErrorFunc);
	int (*initialize)(void);

	set_error_func = (void (*)(void *, virErrorFunc))lazy_sym(virt, VIRT_SONAME, "virSetErrorFunc");
	initialize = (int (*)(void))lazy_sym(virt, VIRT_SONAME, "virInitialize");
	virConnectAuthPtrDefault =
		*(virConnectAuthPtr *)lazy_sym(virt, VIRT_SONAME, "virConnectAuthPtrDefault");
	set_error_func(NULL, virt_quiet);
	if (initialize() < 0) {
		fprintf(stderr, "vem: cannot initialise libvirt\n");
		exit(VEM_EXIT_ERROR);
	}
}

LAZY_LIBRARY(virt_sym, VIRT_SONAME, virt_opened)

LAZY_FN(virt_sym, int, virConnectClose, (virConnectPtr conn), (conn))
LAZY_FN(virt_sym, int, virConnectDomainEventDeregisterAny,
	(virConnectPtr conn, int callbackID),
	(conn, callbackID))
LAZY_FN(virt_sym, int, virConnectDomainEventRegisterAny,
	(virConnectPtr conn, virDomainPtr dom, int eventID,
	 virConnectDomainEventGenericCallback cb, void *opaque, virFreeCallback freecb),
	(conn, dom, eventID, cb, opaque, freecb))
LAZY_FN(virt_sym, int, virConnectGetAllDomainStats,
	(virConnectPtr conn, unsigned int stats, virDomainStatsRecordPtr **retStats,
	 unsigned int flags),
	(conn, stats, retStats, flags))
LAZY_FN(virt_sym, char *, virConnectGetCapabilities, (virConnectPtr conn), (conn))
LAZY_FN(virt_sym, char *, virConnectGetHostname, (virConnectPtr conn), (conn))
LAZY_FN(virt_sym, int, virConnectGetLibVersion,
	(virConnectPtr conn, unsigned long *libVer),
	(conn, libVer))
LAZY_FN(virt_sym, const char *, virConnectGetType, (virConnectPtr conn), (conn))
LAZY_FN(virt_sym, int, virConnectIsAlive, (virConnectPtr conn), (conn))
LAZY_FN(virt_sym, int, virConnectListAllDomains,
	(virConnectPtr conn, virDomainPtr **domains, unsigned int flags),
	(conn, domains, flags))
LAZY_FN(virt_sym, int, virConnectListAllNetworks,
	(virConnectPtr conn, virNetworkPtr **nets, unsigned int flags),
	(conn, nets, flags))
LAZY_FN(virt_sym, int, virConnectListAllStoragePools,
	(virConnectPtr conn, virStoragePoolPtr **pools, unsigned int flags),
	(conn, pools, flags))
LAZY_FN(virt_sym, virConnectPtr, virConnectOpenAuth,
	(const char *name, virConnectAuthPtr auth, unsigned int flags),
	(name, auth, flags))
LAZY_FN(virt_sym, int, virConnectRef, (virConnectPtr conn), (conn))
LAZY_FN(virt_sym, int, virConnectRegisterCloseCallback,
	(virConnectPtr conn, virConnectCloseFunc cb, void *opaque, virFreeCallback freecb),
	(conn, cb, opaque, freecb))
LAZY_FN(virt_sym, int, virConnectSetKeepAlive,
	(virConnectPtr conn, int interval, unsigned int count),
	(conn, interval, count))
LAZY_FN(virt_sym, int, virConnectUnregisterCloseCallback,
	(virConnectPtr conn, virConnectCloseFunc cb),
	(conn, cb))
LAZY_FN(virt_sym, int, virDomainAbortJob, (virDomainPtr dom), (dom))
LAZY_FN(virt_sym, int, virDomainCreate, (virDomainPtr domain), (domain))
LAZY_FN(virt_sym, virDomainPtr, virDomainDefineXML,
	(virConnectPtr conn, const char *xml),
	(conn, xml))
LAZY_FN(virt_sym, int, virDomainDestroy, (virDomainPtr domain), (domain))
LAZY_FN(virt_sym, int, virDomainFree, (virDomainPtr domain), (domain))
LAZY_FN(virt_sym, virConnectPtr, virDomainGetConnect, (virDomainPtr domain), (domain))
LAZY_FN(virt_sym, int, virDomainGetGuestInfo,
	(virDomainPtr domain, unsigned int types, virTypedParameterPtr *params, int *nparams,
	 unsigned int flags),
	(domain, types, params, nparams, flags))
LAZY_FN(virt_sym, int, virDomainGetInfo,
	(virDomainPtr domain, virDomainInfoPtr info),
	(domain, info))
LAZY_FN(virt_sym, int, virDomainGetJobInfo,
	(virDomainPtr dom, virDomainJobInfoPtr info),
	(dom, info))
LAZY_FN(virt_sym, char *, virDomainGetMetadata,
	(virDomainPtr domain, int type, const char *uri, unsigned int flags),
	(domain, type, uri, flags))
LAZY_FN(virt_sym, const char *, virDomainGetName, (virDomainPtr domain), (domain))
LAZY_FN(virt_sym, int, virDomainGetState,
	(virDomainPtr domain, int *state, int *reason, unsigned int flags),
	(domain, state, reason, flags))
LAZY_FN(virt_sym, int, virDomainGetUUIDString, (virDomainPtr domain, char *buf), (domain, buf))
LAZY_FN(virt_sym, char *, virDomainGetXMLDesc,
	(virDomainPtr domain, unsigned int flags),
	(domain, flags))
LAZY_FN(virt_sym, int, virDomainInterfaceAddresses,
	(virDomainPtr dom, virDomainInterfacePtr **ifaces, unsigned int source, unsigned int flags),
	(dom, ifaces, source, flags))
LAZY_VOID(virt_sym, virDomainInterfaceFree, (virDomainInterfacePtr iface), (iface))
LAZY_FN(virt_sym, int, virDomainIsActive, (virDomainPtr dom), (dom))
LAZY_FN(virt_sym, int, virDomainIsPersistent, (virDomainPtr dom), (dom))
LAZY_FN(virt_sym, virDomainPtr, virDomainLookupByName,
	(virConnectPtr conn, const char *name),
	(conn, name))
LAZY_FN(virt_sym, virDomainPtr, virDomainLookupByUUIDString,
	(virConnectPtr conn, const char *uuid),
	(conn, uuid))
LAZY_FN(virt_sym, virDomainPtr, virDomainMigrate3,
	(virDomainPtr domain, virConnectPtr dconn, virTypedParameterPtr params,
	 unsigned int nparams, unsigned int flags),
	(domain, dconn, params, nparams, flags))
LAZY_FN(virt_sym, int, virDomainSetAutostart,
	(virDomainPtr domain, int autostart),
	(domain, autostart))
LAZY_FN(virt_sym, int, virDomainSetMemoryFlags,
	(virDomainPtr domain, unsigned long memory, unsigned int flags),
	(domain, memory, flags))
LAZY_FN(virt_sym, int, virDomainSetMetadata,
	(virDomainPtr domain, int type, const char *metadata, const char *key, const char *uri,
	 unsigned int flags),
	(domain, type, metadata, key, uri, flags))
LAZY_FN(virt_sym, int, virDomainSetVcpusFlags,
	(virDomainPtr domain, unsigned int nvcpus, unsigned int flags),
	(domain, nvcpus, flags))
LAZY_FN(virt_sym, int, virDomainShutdown, (virDomainPtr domain), (domain))
LAZY_VOID(virt_sym, virDomainStatsRecordListFree, (virDomainStatsRecordPtr *stats), (stats))
LAZY_FN(virt_sym, int, virDomainUndefine, (virDomainPtr domain), (domain))
LAZY_FN(virt_sym, int, virDomainUndefineFlags,
	(virDomainPtr domain, unsigned int flags),
	(domain, flags))
LAZY_FN(virt_sym, int, virEventAddTimeout,
	(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff),
	(frequency, cb, opaque, ff))
LAZY_FN(virt_sym, int, virEventRegisterDefaultImpl, (void), ())
LAZY_FN(virt_sym, int, virEventRemoveTimeout, (int timer), (timer))
LAZY_FN(virt_sym, int, virEventRunDefaultImpl, (void), ())
LAZY_FN(virt_sym, virErrorPtr, virGetLastError, (void), ())
LAZY_FN(virt_sym, int, virGetLastErrorCode, (void), ())
LAZY_FN(virt_sym, int, virGetVersion,
	(unsigned long *libVer, const char *type, unsigned long *typeVer),
	(libVer, type, typeVer))
LAZY_FN(virt_sym, int, virNetworkFree, (virNetworkPtr network), (network))
LAZY_FN(virt_sym, const char *, virNetworkGetName, (virNetworkPtr network), (network))
LAZY_FN(virt_sym, int, virNodeGetInfo, (virConnectPtr conn, virNodeInfoPtr info), (conn, info))
LAZY_FN(virt_sym, int, virStoragePoolCreate,
	(virStoragePoolPtr pool, unsigned int flags),
	(pool, flags))
LAZY_FN(virt_sym, int, virStoragePoolFree, (virStoragePoolPtr pool), (pool))
LAZY_FN(virt_sym, const char *, virStoragePoolGetName, (virStoragePoolPtr pool), (pool))
LAZY_FN(virt_sym, int, virStoragePoolIsActive, (virStoragePoolPtr pool), (pool))
LAZY_FN(virt_sym, virStoragePoolPtr, virStoragePoolLookupByName,
	(virConnectPtr conn, const char *name),
	(conn, name))
LAZY_FN(virt_sym, virStoragePoolPtr, virStoragePoolLookupByVolume, (virStorageVolPtr vol), (vol))
LAZY_FN(virt_sym, int, virStoragePoolRefresh,
	(virStoragePoolPtr pool, unsigned int flags),
	(pool, flags))
LAZY_FN(virt_sym, virStorageVolPtr, virStorageVolCreateXML,
	(virStoragePoolPtr pool, const char *xmldesc, unsigned int flags),
	(pool, xmldesc, flags))
LAZY_FN(virt_sym, int, virStorageVolDelete,
	(virStorageVolPtr vol, unsigned int flags),
	(vol, flags))
LAZY_FN(virt_sym, int, virStorageVolDownload,
	(virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset,
	 unsigned long long length, unsigned int flags),
	(vol, stream, offset, length, flags))
LAZY_FN(virt_sym, int, virStorageVolFree, (virStorageVolPtr vol), (vol))
LAZY_FN(virt_sym, int, virStorageVolGetInfo,
	(virStorageVolPtr vol, virStorageVolInfoPtr info),
	(vol, info))
LAZY_FN(virt_sym, int, virStorageVolGetInfoFlags,
	(virStorageVolPtr vol, virStorageVolInfoPtr info, unsigned int flags),
	(vol, info, flags))
LAZY_FN(virt_sym, const char *, virStorageVolGetName, (virStorageVolPtr vol), (vol))
LAZY_FN(virt_sym, char *, virStorageVolGetPath, (virStorageVolPtr vol), (vol))
LAZY_FN(virt_sym, char *, virStorageVolGetXMLDesc,
	(virStorageVolPtr pool, unsigned int flags),
	(pool, flags))
LAZY_FN(virt_sym, virStorageVolPtr, virStorageVolLookupByName,
	(virStoragePoolPtr pool, const char *name),
	(pool, name))
LAZY_FN(virt_sym, virStorageVolPtr, virStorageVolLookupByPath,
	(virConnectPtr conn, const char *path),
	(conn, path))
LAZY_FN(virt_sym, int, virStorageVolUpload,
	(virStorageVolPtr vol, virStreamPtr stream, unsigned long long offset,
	 unsigned long long length, unsigned int flags),
	(vol, stream, offset, length, flags))
LAZY_FN(virt_sym, int, virStreamAbort, (virStreamPtr st), (st))
LAZY_FN(virt_sym, int, virStreamFinish, (virStreamPtr st), (st))
LAZY_FN(virt_sym, int, virStreamFree, (virStreamPtr st), (st))
LAZY_FN(virt_sym, virStreamPtr, virStreamNew,
	(virConnectPtr conn, unsigned int flags),
	(conn, flags))
LAZY_FN(virt_sym, int, virStreamRecv,
	(virStreamPtr st, char *data, size_t nbytes),
	(st, data, nbytes))
LAZY_FN(virt_sym, int, virStreamSend,
	(virStreamPtr st, const char *data, size_t nbytes),
	(st, data, nbytes))
LAZY_FN(virt_sym, int, virStreamSendAll,
	(virStreamPtr st, virStreamSourceFunc handler, void *opaque),
	(st, handler, opaque))
LAZY_FN(virt_sym, int, virTypedParamsAddString,
	(virTypedParameterPtr *params, int *nparams, int *maxparams, const char *name,
	 const char *value),
	(params, nparams, maxparams, name, value))
LAZY_FN(virt_sym, int, virTypedParamsAddULLong,
	(virTypedParameterPtr *params, int *nparams, int *maxparams, const char *name,
	 unsigned long long value),
	(params, nparams, maxparams, name, value))
LAZY_VOID(virt_sym, virTypedParamsFree,
	(virTypedParameterPtr params, int nparams),
	(params, nparams))
LAZY_FN(virt_sym, int, virTypedParamsGetInt,
	(virTypedParameterPtr params, int nparams, const char *name, int *value),
	(params, nparams, name, value))
LAZY_FN(virt_sym, int, virTypedParamsGetString,
	(virTypedParameterPtr params, int nparams, const char *name, const char **value),
	(params, nparams, name, value))
LAZY_FN(virt_sym, int, virTypedParamsGetUInt,
	(virTypedParameterPtr params, int nparams, const char *name, unsigned int *value),
	(params, nparams, name, value))
LAZY_FN(virt_sym, int, virTypedParamsGetULLong,
	(virTypedParameterPtr params, int nparams, const char *name, unsigned long long *value),
	(params, nparams, name, value))
LAZY_FN(virt_sym, int, virInitialize, (void), ())
