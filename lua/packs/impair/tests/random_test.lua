-- The generator against the reference C code of xoshiro256** (prng.di.unimi.it), its state
-- filled by the reference splitmix64 from 42: the first five outputs, as that code prints them.
-- The pack's modules sit beside tests/, and this folder comes first in package.path.
package.path = package.path:gsub("^(.-)tests/%?%.lua", "%1?.lua;%0", 1)
local Random = require "random"
test.devices(2)  -- the pack itself loads for each test, and needs its two

function test_xoshiro256starstar_matches_the_reference_code()
  local random = Random.new(42)
  local expected = {"15780b2e0c2ec716", "6104d9866d113a7e", "ae17533239e499a1", "ecb8ad4703b360a1",
                    "fde6dc7fe2ec5e64"}
  for i, want in ipairs(expected) do
    test.equal(string.format("%016x", random:next()), want, "output " .. i)
  end
end

function test_the_same_seed_gives_the_same_stream_and_streams_differ()
  local a, b, c = Random.new(7, 3), Random.new(7, 3), Random.new(7, 4)
  local same, differ = true, false
  for _ = 1, 100 do
    local x, y, z = a:next(), b:next(), c:next()
    same = same and x == y
    differ = differ or x ~= z
  end
  test.expect(same, "seed 7 stream 3 twice")
  test.expect(differ, "stream 4 is another stream")
end

-- Over 30,000 draws each distribution has the mean and deviation it promises (within
-- 3%; the standard error of a mean of 30,000 unit deviates is 0.6%).
local function moments(draw)
  local n, sum, squares = 30000, 0, 0
  for _ = 1, n do
    local x = draw()
    sum, squares = sum + x, squares + x * x
  end
  local mean = sum / n
  return mean, math.sqrt(squares / n - mean * mean)
end

function test_distributions_have_their_moments()
  local random = Random.new(1)
  local mean, deviation = moments(function() return random:uniform() end)
  test.expect(math.abs(mean - 0.5) < 0.005 and math.abs(deviation - math.sqrt(1 / 12)) < 0.005,
              string.format("uniform: mean %.4f deviation %.4f", mean, deviation))
  mean, deviation = moments(function() return random:normal() end)
  test.expect(math.abs(mean) < 0.03 and math.abs(deviation - 1) < 0.03,
              string.format("normal: mean %.4f deviation %.4f", mean, deviation))
  mean = moments(function() return random:pareto() end)
  test.expect(math.abs(mean) < 0.03, string.format("pareto: mean %.4f", mean))
end

function test_uniform_stays_in_range_and_below_covers_it()
  local random, seen = Random.new(3), {}
  for _ = 1, 1000 do
    local u = random:uniform()
    test.expect(u >= 0 and u < 1)
    seen[random:below(8)] = true
  end
  for bit = 0, 7 do test.expect(seen[bit], "below(8) gives " .. bit) end
  test.equal(seen[8], nil)
end
