-- Applies one state change together with its audit entries and events, atomically, and publishes
-- what it committed for every node to deliver. Either every precondition holds and everything is
-- written, or nothing is written at all.
--
-- ARGV[1]: a small JSON header (see commit.ts): counts, the audit and event stream keys, the channel.
-- Then, flat (large values are never JSON-escaped twice): each precondition as key, hash field or
-- '', '=' (must equal) or '0' (must not exist), value; each write as its name and arguments; each
-- audit entry's JSON; each event's data JSON.
local header = cjson.decode(ARGV[1])
local at = 2
local function take()
  local value = ARGV[at]
  at = at + 1
  return value
end

local expects = {}
for i = 1, header.expect do
  expects[i] = {take(), take(), take(), take()}
end
for i, expected in ipairs(expects) do
  local key, field, mode, want = expected[1], expected[2], expected[3], expected[4]
  local current
  if field ~= '' then current = redis.call('HGET', key, field) else current = redis.call('GET', key) end
  local matches
  if mode == '0' then matches = (current == false) else matches = (current == want) end
  if not matches then
    return {'CONFLICT', i, current or ''}
  end
end

-- Redis does not roll a script back when a command in it fails, so everything that could make a
-- write fail is checked before the first write.
-- tonumber also reads 'nan', 'inf' and '1.5', which the write itself would refuse half-way.
local function positiveInteger(text)
  local n = tonumber(text)
  return n ~= nil and n == n and n > 0 and n < math.huge and n == math.floor(n)
end
local function score(text)
  local n = tonumber(text)
  return n ~= nil and n == n
end
local arity = {set = 3, del = 1, sadd = 2, srem = 2, hset = 3, hdel = 2, zadd = 3, zrem = 2, pexpire = 2}
local ops = {}
for i = 1, header.ops do
  local name = take()
  if arity[name] == nil then return redis.error_reply('commit: unknown op ' .. tostring(name)) end
  local op = {name}
  for j = 1, arity[name] do
    local value = take()
    if type(value) ~= 'string' then return redis.error_reply('commit: op ' .. i .. ' (' .. name .. ') lacks argument ' .. (j + 1)) end
    op[j + 1] = value
  end
  if name == 'set' and op[4] ~= '' and not positiveInteger(op[4]) then
    return redis.error_reply('commit: op ' .. i .. ' has a bad expiry')
  end
  if (name == 'pexpire' and not positiveInteger(op[3])) or (name == 'zadd' and not score(op[3])) then
    return redis.error_reply('commit: op ' .. i .. ' has a bad number')
  end
  ops[i] = op
end
local entries = {}
for i = 1, #header.audits do entries[i] = take() end
local datas = {}
for i = 1, #header.events do datas[i] = take() end
if at ~= #ARGV + 1 then return redis.error_reply('commit: expected ' .. (at - 1) .. ' arguments, got ' .. #ARGV) end

for _, op in ipairs(ops) do
  local name = op[1]
  if name == 'set' then
    if op[4] ~= '' then
      redis.call('SET', op[2], op[3], 'PX', op[4])
    else
      redis.call('SET', op[2], op[3])
    end
  elseif name == 'del' then redis.call('DEL', op[2])
  elseif name == 'sadd' then redis.call('SADD', op[2], op[3])
  elseif name == 'srem' then redis.call('SREM', op[2], op[3])
  elseif name == 'hset' then redis.call('HSET', op[2], op[3], op[4])
  elseif name == 'hdel' then redis.call('HDEL', op[2], op[3])
  elseif name == 'zadd' then redis.call('ZADD', op[2], op[3], op[4])
  elseif name == 'zrem' then redis.call('ZREM', op[2], op[3])
  elseif name == 'pexpire' then redis.call('PEXPIRE', op[2], op[3])
  end
end

local function appendEvent(stream, fields)
  local seq = redis.call('INCR', stream.seqKey)
  -- The stream's ids must grow: should the counter ever lag the stream (say, a restored backup),
  -- continue after the stream instead of failing half-way through this commit.
  local newest = redis.call('XREVRANGE', stream.eventsKey, '+', '-', 'COUNT', 1)[1]
  if newest then
    local newestSeq = tonumber(string.match(newest[1], '^(%d+)'))
    if newestSeq >= seq then
      seq = newestSeq + 1
      redis.call('SET', stream.seqKey, seq)
    end
  end
  local args = {stream.eventsKey, 'MAXLEN', '~', header.retention, seq .. '-0'}
  for _, value in ipairs(fields) do table.insert(args, value) end
  redis.call('XADD', unpack(args))
  return seq
end

local reply = {'OK', #header.audits}
local published = {}
for i, audit in ipairs(header.audits) do
  local entry = entries[i]
  local auditSeq = redis.call('INCR', audit.auditSeqKey)
  redis.call('ZADD', audit.auditKey, auditSeq, entry)
  -- An index per target, so an entity's activity trail is read without scanning the log.
  redis.call('ZADD', audit.auditKey .. ':target:' .. audit.targetId, auditSeq, auditSeq)
  redis.call('SADD', header.unsealedKey, audit.orgId)
  local eventSeq = appendEvent(audit, {'k', 'audit', 'a', audit.audience, 'd', entry, 'n', tostring(auditSeq)})
  table.insert(reply, auditSeq)
  table.insert(reply, eventSeq)
  table.insert(published, '{"k":"audit","o":' .. cjson.encode(audit.orgId) .. ',"s":' .. eventSeq .. ',"n":' .. auditSeq ..
    ',"a":' .. cjson.encode(audit.audience) .. ',"d":' .. entry .. '}')
end
for i, event in ipairs(header.events) do
  local seq = appendEvent(event, {'k', event.kind, 'a', event.audience, 'd', datas[i]})
  table.insert(reply, seq)
  table.insert(published, '{"k":' .. cjson.encode(event.kind) .. ',"o":' .. cjson.encode(event.orgId) .. ',"s":' .. seq ..
    ',"a":' .. cjson.encode(event.audience) .. ',"d":' .. datas[i] .. '}')
end
-- Subscribers hear this only after the write is in the append-only file (Redis answers clients,
-- subscribers included, after its fsync), so no node delivers an event that could still be lost.
if header.channel and #published > 0 then
  redis.call('PUBLISH', header.channel, header.origin .. '\n[' .. table.concat(published, ',') .. ']')
end
return reply
