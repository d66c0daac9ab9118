"""The Lua scripts behind every conditional cache write (EVAL; standard Redis 7.0 Lua).

Design note
-----------
A cache write that must not go backwards (a slow fill racing an invalidation, two
write-throughs landing out of order, a lease released by someone who no longer owns it) is a
read-compare-write, and only the server can do that atomically. Lua is the standard way; each
script reads the entry header described in ``entry.py`` with one ``string.match``. Scripts are
sent with EVAL (Redis caches them by SHA), so a server needs EVAL plus the commands named in
each script, and nothing else (no SCRIPT LOAD, no EVALSHA, no cmsgpack).

Commands used inside scripts: GET, SET (PX), DEL, HSET, HGET, HDEL, RPUSH, LRANGE, LTRIM.
"""

from __future__ import annotations

# Rank of the entry stored at a key, from its header; nil for a foreign value.
_RANK_OF = r"""
local function rank_of(s)
  local kind, ver = string.match(s, '^~c1|(%u)|(%d+)|')
  if not kind then return nil, nil end
  local r = tonumber(ver) * 2
  if kind ~= 'T' then r = r + 1 end
  return r, kind
end
"""

#: Versioned SET: KEYS[1]=key; ARGV: entry, rank, px. Writes unless the stored entry is
#: dirty (write-back owns it) or has a higher rank. Returns 1 if written, 0 if refused.
SET_IF_NEWER = _RANK_OF + r"""
local cur = redis.call('GET', KEYS[1])
if cur then
  local r, kind = rank_of(cur)
  if kind == 'D' then return 0 end
  if r and r > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""

#: Compare-and-delete of a lease: KEYS[1]=lease key; ARGV[1]=token. Returns 1 if released.
RELEASE_LEASE = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: Write-back write: KEYS = value key, queue hash, order list; ARGV = dirty entry, field.
#: The hash keeps the newest dirty entry per key (coalescing); the list keeps each queued
#: key once, in first-write order. Returns 1 for a newly queued key, 0 when coalesced.
WB_WRITE = r"""
redis.call('SET', KEYS[1], ARGV[1])
if redis.call('HSET', KEYS[2], ARGV[2], ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[3], ARGV[2])
  return 1
end
return 0
"""

#: Write-back batch: KEYS = queue hash, order list, epoch; ARGV = batch size.
#: Returns {epoch, field1, entry1, field2, entry2, ...} (an entry may be nil).
WB_TAKE = r"""
local out = {redis.call('GET', KEYS[3])}
local fields = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
for i = 1, #fields do
  out[#out + 1] = fields[i]
  out[#out + 1] = redis.call('HGET', KEYS[1], fields[i])
end
return out
"""

#: Write-back acknowledgement after the database committed a batch.
#: KEYS = queue hash, order list, epoch, value key 1..n;
#: ARGV = epoch, taken count, then (field, write id, clean entry, px) per value key.
#: Drops the taken prefix of the list; per key, if the queued entry is still the flushed
#: write, removes it from the queue and turns the cached dirty value into a clean one with
#: the committed version; if a newer write arrived meanwhile, queues the key again.
#: Returns the number of entries acknowledged, or -1 if the cache lost its data meanwhile.
WB_ACK = r"""
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
local done = 0
for i = 4, #KEYS do
  local a = 3 + (i - 4) * 4
  local field, wid, clean, px = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local queued = redis.call('HGET', KEYS[1], field)
  if queued then
    if string.match(queued, '^~c1|D|%d+|([^|]*)|') == wid then
      redis.call('HDEL', KEYS[1], field)
      if redis.call('GET', KEYS[i]) == queued then
        redis.call('SET', KEYS[i], clean, 'PX', px)
      end
      done = done + 1
    else
      redis.call('RPUSH', KEYS[2], field)
    end
  end
end
return done
"""

#: A deferred invalidation, replayed once the cache is reachable again.
#: KEYS = value key [, queue hash]; ARGV = tombstone, rank, px [, field, writer token, seq].
#: Like SET_IF_NEWER for a tombstone; with the write-back arguments it also discards dirty
#: entries of that writer up to ``seq`` (they were superseded by a direct database write
#: made while the cache was unreachable), from the queue and from the value key.
INVALIDATE = _RANK_OF + r"""
local function superseded(s)
  if #ARGV < 6 then return false end
  local tok, seq = string.match(s, '^~c1|D|%d+|(%w+)%.(%d+)|')
  return tok == ARGV[5] and tonumber(seq) <= tonumber(ARGV[6])
end
if #KEYS > 1 then
  local queued = redis.call('HGET', KEYS[2], ARGV[4])
  if queued and superseded(queued) then redis.call('HDEL', KEYS[2], ARGV[4]) end
end
local cur = redis.call('GET', KEYS[1])
if cur and not superseded(cur) then
  local r, kind = rank_of(cur)
  if kind == 'D' then return 0 end
  if r and r > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"""
