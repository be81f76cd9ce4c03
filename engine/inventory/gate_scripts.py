"""The Redis gate's Lua scripts. Each script's keys share the ``{inv}`` hash tag.

reserve: refuses a stale epoch, answers a seen key as a replay, checks every line, and only
then takes every line (scripts do not roll back). Holds stay ``pending`` until SQL commits.

``pend`` counts, per SKU, the units of pending holds of the current epoch. A line short only
because of pending holds (``avail + pend >= qty``) may yet fit — those holds can still be
refused by SQL and given back — so the script answers ``unsure`` and SQL decides; the gate
answers ``short`` only when a line is short even counting every pending hold as returned,
so "sold out" means SQL really had less than asked (I9).

``seen`` is a Bloom filter (a 2^26-bit string, six bits per key taken from the key's SHA-1) of
every reservation key the gate or SQL ever accepted: a hold sets the key's bits, so do a hold
committed after a rebuild, a mirrored SQL-only reservation and the rebuild (every key SQL holds). A
"sold out" whose key is certainly not in it is answered by the gate alone; a key that may be
in it (a replay, or a false positive) is confirmed against SQL's record, which answers a
replay with its first answer. While a rebuild fills ``seen_rebuild``, marks go to both.
"""

# The six bit offsets of a key in a 2^26-bit filter (8 MB): its SHA-1 read as three 52-bit
# numbers (13 hex digits each, exact in Lua's doubles), each split into two 26-bit offsets;
# set or read in one BITFIELD call.
_SEEN = """
local function seen_fields(key, op)
  local h = redis.sha1hex(key)
  local args = {}
  for g = 0, 2 do
    local v = tonumber(string.sub(h, g * 13 + 1, g * 13 + 13), 16)
    local low = v % 67108864
    for _, offset in ipairs({low, (v - low) / 67108864}) do
      args[#args + 1] = op; args[#args + 1] = 'u1'; args[#args + 1] = offset
      if op == 'SET' then args[#args + 1] = 1 end
    end
  end
  return args
end
local function seen_check(bits, key)
  if redis.call('EXISTS', bits) == 0 then return true end  -- filter lost (eviction, upgrade): ask SQL
  local got = redis.call('BITFIELD_RO', bits, unpack(seen_fields(key, 'GET')))
  for i = 1, 6 do
    if got[i] == 0 then return false end
  end
  return true
end
local function mark_seen(live, rebuilding, key)
  redis.call('BITFIELD', live, unpack(seen_fields(key, 'SET')))
  if redis.call('EXISTS', rebuilding) == 1 then
    redis.call('BITFIELD', rebuilding, unpack(seen_fields(key, 'SET')))
  end
end
"""

# KEYS: avail, epoch, hold, holds, stream, pend, seen · ARGV: epoch, key, now_ms, sku, qty, ...
# Answers: ok · replay STATE · stale EPOCH · missing SKU… · unsure · short SEEN SKU AVAIL … where
# SEEN is 1 when the key may have been accepted before (confirm with SQL), 0 when certainly not.
RESERVE = _SEEN + """
local e = redis.call('GET', KEYS[2])
if (not e) or e ~= ARGV[1] then return {'stale', e or ''} end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'replay', redis.call('HGET', KEYS[3], 'state') or ''}
end
local short = {}
local missing = {}
local unsure = false
for i = 4, #ARGV, 2 do
  local a = redis.call('HGET', KEYS[1], ARGV[i])
  local q = tonumber(ARGV[i + 1])
  if not a then
    table.insert(missing, ARGV[i])
  elseif tonumber(a) < q then
    if tonumber(a) + tonumber(redis.call('HGET', KEYS[6], ARGV[i]) or '0') < q then
      table.insert(short, ARGV[i]); table.insert(short, a)
    else
      unsure = true
    end
  end
end
if #missing > 0 then return {'missing', unpack(missing)} end
if #short > 0 then
  return {'short', seen_check(KEYS[7], ARGV[2]) and 1 or 0, unpack(short)}
end
if unsure then return {'unsure'} end
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], -tonumber(ARGV[i + 1]))
  redis.call('HINCRBY', KEYS[6], ARGV[i], tonumber(ARGV[i + 1]))
  redis.call('HSET', KEYS[3], 's:' .. ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[3], 'state', 'pending', 'epoch', ARGV[1], 'at', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
redis.call('BITFIELD', KEYS[7], unpack(seen_fields(ARGV[2], 'SET')))
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'op', 'hold', 'key', ARGV[2])
return {'ok'}
"""

