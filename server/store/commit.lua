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
  else return redis.error_reply('unknown op ' .. tostring(name)) end
end

local function appendEvent(stream, fields)
  local seq = redis.call('INCR', stream.seqKey)
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
