-- Routes: Lua functions answering a method and an exact path, before the folder's files.
--
--   local router = require "router"
--   router.add("GET", "/hello", function(request)
--     return 200, {["Content-Type"] = "text/plain"}, "hello " .. request.peer.ip .. "\n"
--   end)
--
-- A route's function gets the request ({method, path, query, version, headers (lower-case
-- names), body, peer = {ip, port}}) and returns status, headers (a table, may be nil) and
-- body (a string, may be nil). A GET route answers HEAD too, without its body. An error in
-- it is answered 500 and logged.
local M = {}
local routes = {}  -- path -> method -> function

function M.add(method, path, fn)
  assert(type(method) == "string" and method:match("^%u+$"), "router.add: a method in capitals expected")
  assert(type(path) == "string" and path:sub(1, 1) == "/", "router.add: a path starting with '/' expected")
  assert(type(fn) == "function", "router.add: a function expected")
  routes[path] = routes[path] or {}
  routes[path][method] = fn
end

-- The function for method and path, or nil and the methods the path has (nil: no route).
function M.find(method, path)
  local methods = routes[path]
  if not methods then return nil end
  local fn = methods[method] or (method == "HEAD" and methods.GET)
  if fn then return fn end
  local allowed = {}
  for name in pairs(methods) do allowed[#allowed + 1] = name end
  if methods.GET and not methods.HEAD then allowed[#allowed + 1] = "HEAD" end
  table.sort(allowed)
  return nil, allowed
end

return M
