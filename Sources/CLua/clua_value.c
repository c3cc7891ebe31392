// Reading a value kept in the registry back into the host, as text.
#include "clua_internal.h"

typedef struct text_request {
    int reference;
    const char *text;
    size_t length;
} text_request;

static int to_text(lua_State *L) {
    text_request *request = clua_protected_userdata(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, request->reference);
    request->text = luaL_tolstring(L, -1, &request->length);  /* stays on the stack */
    return 1;
}

int clua_reference_text(clua_host *host, int reference, const char **text, size_t *length,
                        clua_result *result) {
    text_request request = { reference, NULL, 0 };
    int status = clua_protected(host, to_text, &request, 1, result);
    *text = request.text;
    *length = request.length;
    return status;
}
