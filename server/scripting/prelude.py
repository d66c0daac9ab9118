"""The Lua side of the sandbox, run once in each fresh Lua 5.1 state (see engine.py).

Design note
-----------
Redis 7.0 patches its Lua to support read-only tables and locks the globals and every
library table with them. Stock Lua 5.1 (lupa) has no such flag, so each protected table is
an empty *proxy* whose metatable reads through to the real table and refuses writes with
Redis's "Attempt to modify a readonly table" (raised at level 2, so the message carries the
script's ``user_script:N:`` position like the VM's error). The raw paths around a proxy
(``rawset``, ``setmetatable``, ``table.insert``...) are wrapped to refuse too, and the raw
readers (``rawget``, ``next``, ``pairs``, ``ipairs``, ``unpack``...) see the real table.

The globals a script sees are such a proxy over a table holding exactly Redis's allowlist;
reading a missing global raises "Script attempted to access nonexistent global variable".
The thread's own environment is replaced by it too, so ``loadstring`` and coroutines see the
same sandbox. Function libraries get their own environment whose reads are switched between
the library-loading API (only ``redis.register_function``, ``redis.log`` and the version)
and the normal globals, as Redis's function engine does.

Conversions run here, inside Lua, where they are cheap: a command's RESP reply is parsed
into Lua values (``parse``) and a script's result is encoded as RESP (``encode``), following
script_lua.c's rules exactly (first nil ends an array, ``{ok=...}``/``{err=...}`` tables,
numbers truncated to integers, RESP3 types under ``redis.setresp(3)``).

Every function defined here has the chunk name ``=vermilion``; the error handler skips such
frames so an error raised by a wrapper is reported at the script's line, as for Redis's C
functions. Python provides the services through the ``py`` table (run a command, log, the
random generator, the time-limit hook...).
"""