# KEYS: avail, epoch, hold, holds, stream, pend · ARGV: key
RELEASE_HOLD = """
if redis.call('HGET', KEYS[3], 'state') ~= 'pending' then return 0 end
if redis.call('HGET', KEYS[3], 'epoch') == redis.call('GET', KEYS[2]) then
  local f = redis.call('HGETALL', KEYS[3])
  for i = 1, #f, 2 do
    if string.sub(f[i], 1, 2) == 's:' then
      redis.call('HINCRBY', KEYS[1], string.sub(f[i], 3), tonumber(f[i + 1]))
      redis.call('HINCRBY', KEYS[6], string.sub(f[i], 3), -tonumber(f[i + 1]))
    end
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'op', 'release_hold', 'key', ARGV[1])
return 1
"""

# KEYS: hold, holds, epoch, pend, seen, seen_rebuild · ARGV: key, ttl seconds
# The hold marked the key seen in its epoch's filter; after a rebuild (or during one, or with
# the hold gone) the key is marked again so the new filter has it.
COMMIT_HOLD = _SEEN + """
local held = redis.call('HGET', KEYS[1], 'epoch')
local same_epoch = held and held == redis.call('GET', KEYS[3])
if not same_epoch then mark_seen(KEYS[5], KEYS[6], ARGV[1]) end
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
if same_epoch then
  local f = redis.call('HGETALL', KEYS[1])
  for i = 1, #f, 2 do
    if string.sub(f[i], 1, 2) == 's:' then
      redis.call('HINCRBY', KEYS[4], string.sub(f[i], 3), -tonumber(f[i + 1]))
    end
  end
end
redis.call('HSET', KEYS[1], 'state', 'committed')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: avail, epoch, applied-marker, stream, seen, seen_rebuild
# ARGV: epoch, op key, ttl, reservation key to mark seen ('' for none), sku, delta, ...
APPLY_DELTA = _SEEN + """
if ARGV[4] ~= '' then mark_seen(KEYS[5], KEYS[6], ARGV[4]) end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'stale' end
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', tonumber(ARGV[3])) then return 'replay' end
for i = 5, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], tonumber(ARGV[i + 1]))
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'op', 'delta', 'key', ARGV[2])
return 'ok'
"""

# KEYS: avail, epoch, holds, fence, pend · ARGV: epoch, fence token, now_ms, grace_ms, sku, sql_avail, ...
# Sets avail[sku] = sql_avail - (pending holds of the current epoch on sku) where it differs,
# and pend to those pending holds; refuses a stale epoch or a fencing token older than the
# newest issued.
RECONCILE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'stale_epoch'} end
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return {'stale_fence'} end
local pending = {}
local keys = redis.call('ZRANGE', KEYS[3], 0, -1)
local prefix = string.sub(KEYS[3], 1, #KEYS[3] - 5) .. 'hold:'
for _, k in ipairs(keys) do
  local h = prefix .. k
  if redis.call('HGET', h, 'state') == 'pending' and redis.call('HGET', h, 'epoch') == ARGV[1] then
    local f = redis.call('HGETALL', h)
    for i = 1, #f, 2 do
      if string.sub(f[i], 1, 2) == 's:' then
        local s = string.sub(f[i], 3)
        pending[s] = (pending[s] or 0) + tonumber(f[i + 1])
      end
    end
  end
end
redis.call('DEL', KEYS[5])
for s, q in pairs(pending) do
  if q ~= 0 then redis.call('HSET', KEYS[5], s, q) end
end
local drift = {'ok'}
local seen = {}
for i = 5, #ARGV, 2 do
  local s = ARGV[i]
  seen[s] = true
  local want = tonumber(ARGV[i + 1]) - (pending[s] or 0)
  local have = redis.call('HGET', KEYS[1], s)
  if (not have) or tonumber(have) ~= want then
    redis.call('HSET', KEYS[1], s, want)
    table.insert(drift, s); table.insert(drift, have or ''); table.insert(drift, tostring(want))
  end
end
local all = redis.call('HKEYS', KEYS[1])
for _, s in ipairs(all) do
  if not seen[s] then
    table.insert(drift, s); table.insert(drift, redis.call('HGET', KEYS[1], s)); table.insert(drift, '')
    redis.call('HDEL', KEYS[1], s)
  end
end
return drift
"""

# KEYS: seen, seen_rebuild · ARGV: reservation key, ... — marks keys SQL accepted without the
# gate (bypassed calls, the reconciler's catch-up); the rebuild fills seen_rebuild alone.
MARK_SEEN = _SEEN + """
for i = 1, #ARGV do mark_seen(KEYS[1], KEYS[2], ARGV[i]) end
return #ARGV
"""
