-- Token buckets by key (a source address): each holds up to `burst` tokens and gains
-- `rate` a second; a packet takes one.
local TokenBuckets = {}
TokenBuckets.__index = TokenBuckets

-- At most this many sources get a bucket of their own; beyond, they share one.
local MAX_SOURCES = 4096
local SHARED = "(other sources)"

function TokenBuckets.new(rate, burst)
  return setmetatable({buckets = {}, per_ms = rate / 1000, burst = burst, size = 0}, TokenBuckets)
end

-- True when `key` may send one packet at `now` (ms), taking a token.
function TokenBuckets:take(key, now)
  local bucket = self.buckets[key]
  if not bucket then
    if self.size >= MAX_SOURCES then self:sweep(now) end
    if self.size >= MAX_SOURCES then key = SHARED end
    bucket = self.buckets[key]
    if not bucket then
      bucket = {tokens = self.burst, at = now}
      self.buckets[key] = bucket
      self.size = self.size + 1
    end
  end
  local tokens = math.min(self.burst, bucket.tokens + (now - bucket.at) * self.per_ms)
  bucket.at = now
  if tokens < 1 then
    bucket.tokens = tokens
    return false
  end
  bucket.tokens = tokens - 1
  return true
end

-- Forgets the buckets that have filled up again (a source quiet long enough).
function TokenBuckets:sweep(now)
  for key, bucket in pairs(self.buckets) do
    if bucket.tokens + (now - bucket.at) * self.per_ms >= self.burst then
      self.buckets[key] = nil
      self.size = self.size - 1
    end
  end
end

return TokenBuckets
