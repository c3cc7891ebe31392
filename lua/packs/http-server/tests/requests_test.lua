local client = require "support.client"
local tcp = require "tapir.testing.tcp"
local config = test.config

function test_its_port_answers_a_syn_with_a_syn_ack_from_its_address()
  local peer = client.connect()
  test.equal(peer.syn_ack.flags, 0x12)
  test.equal(peer.syn_ack.ack, 1001)
end

function test_a_file_comes_whole_with_its_type_and_length()
  local peer = client.connect()
  local response = client.exchange(peer, client.get("/style.css"))
  test.equal(response.status, 200)
  test.equal(response.body, config.root["/style.css"])
  test.equal(response.headers["content-type"], "text/css; charset=utf-8")
  test.equal(tonumber(response.headers["content-length"]), #config.root["/style.css"])
  test.expect(response.headers["date"]:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"), "an IMF-fixdate")
  test.equal(peer.fin, false, "the connection stays open")
end

function test_a_slash_is_the_index_file()
  local peer = client.connect()
  local response = client.exchange(peer, client.get("/"))
  test.equal(response.status, 200)
  test.equal(response.body, config.root["/index.html"])
  test.equal(response.headers["content-type"], "text/html; charset=utf-8")
end

function test_a_persistent_connection_serves_one_request_after_another()
  local peer = client.connect()
  for i = 1, 5 do
    local response = client.exchange(peer, client.get(i % 2 == 0 and "/" or "/style.css"))
    test.equal(response.status, 200, "request " .. i)
  end
  test.equal(peer.fin, false)
  test.equal(#tcp.others, 0, "nothing but the connection's segments")
end

function test_pipelined_requests_are_answered_in_order()
  local peer = client.connect()
  peer:send(client.get("/style.css") .. "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" .. client.get("/missing")
            .. client.get("/"))
  local first = client.response(peer)
  local second = client.response(peer, true)
  local third = client.response(peer)
  local fourth = client.response(peer)
  test.equal(first.status, 200)
  test.equal(first.body, config.root["/style.css"])
  test.equal(second.status, 200)
  test.equal(tonumber(second.headers["content-length"]), #config.root["/index.html"])
  test.equal(third.status, 404)
  test.equal(fourth.body, config.root["/index.html"])
end

function test_head_gives_the_headers_of_get_and_no_body()
  local peer = client.connect()
  local response = client.exchange(peer, "HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n", true)
  test.equal(response.status, 200)
  test.equal(tonumber(response.headers["content-length"]), #config.root["/style.css"])
  test.equal(response.body, "")
  peer:run(10)
  test.equal(peer.received, "", "no body after the headers")
end

function test_a_missing_file_is_404_and_the_connection_goes_on()
  local peer = client.connect()
  test.equal(client.exchange(peer, client.get("/nope.html")).status, 404)
  test.equal(client.exchange(peer, client.get("/%73tyle.css")).status, 200, "percent-decoded")
  test.equal(client.exchange(peer, client.get("/../../etc/passwd")).status, 404, "nothing outside the folder")
end

function test_other_methods_on_a_file_are_405_with_allow()
  local peer = client.connect()
  local response = client.exchange(peer, "DELETE /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
  test.equal(response.status, 405)
  test.equal(response.headers["allow"], "GET, HEAD")
  response = client.exchange(peer, client.get("/echo"))
  test.equal(response.status, 405, "a route's path with another method")
  test.equal(response.headers["allow"], "POST")
end

function test_a_malformed_request_is_400_and_closes()
  for _, request in ipairs{"GET /\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
                           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                           "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n"} do
    local peer = client.connect()
    local response = client.exchange(peer, request)
    test.equal(response and response.status, 400, request)
    test.equal(response.headers["connection"], "close")
    peer:run(10)
    test.expect(peer.fin, "closed after " .. request)
  end
end

function test_http_1_0_closes_unless_asked_to_keep_alive()
  local peer = client.connect()
  local response = client.exchange(peer, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
  test.equal(response.status, 200)
  test.equal(response.headers["connection"], "keep-alive")
  response = client.exchange(peer, "GET / HTTP/1.0\r\n\r\n")
  test.equal(response.status, 200)
  test.equal(response.headers["connection"], "close")
  peer:run(10)
  test.expect(peer.fin, "closed after an HTTP/1.0 request without keep-alive")
end

function test_connection_close_is_honoured()
  local peer = client.connect()
  local response = client.exchange(peer, client.get("/", "Connection: close\r\n"))
  test.equal(response.headers["connection"], "close")
  peer:run(10)
  test.expect(peer.fin, "closed")
end

function test_http_2_is_505()
  local peer = client.connect()
  test.equal(client.exchange(peer, "GET / HTTP/2.0\r\nHost: t\r\n\r\n").status, 505)
end

function test_a_route_gets_the_body_by_length_or_chunked()
  local peer = client.connect()
  local response = client.exchange(peer, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\n"
                                         .. "Content-Length: 11\r\n\r\nhello world")
  test.equal(response.status, 200)
  test.equal(response.body, "hello world")
  test.equal(response.headers["content-type"], "text/x-test")
  response = client.exchange(peer, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   .. "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n")
  test.equal(response.body, "hello world", "chunked")
  test.equal(client.exchange(peer, client.get("/")).status, 200, "the connection goes on")
end

function test_expect_100_continue_gets_its_interim_answer()
  local peer = client.connect()
  peer:send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
  test.equal(peer:read_until(function(data) return data:find("\r\n\r\n", 1, true) end) and peer:take(),
             "HTTP/1.1 100 Continue\r\n\r\n")
  test.equal(client.exchange(peer, "abc").body, "abc")
end

function test_status_counts_requests_by_answer()
  local peer = client.connect()
  client.exchange(peer, client.get("/"))
  client.exchange(peer, client.get("/nope"))
  local response = client.exchange(peer, client.get("/status"))
  test.equal(response.headers["content-type"], "application/json")
  test.expect(response.body:find('"404": 1', 1, true), response.body)
  test.expect(response.body:find('"requests": 3', 1, true), response.body)
end
