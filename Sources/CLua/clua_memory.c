// The allocator: enforces the per-state memory cap. A refused growth returns NULL (Lua
// then collects garbage, retries, and raises "not enough memory"); a shrink or a free
// never fails, as Lua requires.
#include <stdlib.h>
#include "clua_internal.h"

void *clua_allocate(void *userdata, void *block, size_t old_size, size_t new_size) {
    clua_host *host = userdata;
    if (block == NULL) old_size = 0;  /* then old_size is a type tag, not a size */

    if (new_size == 0) {
        free(block);
        host->memory_used -= old_size;
        return NULL;
    }
    if (new_size > old_size && host->memory_cap != 0
        && host->memory_used + (new_size - old_size) > host->memory_cap) {
        return NULL;
    }
    void *resized = realloc(block, new_size);
    if (resized == NULL) {
        if (new_size <= old_size) return block;  /* keep the old block rather than fail a shrink */
        return NULL;
    }
    host->allocations++;
    if (new_size > old_size) host->bytes_allocated += new_size - old_size;
    host->memory_used = host->memory_used - old_size + new_size;
    if (host->memory_used > host->memory_peak) host->memory_peak = host->memory_used;
    return resized;
}

size_t clua_memory_used(const clua_host *host) { return host->memory_used; }
size_t clua_memory_peak(const clua_host *host) { return host->memory_peak; }
uint64_t clua_allocations(const clua_host *host) { return host->allocations; }
uint64_t clua_bytes_allocated(const clua_host *host) { return host->bytes_allocated; }
void clua_set_memory_cap(clua_host *host, size_t cap) { host->memory_cap = cap; }

static int collect_garbage(lua_State *L) {
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}

int clua_collect_garbage(clua_host *host) {
    clua_result result;
    int status = clua_protected(host, collect_garbage, NULL, 0, &result);
    clua_result_release(host, &result);
    return status;
}
