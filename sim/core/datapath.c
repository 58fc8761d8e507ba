/* datapath.c - locating bundled data files (see datapath.h). */
#include "datapath.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *kv_data_path(const char *rel, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		char *slash;

		exe[n] = 0;
		/* strip "/kvsim" then "/bin": the tree or prefix the binary lives in */
		if ((slash = strrchr(exe, '/'))) {
			*slash = 0;
			if ((slash = strrchr(exe, '/')))
				*slash = 0;
			snprintf(buf, len, "%s/%s", exe, rel);
			if (!access(buf, R_OK))
				return buf;
			snprintf(buf, len, "%s/share/kvsim/%s", exe, rel);
			if (!access(buf, R_OK))
				return buf;
		}
	}
	snprintf(buf, len, "%s", rel);
	return access(buf, R_OK) ? NULL : buf;
}
