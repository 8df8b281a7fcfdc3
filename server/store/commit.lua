-- Applies one state change together with its audit entries and events, atomically.
-- ARGV[1]: JSON plan (see commit.ts). Either every precondition holds and everything is written,
-- or nothing is written at all.
local plan = cjson.decode(ARGV[1])

for i, expected in ipairs(plan.expect) do
  local key, want = expected[1], expected[2]
  local current
  if expected[3] ~= nil and expected[3] ~= cjson.null then
    current = redis.call('HGET', key, expected[3])
  else
    current = redis.call('GET', key)
  end
  local matches
  if want == cjson.null then matches = (current == false) else matches = (current == want) end
  if not matches then
    return {'CONFLICT', i, current or ''}
  end
end

-- Redis does not roll a script back when a command in it fails, so everything that could make a
-- write fail is checked before the first write.
local arity = {set = 3, del = 2, sadd = 3, srem = 3, hset = 4, hdel = 3, zadd = 4, zrem = 3, pexpire = 3}
for i, op in ipairs(plan.ops) do
  local name = op[1]
  if arity[name] == nil then return redis.error_reply('commit: unknown op ' .. tostring(name)) end
  for j = 2, arity[name] do
    if type(op[j]) ~= 'string' then return redis.error_reply('commit: op ' .. i .. ' (' .. name .. ') lacks argument ' .. j) end
  end
  if name == 'set' and op[4] ~= nil and op[4] ~= cjson.null and (tonumber(op[4]) == nil or tonumber(op[4]) <= 0) then
    return redis.error_reply('commit: op ' .. i .. ' has a bad expiry')
  end
  if (name == 'pexpire' and (tonumber(op[3]) == nil or tonumber(op[3]) <= 0)) or (name == 'zadd' and tonumber(op[3]) == nil) then
    return redis.error_reply('commit: op ' .. i .. ' has a bad number')
  end
end

for _, op in ipairs(plan.ops) do
  local name = op[1]
  if name == 'set' then
    if op[4] ~= nil and op[4] ~= cjson.null then
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
  local args = {stream.eventsKey, 'MAXLEN', '~', stream.retention, seq .. '-0'}
  for _, value in ipairs(fields) do table.insert(args, value) end
  redis.call('XADD', unpack(args))
  return seq
end

local reply = {'OK', #plan.audits}
for _, audit in ipairs(plan.audits) do
  local auditSeq = redis.call('INCR', audit.auditSeqKey)
  redis.call('ZADD', audit.auditKey, auditSeq, audit.entry)
  -- An index per target, so an entity's activity trail is read without scanning the log.
  redis.call('ZADD', audit.auditKey .. ':target:' .. audit.targetId, auditSeq, auditSeq)
  redis.call('SADD', audit.unsealedKey, audit.orgId)
  local eventSeq = appendEvent(audit, {'k', 'audit', 'a', audit.audience, 'd', audit.entry, 'n', tostring(auditSeq)})
  table.insert(reply, auditSeq)
  table.insert(reply, eventSeq)
end
for _, event in ipairs(plan.events) do
  table.insert(reply, appendEvent(event, {'k', event.kind, 'a', event.audience, 'd', event.data}))
end
return reply
