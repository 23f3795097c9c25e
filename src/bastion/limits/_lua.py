"""The Lua scripts of the Redis limits: one per operation, each atomic on the Redis server.

They repeat the arithmetic of :mod:`bastion.limits._bucket` and the rules of
:mod:`bastion.limits.memory` (the shared test suite holds both to the same answers). Numbers are
written with ``%.17g`` so a float survives the round trip exactly; absent limits are passed as
``''`` (``tonumber('')`` is ``nil``). ``now`` is the caller's clock when given (tests), else the
Redis server's ``TIME``, so gateway hosts with skewed clocks still share one timeline.

Each concern is a pair of Lua functions, a check that writes nothing a refusal could regret and a
write, so ``ADMIT`` (rate limits and budgets in one round trip) is the two checks then the two
writes: all or none across every scope of both kinds.

Key layout under the prefix: ``rl:<scope>`` hash of the rpm/tpm levels (``r``, ``rt``, ``t``,
``tt``); ``par:<scope>`` sorted set of parallel leases scored by expiry; ``bud:<scope>`` hash of
spend ``s``, reserved ``r``, latest hold expiry ``rx`` and reset time ``x``; ``hold:<scope>``
sorted set of reservations (``<id>|<amount>``) scored by expiry. Every key gets a TTL on every
write.
"""

from __future__ import annotations

from bastion.limits._bucket import EPSILON, WINDOW
from bastion.limits.admission import PARALLEL_RETRY_AFTER

__all__ = [
    "ACQUIRE",
    "ADMIT",
    "FINISH",
    "PEEK",
    "RELEASE",
    "RENEW",
    "RESERVE",
    "SEED",
    "SETTLE",
]

_COMMON = f"""
local EPS = {EPSILON!r}
local WINDOW = {WINDOW!r}
local function num(x) return string.format('%.17g', x) end
local function clock(arg)
  local now = tonumber(arg)
  if now == nil then
    local t = redis.call('TIME')
    now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  end
  return now
end
local function slice(t, from, to)
  local out = {{}}
  for i = from, to or #t do out[#out + 1] = t[i] end
  return out
end
local function ttl_ms(seconds) return math.ceil(seconds * 1000) + 1000 end
"""

