// The allocator: enforces the per-state memory cap. A refused growth returns NULL (Lua
// then collects garbage, retries, and raises "not enough memory"); a shrink or a free
// never fails, as Lua requires. Small blocks (most of what a handler makes: a table, a
// reply string) are kept when freed and handed out again, rather than going through
// malloc and free each time: the collector frees them by the thousand, and the next
// packets make the same sizes again.
#include <stdlib.h>
#include <string.h>
#include "clua_internal.h"

#define SMALL_LIMIT (CLUA_SMALL_CLASSES * CLUA_SMALL_STEP)

/* The class of a small size (1...SMALL_LIMIT); its blocks hold (class + 1) steps. */
static size_t small_class(size_t size) { return (size - 1) / CLUA_SMALL_STEP; }
static size_t class_bytes(size_t class) { return (class + 1) * CLUA_SMALL_STEP; }

/* A block of `size` bytes, a small one rounded up to its class (so that any block Lua
   holds of a small size can serve its class when freed). */
static void *resize_block(clua_host *host, void *block, size_t old_size, size_t new_size) {
    if (new_size <= SMALL_LIMIT) {
        size_t class = small_class(new_size);
        if (block == NULL && host->small_blocks[class] != NULL) {
            void *kept = host->small_blocks[class];
            memcpy(&host->small_blocks[class], kept, sizeof(void *));
            host->small_bytes -= class_bytes(class);
            return kept;
        }
        if (block != NULL && old_size <= SMALL_LIMIT && small_class(old_size) == class) return block;
        new_size = class_bytes(class);
    }
    return realloc(block, new_size);
}

static void free_block(clua_host *host, void *block, size_t size) {
    if (block == NULL) return;
    if (size > 0 && size <= SMALL_LIMIT && host->small_bytes + class_bytes(small_class(size)) <= CLUA_SMALL_KEPT) {
        size_t class = small_class(size);
        memcpy(block, &host->small_blocks[class], sizeof(void *));
        host->small_blocks[class] = block;
        host->small_bytes += class_bytes(class);
        return;
    }
    free(block);
}

void clua_free_small_blocks(clua_host *host) {
    for (size_t class = 0; class < CLUA_SMALL_CLASSES; class++) {
        while (host->small_blocks[class] != NULL) {
            void *block = host->small_blocks[class];
            memcpy(&host->small_blocks[class], block, sizeof(void *));
            free(block);
        }
    }
    host->small_bytes = 0;
}

void *clua_allocate(void *userdata, void *block, size_t old_size, size_t new_size) {
    clua_host *host = userdata;
    if (block == NULL) old_size = 0;  /* then old_size is a type tag, not a size */

    if (new_size == 0) {
        free_block(host, block, old_size);
        host->memory_used -= old_size;
        return NULL;
    }
    if (new_size > old_size && host->memory_cap != 0
        && host->memory_used + (new_size - old_size) > host->memory_cap) {
        return NULL;
    }
    void *resized = resize_block(host, block, old_size, new_size);
    if (resized == NULL && host->small_bytes > 0) {  /* the kept blocks back to malloc first */
        clua_free_small_blocks(host);
        resized = resize_block(host, block, old_size, new_size);
    }
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
