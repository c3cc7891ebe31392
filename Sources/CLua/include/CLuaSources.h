#ifndef TAPIR_CLUA_SOURCES_H
#define TAPIR_CLUA_SOURCES_H

/*
 * Lua files read before the process gave up root (`tapir run --user`): the scripts, the
 * packs and the prelude it starts with, which the user it runs as may not be allowed to
 * read. One store for the process, filled before any Lua runs and read on the loop
 * thread after. `require` falls back to it when a module file cannot be read (see
 * clua_libraries.c); the host takes a script's own file from it once, for its first load.
 */

#include <stddef.h>

/* Keeps a copy of `length` bytes of `text` as the source of `path`; a second call for
   the same path replaces the first. Returns 0, or -1 when out of memory. */
int clua_sources_keep(const char *path, const char *text, size_t length);

/* The kept source of `path` (not NUL-terminated), or NULL. */
const char *clua_sources_find(const char *path, size_t *length);

/* Drops the kept source of `path`, if any. */
void clua_sources_forget(const char *path);

#endif