# Rates. K: rl, par per scope. A (acquire): id, tokens, lease, n, then rpm, tpm, parallel per
# scope. The check only prunes expired leases; a refusal counts nothing.
_RATES = f"""
local function drain(level, since, now, limit)
  if limit <= 0 then return level end
  local elapsed = now - since
  if elapsed < 0 then elapsed = 0 end
  local left = level - elapsed * limit / WINDOW
  if left < 0 then return 0 end
  return left
end
-- nil when a request of `cost` passes, -1 when it never can, else the seconds to wait
local function wait(level, cost, limit)
  if limit <= 0 then return -1 end
  local target = limit - cost
  if target < 0 then target = 0 end
  if level <= target + EPS then return nil end
  return (level - target) * WINDOW / limit
end
local function rates_check(K, A, now)
  local tokens, n = tonumber(A[2]), tonumber(A[4])
  local worst, plan = nil, {{}}
  local function consider(i, kind, limit, level, w)
    if w == nil then return end
    if worst == nil or (worst[5] ~= -1 and (w == -1 or w > worst[5])) then
      worst = {{i, kind, limit, level, w}}
    end
  end
  for i = 1, n do
    local base = 4 + (i - 1) * 3
    local p = {{rpm = tonumber(A[base + 1]), tpm = tonumber(A[base + 2]),
               par = tonumber(A[base + 3]), r = 0, t = 0}}
    if p.rpm or p.tpm then
      local v = redis.call('HMGET', K[2 * i - 1], 'r', 'rt', 't', 'tt')
      if p.rpm then
        p.r = drain(tonumber(v[1]) or 0, tonumber(v[2]) or now, now, p.rpm)
        consider(i, 'rpm', p.rpm, p.r, wait(p.r, 1, p.rpm))
      end
      if p.tpm then
        p.t = drain(tonumber(v[3]) or 0, tonumber(v[4]) or now, now, p.tpm)
        consider(i, 'tpm', p.tpm, p.t, wait(p.t, tokens, p.tpm))
      end
    end
    if p.par then
      redis.call('ZREMRANGEBYSCORE', K[2 * i], '-inf', now)
      local count = redis.call('ZCARD', K[2 * i])
      if count >= p.par then consider(i, 'parallel', p.par, count, {PARALLEL_RETRY_AFTER!r}) end
    end
    plan[i] = p
  end
  if worst then return nil, {{0, worst[1], worst[2], num(worst[3]), num(worst[4]), num(worst[5])}} end
  return plan, nil
end
local function rates_write(K, A, now, plan)
  local id, tokens, lease = A[1], tonumber(A[2]), tonumber(A[3])
  local now_s, expiry_s, lease_ms = num(now), num(now + lease), ttl_ms(lease)
  for i, p in ipairs(plan) do
    local rkey, pkey = K[2 * i - 1], K[2 * i]
    if p.rpm and p.tpm then
      redis.call('HSET', rkey, 'r', num(p.r + 1), 'rt', now_s, 't', num(p.t + tokens), 'tt', now_s)
      redis.call('PEXPIRE', rkey, ttl_ms(math.max((p.r + 1) / p.rpm, (p.t + tokens) / p.tpm) * WINDOW))
    elseif p.rpm then
      redis.call('HSET', rkey, 'r', num(p.r + 1), 'rt', now_s)
      redis.call('PEXPIRE', rkey, ttl_ms((p.r + 1) * WINDOW / p.rpm))
    elseif p.tpm then
      redis.call('HSET', rkey, 't', num(p.t + tokens), 'tt', now_s)
      redis.call('PEXPIRE', rkey, ttl_ms((p.t + tokens) * WINDOW / p.tpm))
    end
    if p.par then
      redis.call('ZADD', pkey, expiry_s, id)
      redis.call('PEXPIRE', pkey, lease_ms)
    end
  end
end
-- The levels after a write, per scope: requests then tokens ('-1' for a limit not set), for the
-- rate-limit headers of the answer.
local function rates_levels(plan, tokens)
  local out = {{}}
  for _, p in ipairs(plan) do
    out[#out + 1] = p.rpm and num(p.r + 1) or '-1'
    out[#out + 1] = p.tpm and num(p.t + tokens) or '-1'
  end
  return out
end
-- A (release): id, tokens delta, n, then tpm, parallel per scope.
local function rates_release(K, A, now)
  local id, delta, n = A[1], tonumber(A[2]), tonumber(A[3])
  for i = 1, n do
    local tpm, par = tonumber(A[2 + 2 * i]), tonumber(A[3 + 2 * i])
    local rkey = K[2 * i - 1]
    if tpm and delta ~= 0 then
      local v = redis.call('HMGET', rkey, 't', 'tt')
      local level = drain(tonumber(v[1]) or 0, tonumber(v[2]) or now, now, tpm) + delta
      if level < 0 then level = 0 end
      redis.call('HSET', rkey, 't', num(level), 'tt', num(now))
      local need = ttl_ms(tpm > 0 and level * WINDOW / tpm or 0)
      if redis.call('PTTL', rkey) < need then redis.call('PEXPIRE', rkey, need) end
    end
    if par then redis.call('ZREM', K[2 * i], id) end
  end
end
"""

