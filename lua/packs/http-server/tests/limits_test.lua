-- Small limits, so each is passed by a few bytes.
test.settings{max_body = 100, max_header = 200, max_line = 120, idle = 500, header_timeout = 300, max_requests = 3}
local client = require "support.client"

function test_a_body_over_the_limit_is_413_and_not_read()
  local peer = client.connect()
  local response = client.exchange(peer, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")
  test.equal(response.status, 413)
  test.equal(response.headers["connection"], "close")
  peer = client.connect()
  test.equal(client.exchange(peer, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
                                   .. string.rep("x", 100)).status, 200, "at the limit")
  peer = client.connect()
  response = client.exchange(peer, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   .. "40\r\n" .. string.rep("y", 64) .. "\r\n40\r\n" .. string.rep("y", 64) .. "\r\n0\r\n\r\n")
  test.equal(response.status, 413, "chunked")
end

function test_a_header_section_over_the_limit_is_431()
  local peer = client.connect()
  local response = client.exchange(peer, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " .. string.rep("z", 180) .. "\r\n\r\n")
  test.equal(response.status, 431)
  peer:run(10)
  test.expect(peer.fin, "closed")
  peer = client.connect()
  test.equal(client.exchange(peer, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " .. string.rep("z", 140) .. "\r\n\r\n").status,
             200, "under the limit")
end

function test_a_request_line_over_the_limit_is_414()
  local peer = client.connect()
  test.equal(client.exchange(peer, "GET /" .. string.rep("a", 120) .. " HTTP/1.1\r\nHost: t\r\n\r\n").status, 414)
end

function test_an_idle_connection_is_closed()
  local peer = client.connect()
  test.equal(client.exchange(peer, client.get("/")).status, 200)
  peer:run(450)
  test.equal(peer.fin, false, "still open before the idle time")
  peer:run(100)
  test.expect(peer.fin, "closed after the idle time")
  test.equal(peer.received, "", "without a word")
end

function test_a_slow_header_section_is_408()
  local peer = client.connect()
  peer:send("GET / HTTP/1.1\r\n")
  for _ = 1, 5 do  -- a byte every 50 ms: each receive is quick, the section is not
    peer:send("X")
    peer:run(50)
  end
  local response = client.response(peer, false, 200)
  test.equal(response and response.status, 408, string.format("%q fin=%s reset=%s", peer.received, peer.fin, peer.reset))
  peer:run(10)
  test.expect(peer.fin, "closed")
end

function test_a_connection_closes_after_max_requests()
  local peer = client.connect()
  test.equal(client.exchange(peer, client.get("/")).headers["connection"], nil)
  test.equal(client.exchange(peer, client.get("/")).headers["connection"], nil)
  test.equal(client.exchange(peer, client.get("/")).headers["connection"], "close")
  peer:run(10)
  test.expect(peer.fin, "closed")
end
