/* trace_kvt.c - the binary trace cache (see trace_kvt.h). Placeholder until `convert`
 * lands: a .kvt is recognised and refused with a clear message. */
#include "trace_kvt.h"

int trace_load_kvt(const char *path, const struct kv_load_opts *opts, struct kv_trace **out,
		   struct kv_err *err)
{
	(void)opts;
	*out = NULL;
	return kv_fail(err, KV_EINPUT, "%s:1: .kvt files are not supported by this build", path);
}

int trace_save_kvt(const struct kv_trace *t, const char *path, struct kv_err *err)
{
	(void)t;
	return kv_fail(err, KV_ERUNTIME, "%s: .kvt output is not supported by this build", path);
}