# Budgets. K: bud, hold per scope. A (reserve): token, amount, lease, idle ms, strict, n, then
# max_budget, next reset per scope. The check rolls windows over and gives back expired holds
# (state a refusal need not regret); with strict (a spend loader is set) unknown scopes are
# reported first, before anything is written, so the caller can load them and retry.
_BUDGETS = """
-- The spend, reservations and whether the scope is known; `rx` is the latest hold expiry.
local function current(bkey, hkey, now, next_reset)
  local v = redis.call('HMGET', bkey, 's', 'r', 'x', 'rx')
  local s, stored_r, x = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3])
  local r = stored_r
  if next_reset == nil then
    if x then redis.call('HDEL', bkey, 'x') end
  elseif x == nil then
    redis.call('HSET', bkey, 'x', num(next_reset))
  elseif now >= x then
    s = 0
    redis.call('HSET', bkey, 's', '0', 'x', num(next_reset))
  end
  if r ~= 0 then
    if now >= (tonumber(v[4]) or 0) then
      -- every hold has expired (the hold set itself may be gone with its TTL)
      r = 0
      redis.call('DEL', hkey)
    else
      local expired = redis.call('ZRANGEBYSCORE', hkey, '-inf', now)
      for _, token in ipairs(expired) do
        r = r - tonumber(string.match(token, '|([^|]*)$'))
      end
      if #expired > 0 then redis.call('ZREMRANGEBYSCORE', hkey, '-inf', now) end
      if r < EPS then r = 0 end  -- float sums drift
    end
    if r ~= stored_r then redis.call('HSET', bkey, 'r', num(r)) end
  end
  return s, r, v[1] ~= false
end
local function budgets_missing(K, A)
  if A[5] ~= '1' then return nil end
  local missing = {}
  for i = 1, tonumber(A[6]) do
    if redis.call('HEXISTS', K[2 * i - 1], 's') == 0 then missing[#missing + 1] = i end
  end
  if #missing > 0 then return {2, unpack(missing)} end
  return nil
end
local function budgets_check(K, A, now)
  local amount, n = tonumber(A[2]), tonumber(A[6])
  local reserved = {}
  for i = 1, n do
    local limit, next_reset = tonumber(A[5 + 2 * i]), tonumber(A[6 + 2 * i])
    local s, r, known = current(K[2 * i - 1], K[2 * i], now, next_reset)
    if limit and (s + r >= limit or s + r + amount > limit + EPS) then
      return nil, {i, num(s), num(r), num(limit)}
    end
    reserved[i] = {r, known, s}
  end
  return reserved, nil
end
local function budgets_write(K, A, now, reserved)
  local token, amount, lease, idle = A[1], tonumber(A[2]), tonumber(A[3]), tonumber(A[4])
  local expiry_s, lease_ms = num(now + lease), ttl_ms(lease)
  for i, held in ipairs(reserved) do
    local bkey, hkey = K[2 * i - 1], K[2 * i]
    redis.call('ZADD', hkey, expiry_s, token)
    redis.call('PEXPIRE', hkey, lease_ms)
    if held[2] then
      redis.call('HSET', bkey, 'r', num(held[1] + amount), 'rx', expiry_s)
    else
      redis.call('HSET', bkey, 'r', num(held[1] + amount), 'rx', expiry_s, 's', '0')
    end
    redis.call('PEXPIRE', bkey, idle)
  end
end
-- A (settle): token, amount, actual, idle ms, strict, n, then next reset per scope. A scope Redis
-- lost (strict) is not re-created: its next reservation loads the database's spend, which this
-- request's spend record will be part of.
local function budgets_settle(K, A, now)
  local token, amount, actual = A[1], tonumber(A[2]), tonumber(A[3])
  local idle, strict, n = tonumber(A[4]), A[5] == '1', tonumber(A[6])
  for i = 1, n do
    local bkey, hkey = K[2 * i - 1], K[2 * i]
    if strict and redis.call('HEXISTS', bkey, 's') == 0 then
      redis.call('ZREM', hkey, token)
    else
      local s, r = current(bkey, hkey, now, tonumber(A[6 + i]))
      if redis.call('ZREM', hkey, token) == 1 then
        r = r - amount
        if r < EPS then r = 0 end  -- float sums drift
      end
      redis.call('HSET', bkey, 's', num(s + actual), 'r', num(r))
      redis.call('PEXPIRE', bkey, idle)
    end
  end
end
"""

# ARGV: now, then the concern's A. Replies: {1, levels...} admitted; {0, index, kind, limit, used, wait}.
ACQUIRE = (
    _COMMON
    + _RATES
    + """
local now = clock(ARGV[1])
local A = slice(ARGV, 2)
local plan, refusal = rates_check(KEYS, A, now)
if refusal then return refusal end
rates_write(KEYS, A, now, plan)
return {1, unpack(rates_levels(plan, tonumber(A[2])))}
"""
)

RELEASE = (
    _COMMON
    + _RATES
    + """
rates_release(KEYS, slice(ARGV, 2), clock(ARGV[1]))
return 1
"""
)

