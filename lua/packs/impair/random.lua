-- A seeded random number generator of its own, so a seed makes a run repeatable: xoshiro256**
-- (Blackman and Vigna, https://prng.di.unimi.it/xoshiro256starstar.c) on Lua's 64-bit
-- integers, its state filled by splitmix64 from the seed, as its authors advise. Lua's own
-- math.random is one generator shared by the whole state; each user of this one has its
-- own stream.
local Random = {}
Random.__index = Random

local function rotl(x, k)
  return (x << k) | (x >> (64 - k))
end

-- splitmix64: the next state and output from a 64-bit state.
local function splitmix64(x)
  x = x + 0x9e3779b97f4a7c15
  local z = x
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return x, z ~ (z >> 31)
end

-- A generator for `seed` (an integer); `stream` (an integer, default 0) picks one of many
-- independent streams from the same seed.
function Random.new(seed, stream)
  local x = seed ~ ((stream or 0) * 0x632be59bd9b4e019)
  local s = {}
  for i = 1, 4 do x, s[i] = splitmix64(x) end
  return setmetatable({s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4]}, Random)
end

-- The next 64-bit output, as a Lua integer (negative when its top bit is set).
function Random:next()
  local s1, s2, s3, s4 = self.s1, self.s2, self.s3, self.s4
  local result = rotl(s2 * 5, 7) * 9
  local t = s2 << 17
  s3 = s3 ~ s1
  s4 = s4 ~ s2
  s2 = s2 ~ s3
  s1 = s1 ~ s4
  s3 = s3 ~ t
  s4 = rotl(s4, 45)
  self.s1, self.s2, self.s3, self.s4 = s1, s2, s3, s4
  return result
end

-- A float in [0, 1): the top 53 bits.
function Random:uniform()
  return (self:next() >> 11) * 0x1p-53
end

-- True with `percent` percent probability (0 never, 100 always).
function Random:chance(percent)
  return self:uniform() * 100 < percent
end

-- An integer in [0, n).
function Random:below(n)
  return math.floor(self:uniform() * n)
end

-- A standard normal deviate (mean 0, standard deviation 1), by Box-Muller.
function Random:normal()
  local u1 = 1 - self:uniform()  -- (0, 1]: log(0) is never taken
  local u2 = self:uniform()
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- A Pareto deviate (shape 3) scaled to mean 0 and standard deviation 1: most values a
-- little under the mean, a long tail above it (Pareto(3) has mean 1.5, deviation sqrt(3)/2).
local PARETO_SHAPE, PARETO_MEAN, PARETO_DEVIATION = 3, 1.5, math.sqrt(3) / 2
function Random:pareto()
  local x = (1 - self:uniform()) ^ (-1 / PARETO_SHAPE)
  return (x - PARETO_MEAN) / PARETO_DEVIATION
end

return Random