PRELUDE = r"""
local mode, py = ...
local INTERNAL = '=vermilion'

local type, error, tostring, tonumber, select, next, unpack = type, error, tostring, tonumber, select, next, unpack
local rawget, rawset, rawequal, setmetatable, getmetatable = rawget, rawset, rawequal, setmetatable, getmetatable
local pcall, xpcall, loadstring, getfenv, setfenv, pairs, ipairs = pcall, xpcall, loadstring, getfenv, setfenv, pairs, ipairs
local sbyte, sfind, ssub, sformat, sgsub, slower = string.byte, string.find, string.sub, string.format, string.gsub, string.lower
local tconcat = table.concat
local newproxy = newproxy
local floor, huge = math.floor, math.huge
local getinfo, sethook = debug.getinfo, debug.sethook

local py_call, py_interrupt, py_rand, py_srand = py.call, py.interrupt, py.rand, py.srand
local py_log, py_setresp, py_set_repl, py_sha1hex = py.log, py.setresp, py.set_repl, py.sha1hex
local py_acl_check, py_register, py_load_timeout = py.acl_check, py.register, py.load_timeout
local py_trampoline, py_unwrap, py_pylib = py.trampoline, py.unwrap, py.pylib
local as_function = python.as_function

-- C functions: a Lua implementation run from a C closure (lupa's as_function), so a script's
-- frame stays on the stack even when it tail-calls the function (``return redis.call(...)``),
-- as for Redis's C functions, and errors are reported at the script's line. Inside ``impl``,
-- ``raise`` throws a positionless error table (luaPushError + lua_error) and ``lerror`` a
-- message that gets the caller's position (luaL_error); both reach the script as raised by
-- the C closure.
local function cfn(impl)
  return as_function(py_trampoline(function(...) return pcall(impl, ...) end))
end
local function lerror(msg) error({lmsg = msg}, 0) end
local function unwrap(e)
  if type(e) == 'userdata' then
    local v = py_unwrap(e)
    if v ~= nil then return v end
  end
  return e
end

-- -- read-only tables --------------------------------------------------------------------------

local READONLY = 'Attempt to modify a readonly table'
local REAL = setmetatable({}, {__mode = 'k'})     -- proxy -> real table
local SHOWN_MT = setmetatable({}, {__mode = 'k'}) -- proxy -> what getmetatable() shows

local function refuse_write() error(READONLY, 2) end

local function protect(real, shown_mt)
  local proxy = setmetatable({}, {__index = real, __newindex = refuse_write})
  REAL[proxy] = real
  SHOWN_MT[proxy] = shown_mt
  return proxy
end

local function nonexistent(t, k)
  if type(k) ~= 'string' and type(k) ~= 'number' then
    error('Second argument to luaProtectedTableError must be a string or number', 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local ERROR_MT = {__index = nonexistent}

local function real_of(t) return REAL[t] or t end
local function refuse_if_protected(t) if REAL[t] then error(READONLY, 0) end end

local W = {}
W.rawget = function(t, k) return rawget(real_of(t), k) end
W.rawset = function(t, k, v) refuse_if_protected(t); return rawset(t, k, v) end
W.next = function(t, k) return next(real_of(t), k) end
W.pairs = function(t) return pairs(real_of(t)) end
W.ipairs = function(t) return ipairs(real_of(t)) end
W.unpack = function(t, ...) return unpack(real_of(t), ...) end
W.setmetatable = function(t, mt) refuse_if_protected(t); return setmetatable(t, mt) end
W.getmetatable = function(v)
  if REAL[v] then return SHOWN_MT[v] end
  return getmetatable(v)
end
local THREAD_G = getfenv(0)  -- lupa's own globals: never shown to scripts
local ENV_SHOWN             -- what scripts see instead (set below)
W.getfenv = function(f)
  local env
  if f == nil then env = getfenv(2) elseif type(f) == 'number' and f > 0 then env = getfenv(f + 1) else env = getfenv(f) end
  if env == THREAD_G then return ENV_SHOWN end
  return env
end

local function wrap_table_lib()
  local t = {}
  for k, v in next, table do t[k] = v end
  for _, name in ipairs({'insert', 'remove', 'sort', 'setn'}) do
    local f = table[name]
    if f then t[name] = function(tbl, ...) refuse_if_protected(tbl); return f(tbl, ...) end end
  end
  for _, name in ipairs({'concat', 'getn', 'maxn', 'foreach', 'foreachi'}) do
    local f = table[name]
    if f then t[name] = function(tbl, ...) return f(real_of(tbl), ...) end end
  end
  return t
end

-- -- RESP -> Lua (redisProtocolToLuaType) -------------------------------------------------------

local function error_table(s)
  -- luaPushErrorBuff on "-CODE message"
  local sp = sfind(s, ' ', 1, true)
  local code, msg
  if sp then code, msg = ssub(s, 2, sp - 1), ssub(s, sp + 1) else code, msg = 'ERR', ssub(s, 2) end
  msg = sgsub(sgsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  return {err = code .. ' ' .. msg, ignore_error_stats_update = true}
end

local parse
parse = function(s, p)
  local c = sbyte(s, p)
  local e = sfind(s, '\r\n', p, true)
  if c == 36 then -- $
    local n = tonumber(ssub(s, p + 1, e - 1))
    if n < 0 then return false, e + 2 end
    return ssub(s, e + 2, e + 1 + n), e + 4 + n
  elseif c == 58 then -- :
    return tonumber(ssub(s, p + 1, e - 1)), e + 2
  elseif c == 43 then -- +
    return {ok = ssub(s, p + 1, e - 1)}, e + 2
  elseif c == 42 or c == 62 then -- * >
    local n = tonumber(ssub(s, p + 1, e - 1))
    p = e + 2
    if n < 0 then return false, p end
    local t, v = {}
    for i = 1, n do v, p = parse(s, p); t[i] = v end
    return t, p
  elseif c == 45 then -- -
    return error_table(ssub(s, p, e - 1)), e + 2
  elseif c == 37 then -- %
    local n = tonumber(ssub(s, p + 1, e - 1))
    p = e + 2
    local m, k, v = {}
    for i = 1, n do
      k, p = parse(s, p); v, p = parse(s, p)
      if k ~= nil then m[k] = v end
    end
    return {map = m}, p
  elseif c == 126 then -- ~
    local n = tonumber(ssub(s, p + 1, e - 1))
    p = e + 2
    local m, k = {}
    for i = 1, n do
      k, p = parse(s, p)
      if k ~= nil then m[k] = true end
    end
    return {set = m}, p
  elseif c == 95 then -- _
    return nil, e + 2
  elseif c == 35 then -- #
    return sbyte(s, p + 1) == 116, e + 2
  elseif c == 44 then -- ,
    return {double = tonumber(ssub(s, p + 1, e - 1))}, e + 2
  elseif c == 40 then -- (
    return {big_number = ssub(s, p + 1, e - 1)}, e + 2
  elseif c == 61 then -- =
    local n = tonumber(ssub(s, p + 1, e - 1))
    local body = ssub(s, e + 2, e + 1 + n)
    return {verbatim_string = {format = ssub(body, 1, 3), string = ssub(body, 5)}}, e + 4 + n
  elseif c == 124 then -- | attribute: skipped, then the reply itself
    local n = tonumber(ssub(s, p + 1, e - 1))
    p = e + 2
    local _
    for i = 1, 2 * n do _, p = parse(s, p) end
    return parse(s, p)
  end
  return nil, #s + 1
end

-- -- Lua -> RESP (luaReplyToRedisReply) --------------------------------------------------------

local LLMIN = '-9223372036854775808'
local function integer(v)
  if v ~= v or v >= 9223372036854775808 or v < -9223372036854775808 then return LLMIN end
  return sformat('%d', v)
end

local function nocrlf(s) return (sgsub(s, '[\r\n]', ' ')) end

local function double(d, c3)
  local s
  if d == huge then s = 'inf' elseif d == -huge then s = '-inf' else s = sformat('%.17g', d) end
  if c3 then return ',' .. s .. '\r\n' end
  return '$' .. #s .. '\r\n' .. s .. '\r\n'
end

local script_resp = 2

local encode
encode = function(v, out, n, c3)
  local t = type(v)
  if t == 'string' then
    n = n + 1; out[n] = '$' .. #v .. '\r\n' .. v .. '\r\n'
  elseif t == 'number' then
    n = n + 1; out[n] = ':' .. integer(v) .. '\r\n'
  elseif t == 'boolean' then
    n = n + 1
    if script_resp == 2 then
      out[n] = v and ':1\r\n' or (c3 and '_\r\n' or '$-1\r\n')
    elseif c3 then
      out[n] = v and '#t\r\n' or '#f\r\n'
    else
      out[n] = v and ':1\r\n' or ':0\r\n'
    end
  elseif t == 'table' then
    local f = rawget(v, 'err')
    if type(f) == 'string' then
      n = n + 1; out[n] = '-' .. nocrlf(f) .. '\r\n'; return n
    end
    f = rawget(v, 'ok')
    if type(f) == 'string' then
      n = n + 1; out[n] = '+' .. nocrlf(f) .. '\r\n'; return n
    end
    f = rawget(v, 'double')
    if type(f) == 'number' then
      n = n + 1; out[n] = double(f, c3); return n
    end
    f = rawget(v, 'big_number')
    if type(f) == 'string' then
      f = nocrlf(f)
      n = n + 1
      if c3 then out[n] = '(' .. f .. '\r\n' else out[n] = '$' .. #f .. '\r\n' .. f .. '\r\n' end
      return n
    end
    f = rawget(v, 'verbatim_string')
    if type(f) == 'table' then
      local fmt, str = rawget(f, 'format'), rawget(f, 'string')
      if type(fmt) == 'string' and type(str) == 'string' then
        n = n + 1
        if c3 then
          fmt = ssub(fmt .. '\0\0\0', 1, 3)
          out[n] = '=' .. (#str + 4) .. '\r\n' .. fmt .. ':' .. str .. '\r\n'
        else
          out[n] = '$' .. #str .. '\r\n' .. str .. '\r\n'
        end
        return n
      end
    end
    f = rawget(v, 'map')
    if type(f) == 'table' then
      n = n + 1
      local head, count = n, 0
      for k, val in next, f do
        n = encode(k, out, n, c3); n = encode(val, out, n, c3); count = count + 1
      end
      out[head] = c3 and ('%' .. count .. '\r\n') or ('*' .. (2 * count) .. '\r\n')
      return n
    end
    f = rawget(v, 'set')
    if type(f) == 'table' then
      n = n + 1
      local head, count = n, 0
      for k in next, f do n = encode(k, out, n, c3); count = count + 1 end
      out[head] = (c3 and '~' or '*') .. count .. '\r\n'
      return n
    end
    n = n + 1
    local head, j = n, 1
    while true do
      local item = rawget(v, j)
      if item == nil then break end
      n = encode(item, out, n, c3)
      j = j + 1
    end
    out[head] = '*' .. (j - 1) .. '\r\n'
  else
    n = n + 1; out[n] = c3 and '_\r\n' or '$-1\r\n'
  end
  return n
end

-- Encode a script's result: the reply bytes and its kind (0 plain, 1 an error reply to
-- count, 2 an error reply already counted when the failing command ran).
local function encode_result(v, c3)
  local out = {}
  local ok, n = pcall(encode, v, out, 0, c3)
  if not ok then return '-ERR reached lua stack limit\r\n', 1 end
  local kind = 0
  if type(v) == 'table' and sbyte(out[1], 1) == 45 then
    kind = rawget(v, 'ignore_error_stats_update') and 2 or 1
  end
  return tconcat(out, '', 1, n), kind
end

-- -- errors --------------------------------------------------------------------------------------

local function frame(level)
  local i = getinfo(level, 'nSl')
  while i and i.source == INTERNAL do
    level = level + 1
    i = getinfo(level, 'nSl')
  end
  return i, level
end

local function err_handler(err)
  sethook()
  err = unwrap(err)
  local i, level = frame(3)
  if i and i.what == 'C' then i = frame(level + 1) end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

-- The fields luaExtractErrorInformation reads, as strings (or nil).
local function str_field(t, k)
  local v = t[k]
  if type(v) == 'string' or type(v) == 'number' then return tostring(v) end
  return nil
end

-- -- the redis table -------------------------------------------------------------------------

local function raise(msg) error({err = msg}) end

local function call_error(kind, payload)
  if kind == 1 then return {err = payload, ignore_error_stats_update = true} end
  return {err = payload}
end
local function parse1(payload) return (parse(payload, 1)) end

local function errbuf(s)
  -- luaPushErrorBuff for a message that starts with '-'
  local t = error_table(s)
  return t.err
end

local API = {}
API.call = as_function(py.make_call(true, parse1, call_error))
API.pcall = as_function(py.make_call(false, parse1, call_error))
API.error_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end
  if ssub(s, 1, 1) ~= '-' then s = '-' .. s end
  return {err = errbuf(s)}
end
API.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end
  return {ok = s}
end
API.sha1hex = cfn(function(...)
  if select('#', ...) ~= 1 then raise('ERR wrong number of arguments') end
  local s = ...
  if type(s) == 'number' then s = tostring(s) elseif type(s) ~= 'string' then s = '' end
  return py_sha1hex(s)
end)

local function log(...)
  local argc = select('#', ...)
  if argc < 2 then raise('ERR redis.log() requires two arguments or more.') end
  local level = tonumber((...))
  if level == nil then raise('ERR First argument must be a number (log level).') end
  level = level >= 0 and floor(level) or -floor(-level)
  if level < 0 or level > 3 then raise('ERR Invalid debug level.') end
  local parts, n = {}, 0
  for j = 2, argc do
    local s = select(j, ...)
    if type(s) == 'number' then s = tostring(s) end
    if type(s) == 'string' then n = n + 1; parts[n] = s end
  end
  py_log(level, tconcat(parts, ' ', 1, n))
end

local function add_log_and_version(t)
  t.log = log
  t.LOG_DEBUG, t.LOG_VERBOSE, t.LOG_NOTICE, t.LOG_WARNING = 0, 1, 2, 3
  t.REDIS_VERSION_NUM = py.version_num
  t.REDIS_VERSION = py.version
end
log = cfn(log)
add_log_and_version(API)

API.setresp = cfn(function(...)
  if select('#', ...) ~= 1 then raise('ERR redis.setresp() requires one argument.') end
  local resp = tonumber((...))
  if resp ~= 2 and resp ~= 3 then
    if resp then resp = resp >= 0 and floor(resp) or -floor(-resp) end
    if resp ~= 2 and resp ~= 3 then raise('ERR RESP version must be 2 or 3.') end
  end
  script_resp = resp
  py_setresp(resp)
end)
API.set_repl = cfn(function(...)
  if select('#', ...) ~= 1 then raise('ERR redis.set_repl() requires two arguments.') end
  local flags = tonumber((...)) or 0
  flags = flags >= 0 and floor(flags) or -floor(-flags)
  if flags < 0 or flags > 3 then
    raise('ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
  py_set_repl(flags)
end)
API.REPL_NONE, API.REPL_AOF, API.REPL_SLAVE, API.REPL_REPLICA, API.REPL_ALL = 0, 1, 2, 2, 3
API.acl_check_cmd = cfn(function(...)
  if select('#', ...) == 0 then raise('ERR Please specify at least one argument for this redis lib call') end
  local ok = py_acl_check(...)
  if ok == nil then raise('ERR Invalid command passed to redis.acl_check_cmd()') end
  return ok
end)
if mode == 'eval' then
  API.breakpoint = function() return false end
  API.debug = function() end
  API.replicate_commands = function() return true end
end

-- -- math.random (redisLrand48) -----------------------------------------------------------------

local function checkint(fname, i, argc, v)
  local n = tonumber(v)
  if n == nil then
    local got = i > argc and 'no value' or type(v)
    lerror(sformat("bad argument #%d to '%s' (number expected, got %s)", i, fname, got))
  end
  if n ~= n or n >= 2147483648 or n < -2147483648 then return -2147483648 end
  return n >= 0 and floor(n) or -floor(-n)
end

local MATH = {}
for k, v in next, math do MATH[k] = v end
MATH.random = cfn(function(...)
  local argc = select('#', ...)
  local r = py_rand()
  if argc == 0 then return r end
  if argc == 1 then
    local u = checkint('random', 1, argc, (...))
    if not (1 <= u) then lerror("bad argument #1 to 'random' (interval is empty)") end
    return floor(r * u) + 1
  elseif argc == 2 then
    local a, b = ...
    local l = checkint('random', 1, argc, a)
    local u = checkint('random', 2, argc, b)
    if not (l <= u) then lerror("bad argument #2 to 'random' (interval is empty)") end
    return floor(r * (u - l + 1)) + l
  end
  lerror('wrong number of arguments')
end)
MATH.randomseed = cfn(function(...)
  py_srand(checkint('randomseed', 1, select('#', ...), (...)))
end)

-- -- cjson (lua-cjson 2.1.0 as bundled with Redis) ---------------------------------------------

local CJSON = {}
do
  local NULL = newproxy()
  local ESC = {}
  for i = 0, 31 do ESC[string.char(i)] = sformat('\\u%04x', i) end
  ESC['\b'], ESC['\t'], ESC['\n'], ESC['\f'], ESC['\r'] = '\\b', '\\t', '\\n', '\\f', '\\r'
  ESC['"'], ESC['\\'], ESC['/'], ESC['\127'] = '\\"', '\\\\', '\\/', '\\u007f'

  local function fail(msg) error(msg, 0) end
  local function cannot(v, reason) fail('Cannot serialise ' .. type(v) .. ': ' .. reason) end

  local function number(v)
    if v ~= v or v == huge or v == -huge then cannot(v, 'must not be NaN or Inf') end
    return sformat('%.14g', v)
  end
  local function str(s) return '"' .. sgsub(s, '[%z\1-\31"\\/\127]', ESC) .. '"' end

  local enc
  local function array_length(t)
    local max, items = 0, 0
    for k in next, t do
      if type(k) == 'number' and k ~= 0 and floor(k) == k and k >= 1 then
        if k > max then max = k end
        items = items + 1
      else
        return -1
      end
    end
    if max > items * 2 and max > 10 then cannot(t, 'excessively sparse array') end
    return max
  end
  enc = function(v, out, depth)
    local t = type(v)
    if t == 'string' then out[#out + 1] = str(v)
    elseif t == 'number' then out[#out + 1] = number(v)
    elseif t == 'boolean' then out[#out + 1] = v and 'true' or 'false'
    elseif t == 'nil' or v == NULL then out[#out + 1] = 'null'
    elseif t == 'table' then
      depth = depth + 1
      if depth > 1000 then fail('Cannot serialise, excessive nesting (' .. depth .. ')') end
      local len = array_length(v)
      if len > 0 then
        out[#out + 1] = '['
        for i = 1, len do
          if i > 1 then out[#out + 1] = ',' end
          enc(rawget(v, i), out, depth)
        end
        out[#out + 1] = ']'
      else
        out[#out + 1] = '{'
        local first = true
        for k, val in next, v do
          if not first then out[#out + 1] = ',' end
          first = false
          local kt = type(k)
          if kt == 'string' then out[#out + 1] = str(k) .. ':'
          elseif kt == 'number' then out[#out + 1] = '"' .. number(k) .. '":'
          else cannot(k, 'table key must be a number or string') end
          enc(val, out, depth)
        end
        out[#out + 1] = '}'
      end
    else
      cannot(v, 'type not supported')
    end
  end

  CJSON.encode = cfn(function(...)
    if select('#', ...) ~= 1 then lerror("bad argument #1 to 'encode' (expected 1 argument)") end
    local out = {}
    local ok, e = pcall(enc, (...), out, 0)
    if not ok then lerror(e) end
    return tconcat(out)
  end)

  -- decoding: a tokenizer with cjson's token names and error texts
  local UNESC = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'}
  local function utf8(cp)
    if cp < 0x80 then return string.char(cp) end
    if cp < 0x800 then return string.char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
    if cp < 0x10000 then
      return string.char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
    end
    return string.char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  local function strtod(s, p)
    -- C strtod on s at p: (value, next position) or nil
    local sign, q = 1, p
    local c = ssub(s, q, q)
    if c == '-' or c == '+' then if c == '-' then sign = -1 end; q = q + 1 end
    local low = slower(ssub(s, q, q + 7))
    if ssub(low, 1, 8) == 'infinity' then return sign * huge, q + 8 end
    if ssub(low, 1, 3) == 'inf' then return sign * huge, q + 3 end
    if ssub(low, 1, 3) == 'nan' then return 0 / 0, q + 3 end
    local hx = sfind(s, '^0[xX]%x', q)
    if hx then
      local _, e = sfind(s, '^%x+', q + 2)
      return sign * tonumber(ssub(s, q + 2, e), 16), e + 1
    end
    local _, e = sfind(s, '^%d*', q)
    local int_digits = e - q + 1
    local frac_digits = 0
    if ssub(s, e + 1, e + 1) == '.' then
      local _, e2 = sfind(s, '^%d*', e + 2)
      frac_digits = e2 - e - 1
      if int_digits + frac_digits > 0 then e = e2 end
    end
    if int_digits + frac_digits == 0 then return nil end
    local _, e3 = sfind(s, '^[eE][+-]?%d+', e + 1)
    if e3 then e = e3 end
    return tonumber(ssub(s, p, e)), e + 1
  end

  local SINGLE = {['{'] = 'T_OBJ_BEGIN', ['}'] = 'T_OBJ_END', ['['] = 'T_ARR_BEGIN', [']'] = 'T_ARR_END',
                  [':'] = 'T_COLON', [','] = 'T_COMMA'}
  -- next token: type, value, index (0-based), next position
  local function token(s, p)
    local _, e = sfind(s, '^[ \t\n\r]*', p)
    p = e + 1
    local c = ssub(s, p, p)
    local idx = p - 1
    if c == '' or c == '\0' then return 'T_END', nil, idx, p end
    local single = SINGLE[c]
    if single then return single, nil, idx, p + 1 end
    if c == '"' then
      local buf, n, q = {}, 0, p + 1
      while true do
        local ch = ssub(s, q, q)
        if ch == '"' then break end
        if ch == '' or ch == '\0' then return 'T_ERROR', 'unexpected end of string', q - 1, q end
        if ch == '\\' then
          local esc = ssub(s, q + 1, q + 1)
          if esc == 'u' then
            local hex = ssub(s, q + 2, q + 5)
            local cp = #hex == 4 and not sfind(hex, '[^%x]') and tonumber(hex, 16)
            local adv = 6
            if cp and cp >= 0xD800 and cp <= 0xDBFF then
              local lowhex = ssub(s, q + 8, q + 11)
              local lo = ssub(s, q + 6, q + 7) == '\\u' and #lowhex == 4 and not sfind(lowhex, '[^%x]') and tonumber(lowhex, 16)
              if lo and lo >= 0xDC00 and lo <= 0xDFFF then
                cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
                adv = 12
              else
                cp = nil
              end
            elseif cp and cp >= 0xDC00 and cp <= 0xDFFF then
              cp = nil
            end
            if not cp then return 'T_ERROR', 'invalid unicode escape code', q - 1, q end
            n = n + 1; buf[n] = utf8(cp)
            q = q + adv
          else
            local ch2 = UNESC[esc]
            if not ch2 then return 'T_ERROR', 'invalid escape code', q - 1, q end
            n = n + 1; buf[n] = ch2
            q = q + 2
          end
        else
          local _, e2 = sfind(s, '^[^"\\%z]+', q)
          n = n + 1; buf[n] = ssub(s, q, e2)
          q = e2 + 1
        end
      end
      return 'T_STRING', tconcat(buf, '', 1, n), idx, q + 1
    end
    if c == '-' or sfind(c, '%d') then
      local v, np = strtod(s, p)
      if not v then return 'T_ERROR', 'invalid number', idx, p end
      return 'T_NUMBER', v, idx, np
    end
    if ssub(s, p, p + 3) == 'true' then return 'T_BOOLEAN', true, idx, p + 4 end
    if ssub(s, p, p + 4) == 'false' then return 'T_BOOLEAN', false, idx, p + 5 end
    if ssub(s, p, p + 3) == 'null' then return 'T_NULL', NULL, idx, p + 4 end
    local low = slower(ssub(s, p, p + 3))
    if c == '+' or ssub(low, 1, 3) == 'inf' or ssub(low, 1, 3) == 'nan' then
      local v, np = strtod(s, p)
      if not v then return 'T_ERROR', 'invalid number', idx, p end
      return 'T_NUMBER', v, idx, np
    end
    return 'T_ERROR', 'invalid token', idx, p
  end

  local function parse_error(expected, tt, tv, idx)
    local found = tt == 'T_ERROR' and tv or tt
    fail(sformat('Expected %s but found %s at character %d', expected, found, idx + 1))
  end

  local value
  local function descend(depth, idx)
    depth = depth + 1
    if depth > 1000 then fail(sformat('Found too many nested data structures (%d) at character %d', depth, idx + 1)) end
    return depth
  end
  value = function(s, tt, tv, idx, p, depth)
    if tt == 'T_STRING' or tt == 'T_NUMBER' or tt == 'T_BOOLEAN' or tt == 'T_NULL' then return tv, p end
    if tt == 'T_OBJ_BEGIN' then
      depth = descend(depth, idx)
      local obj = {}
      local kt, kv, ki
      kt, kv, ki, p = token(s, p)
      if kt == 'T_OBJ_END' then return obj, p end
      while true do
        if kt ~= 'T_STRING' then parse_error('object key string', kt, kv, ki) end
        local ct, cv, ci
        ct, cv, ci, p = token(s, p)
        if ct ~= 'T_COLON' then parse_error('colon', ct, cv, ci) end
        local vt, vv, vi
        vt, vv, vi, p = token(s, p)
        local v
        v, p = value(s, vt, vv, vi, p, depth)
        rawset(obj, kv, v)
        ct, cv, ci, p = token(s, p)
        if ct == 'T_OBJ_END' then return obj, p end
        if ct ~= 'T_COMMA' then parse_error('comma or object end', ct, cv, ci) end
        kt, kv, ki, p = token(s, p)
      end
    end
    if tt == 'T_ARR_BEGIN' then
      depth = descend(depth, idx)
      local arr = {}
      local vt, vv, vi
      vt, vv, vi, p = token(s, p)
      if vt == 'T_ARR_END' then return arr, p end
      local i = 1
      while true do
        local v
        v, p = value(s, vt, vv, vi, p, depth)
        rawset(arr, i, v)
        i = i + 1
        local ct, cv, ci
        ct, cv, ci, p = token(s, p)
        if ct == 'T_ARR_END' then return arr, p end
        if ct ~= 'T_COMMA' then parse_error('comma or array end', ct, cv, ci) end
        vt, vv, vi, p = token(s, p)
      end
    end
    parse_error('value', tt, tv, idx)
  end

  local function decode(s)
    if #s >= 2 and (sbyte(s, 1) == 0 or sbyte(s, 2) == 0) then fail('JSON parser does not support UTF-16 or UTF-32') end
    local tt, tv, idx, p = token(s, 1)
    local v
    v, p = value(s, tt, tv, idx, p, 0)
    tt, tv, idx, p = token(s, p)
    if tt ~= 'T_END' then parse_error('the end', tt, tv, idx) end
    return v
  end

  CJSON.decode = cfn(function(...)
    if select('#', ...) ~= 1 then lerror("bad argument #1 to 'decode' (expected 1 argument)") end
    local s = ...
    if type(s) == 'number' then s = tostring(s) end
    if type(s) ~= 'string' then
      lerror(sformat("bad argument #1 to 'decode' (string expected, got %s)", type(s)))
    end
    local ok, v = pcall(decode, s)
    if not ok then lerror(v) end
    return v
  end)
  CJSON.null = NULL
  CJSON._NAME, CJSON._VERSION = 'cjson', '2.1.0'
  local function setting(value) return function() return value end end
  CJSON.encode_sparse_array = function() return false, 2, 10 end
  CJSON.encode_max_depth = setting(1000)
  CJSON.decode_max_depth = setting(1000)
  CJSON.encode_number_precision = setting(14)
  CJSON.encode_keep_buffer = setting(true)
  CJSON.encode_invalid_numbers = setting(false)
  CJSON.decode_invalid_numbers = setting(true)
end

-- -- the globals -------------------------------------------------------------------------------

local R = {}      -- the real globals
local P           -- their read-only proxy: what scripts see as _G
for _, name in ipairs({'xpcall', 'tostring', 'assert', 'tonumber', 'rawequal', 'collectgarbage',
                       'type', 'select', 'gcinfo', 'error', '_VERSION'}) do
  R[name] = _G[name]
end
R.xpcall = function(f, h) return xpcall(f, function(e) return h(unwrap(e)) end) end
-- Chunks made at run time get the sandbox as environment, not the thread's globals.
local ENV -- set below
R.loadstring = function(...)
  local f, e = loadstring(...)
  if f then setfenv(f, ENV) end
  return f, e
end
local lua_load = load
R.load = function(...)
  local f, e = lua_load(...)
  if f then setfenv(f, ENV) end
  return f, e
end
for name, f in next, W do R[name] = f end
R.pcall = function(f, ...)
  local function pack(...) return select('#', ...), {...} end
  local n, res = pack(pcall(f, ...))
  if not res[1] then
    local e = unwrap(res[2])
    if type(e) == 'table' then
      local m = e.err
      if type(m) == 'string' or type(m) == 'number' then e = m end
    end
    return false, e
  end
  return unpack(res, 1, n)
end

R.string = protect(string)
R.table = protect(wrap_table_lib())
R.math = protect(MATH)
R.coroutine = protect(coroutine)
R.redis = protect(API)

local STRING_MT_SHOWN = protect({__index = R.string})
local gm = R.getmetatable
R.getmetatable = function(v)
  if type(v) == 'string' then return STRING_MT_SHOWN end
  return gm(v)
end
local string_mt = getmetatable('')
string_mt.__metatable = STRING_MT_SHOWN

P = protect(R, protect({__index = nonexistent}))
R._G = P
setmetatable(R, ERROR_MT)
if mode == 'eval' then R.__redis__err__handler = err_handler end

-- -- the function engine's environment --------------------------------------------------------

ENV = P
local LOAD_API, FENV_MT
if mode == 'function' then
  local lib_redis = {register_function = nil}
  add_log_and_version(lib_redis)
  local lib_redis_proxy = protect(setmetatable(lib_redis, ERROR_MT))
  LOAD_API = setmetatable({redis = lib_redis_proxy}, ERROR_MT)
  FENV_MT = {__index = R, __newindex = refuse_write}
  ENV = setmetatable({}, FENV_MT)
  REAL[ENV] = R
  SHOWN_MT[ENV] = protect({__index = R})
  lib_redis.register_function = function(...)
    local function fail(msg) error({err = 'ERR ' .. msg}) end
    local argc = select('#', ...)
    if argc < 1 or argc > 2 then fail('wrong number of arguments to redis.register_function') end
    local name, cb, desc, flags
    if argc == 1 then
      local t = ...
      if type(t) ~= 'table' then
        fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
      end
      for k, v in next, t do
        if type(k) ~= 'string' and type(k) ~= 'number' then fail('named argument key given to redis.register_function is not a string') end
        local key = slower(tostring(k))
        if key == 'function_name' then
          if type(v) ~= 'string' and type(v) ~= 'number' then fail('function_name argument given to redis.register_function must be a string') end
          name = tostring(v)
        elseif key == 'description' then
          if type(v) ~= 'string' and type(v) ~= 'number' then fail('description argument given to redis.register_function must be a string') end
          desc = tostring(v)
        elseif key == 'callback' then
          if type(v) ~= 'function' then fail('callback argument given to redis.register_function must be a function') end
          cb = v
        elseif key == 'flags' then
          if type(v) ~= 'table' then fail('flags argument to redis.register_function must be a table representing function flags') end
          flags = {}
          local j = 1
          while true do
            local f = v[j]
            if f == nil then break end
            if type(f) ~= 'string' and type(f) ~= 'number' then fail('unknown flag given') end
            f = slower(tostring(f))
            if f ~= 'no-writes' and f ~= 'allow-oom' and f ~= 'allow-stale' and f ~= 'no-cluster' and f ~= 'allow-cross-slot-keys' then
              fail('unknown flag given')
            end
            flags[j] = f
            j = j + 1
          end
        else
          fail('unknown argument given to redis.register_function')
        end
      end
      if not name then fail('redis.register_function must get a function name argument') end
      if not cb then fail('redis.register_function must get a callback argument') end
    else
      local a, b = ...
      if type(a) ~= 'string' and type(a) ~= 'number' then fail('first argument to redis.register_function must be a string') end
      name = tostring(a)
      if type(b) ~= 'function' then fail('second argument to redis.register_function must be a function') end
      cb = b
    end
    local e = py_register(name, cb, desc, flags)
    if e then fail(e) end
  end
end

-- -- the libraries (cjson in Lua; bit, struct, cmsgpack from Python) -------------------------

local function wrap_py(f) return as_function(py_pylib(f)) end
for libname, spec in next, py.libs do
  local t = {}
  for k, v in next, spec do
    if type(v) == 'userdata' then t[k] = wrap_py(v) else t[k] = v end
  end
  R[libname] = protect(t)
end
R.cjson = protect(CJSON)

-- -- hooks ------------------------------------------------------------------------------------------

local KILLED = 'ERR Script killed by user with SCRIPT KILL...'
local function kill_hook() error({err = KILLED}) end
local function count_hook()
  if py_interrupt() then
    sethook(kill_hook, 'l')
    error({err = KILLED})
  end
end

-- -- entry points called from Python ----------------------------------------------------------

local E = {}

function E.where(level)
  local i = getinfo(level + 1, 'Sl')
  if i and i.currentline > 0 then return i.short_src .. ':' .. i.currentline .. ': ' end
  return ''
end

function E.compile(code, chunkname)
  if sbyte(code, 1) == 27 then return nil, 'user_script: bad binary format (precompiled chunk)' end
  local f, err = loadstring(code, chunkname)
  if not f then return nil, err end
  setfenv(f, ENV)
  return f
end

local function finish(ok, res, c3)
  if ok then
    local payload, kind = encode_result(res, c3)
    return kind, payload
  end
  if type(res) ~= 'table' then
    return 4, tostring(res)
  end
  return 3, str_field(res, 'err'), str_field(res, 'source'), str_field(res, 'line'),
         res.ignore_error_stats_update == true
end

local function split(nkeys, ...)
  local all = {...}
  local keys, args = {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, select('#', ...) do args[i - nkeys] = all[i] end
  return keys, args
end

local function run_tables(fn, hook, c3, keys, args)
  script_resp = 2
  local ok, res
  if mode == 'eval' then
    rawset(R, 'KEYS', keys)
    rawset(R, 'ARGV', args)
    if hook then sethook(count_hook, '', 100000) end
    ok, res = xpcall(fn, err_handler)
  else
    if hook then sethook(count_hook, '', 100000) end
    ok, res = xpcall(function() return fn(keys, args) end, err_handler)
  end
  sethook()
  return finish(ok, res, c3)
end
E.run_tables = run_tables

function E.run(fn, hook, c3, nkeys, ...)
  local keys, args = split(nkeys, ...)
  return run_tables(fn, hook, c3, keys, args)
end

local function load_hook()
  if py_load_timeout() then
    sethook(function() error({err = 'ERR FUNCTION LOAD timeout'}) end, 'l')
    error({err = 'ERR FUNCTION LOAD timeout'})
  end
end

function E.load_library(fn)
  FENV_MT.__index = LOAD_API
  sethook(load_hook, '', 100000)
  -- The handler runs with hooks off (an error raised in a hook leaves them off), so it can
  -- remove the timeout's per-line hook before any line of ours runs.
  local ok, e = xpcall(fn, function(err) sethook(); return err end)
  sethook()
  FENV_MT.__index = R
  if ok then return nil end
  if type(e) == 'string' or type(e) == 'number' then return 'ERR ' .. tostring(e) end
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then return tostring(m) end
  end
  return '(null)'
end

ENV_SHOWN = ENV == P and P or ENV
return E
"""