# KEYS: par of each scope with a parallel limit. ARGV: now, id, lease. 1 if every lease was live.
RENEW = (
    _COMMON
    + """
local now = clock(ARGV[1])
local id, lease, all = ARGV[2], tonumber(ARGV[3]), 1
for i = 1, #KEYS do
  local score = tonumber(redis.call('ZSCORE', KEYS[i], id))
  if score and score > now then
    redis.call('ZADD', KEYS[i], num(now + lease), id)
    redis.call('PEXPIRE', KEYS[i], ttl_ms(lease))
  else
    all = 0
  end
end
return all
"""
)

# ARGV: now, then the concern's A. Replies: {1, spent + reserved after, per scope...};
# {0, index, spent, reserved, limit}; {2, missing...}.
RESERVE = (
    _COMMON
    + _BUDGETS
    + """
local now = clock(ARGV[1])
local A = slice(ARGV, 2)
local missing = budgets_missing(KEYS, A)
if missing then return missing end
local reserved, refusal = budgets_check(KEYS, A, now)
if refusal then return {0, unpack(refusal)} end
budgets_write(KEYS, A, now, reserved)
local committed = {}
for i, held in ipairs(reserved) do committed[i] = num(held[3] + held[1] + tonumber(A[2])) end
return {1, unpack(committed)}
"""
)

SETTLE = (
    _COMMON
    + _BUDGETS
    + """
budgets_settle(KEYS, slice(ARGV, 2), clock(ARGV[1]))
return 1
"""
)

# Rate limits and budgets of one request in one round trip, all or none. ARGV: now, number of
# rate keys, number of rate args, rate A, budget A; KEYS: rate keys then budget keys. Replies as
# ACQUIRE and RESERVE, except a budget refusal is {3, index, spent, reserved, limit}.
ADMIT = (
    _COMMON
    + _RATES
    + _BUDGETS
    + """
local now = clock(ARGV[1])
local nk, na = tonumber(ARGV[2]), tonumber(ARGV[3])
local RK, RA = slice(KEYS, 1, nk), slice(ARGV, 4, 3 + na)
local BK, BA = slice(KEYS, nk + 1), slice(ARGV, 4 + na)
local missing = budgets_missing(BK, BA)
if missing then return missing end
local plan, refusal = rates_check(RK, RA, now)
if refusal then return refusal end
local reserved, over = budgets_check(BK, BA, now)
if over then return {3, unpack(over)} end
rates_write(RK, RA, now, plan)
budgets_write(BK, BA, now, reserved)
return {1, unpack(rates_levels(plan, tonumber(RA[2])))}
"""
)

# Release and settle of finished requests, many in one round trip, each in turn. ARGV: now,
# count, then per request: its numbers of rate keys, budget keys, rate args and budget args, its
# release A, its settle A; KEYS: per request its rate keys then its budget keys.
FINISH = (
    _COMMON
    + _RATES
    + _BUDGETS
    + """
local now = clock(ARGV[1])
local k, a = 1, 3
for _ = 1, tonumber(ARGV[2]) do
  local nk, nbk = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local na, nba = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  a = a + 4
  if nk > 0 then rates_release(slice(KEYS, k, k + nk - 1), slice(ARGV, a, a + na - 1), now) end
  k, a = k + nk, a + na
  if nbk > 0 then budgets_settle(slice(KEYS, k, k + nbk - 1), slice(ARGV, a, a + nba - 1), now) end
  k, a = k + nbk, a + nba
end
return 1
"""
)

# KEYS: bud, hold. ARGV: now. Read only: {known, spent, reserved, reset or ''}.
PEEK = (
    _COMMON
    + """
local now = clock(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 's', 'x')
local s, x = tonumber(v[1]) or 0, tonumber(v[2])
if x and now >= x then s = 0 end
local r = 0
for _, token in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. num(now), '+inf')) do
  r = r + tonumber(string.match(token, '|([^|]*)$'))
end
return {v[1] and 1 or 0, num(s), num(r), x and num(x) or ''}
"""
)

# KEYS: bud. ARGV: spent, reset or '', overwrite, idle ms. 1 if written.
SEED = """
if ARGV[3] ~= '1' and redis.call('HEXISTS', KEYS[1], 's') == 1 then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'x', ARGV[2]) else redis.call('HDEL', KEYS[1], 'x') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
