// The store of Lua sources read before dropping root (CLuaSources.h): a short list
// searched by path, only when a file cannot be read from disk.
#include <stdlib.h>
#include <string.h>
#include "CLuaSources.h"

typedef struct kept_source {
    char *path;
    char *text;
    size_t length;
} kept_source;

static kept_source *sources;
static size_t source_count;
static size_t source_capacity;

static kept_source *find(const char *path) {
    for (size_t i = 0; i < source_count; i++)
        if (strcmp(sources[i].path, path) == 0) return &sources[i];
    return NULL;
}

int clua_sources_keep(const char *path, const char *text, size_t length) {
    char *copy = malloc(length > 0 ? length : 1);
    if (copy == NULL) return -1;
    if (length > 0) memcpy(copy, text, length);
    kept_source *existing = find(path);
    if (existing != NULL) {
        free(existing->text);
        existing->text = copy;
        existing->length = length;
        return 0;
    }
    if (source_count == source_capacity) {
        size_t capacity = source_capacity == 0 ? 64 : source_capacity * 2;
        kept_source *grown = realloc(sources, capacity * sizeof *grown);
        if (grown == NULL) {
            free(copy);
            return -1;
        }
        sources = grown;
        source_capacity = capacity;
    }
    char *path_copy = strdup(path);
    if (path_copy == NULL) {
        free(copy);
        return -1;
    }
    sources[source_count++] = (kept_source){ .path = path_copy, .text = copy, .length = length };
    return 0;
}

const char *clua_sources_find(const char *path, size_t *length) {
    kept_source *source = find(path);
    if (source == NULL) return NULL;
    *length = source->length;
    return source->text;
}

void clua_sources_forget(const char *path) {
    kept_source *source = find(path);
    if (source == NULL) return;
    free(source->path);
    free(source->text);
    *source = sources[--source_count];
}
