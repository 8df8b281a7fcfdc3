-- Applies one state change together with its audit entries and events, atomically, and publishes
-- what it committed for every node to deliver. Either every precondition holds and everything is
-- written, or nothing is written at all.
--
-- Every argument is in ARGV, flat and in a fixed order. commit.ts is their one producer and names
-- every key (from keys.ts); this script builds none.
--   1-4   how many preconditions, writes, audit entries and events follow
--   5-9   the event streams' retention, the set of organizations with unsealed audit entries, the
--         channel to publish on ('' : none), who commits (the origin the channel message names) and
--         the change of access the commit makes (JSON, '' : none; published for every node to apply
--         before it delivers what comes after)
--   then each precondition: key, hash field or '', '=' (must equal) or '0' (must not exist), value
--   then each write: its name and arguments
--   then each audit entry: its event stream's counter and key; the audit counter, log and target
--         index keys; the stream entry's audience; the organization; the start of its channel
--         item's header (kind and organization); the entry (a JSON object)
--   then each event: its stream's counter and key; its kind; its audience; the start of its
--         channel item's header; its data (a JSON object)
local at = 1
local function take()
  local value = ARGV[at]
  at = at + 1
  return value
end
local function takeMany(n)
  local values = {}
  for i = 1, n do values[i] = take() end
  return values
end

local counts = takeMany(4)
for i = 1, 4 do
  counts[i] = tonumber(counts[i])
  if counts[i] == nil then return redis.error_reply('commit: argument ' .. i .. ' must be a count') end
end
local retention, unsealedKey, channel, origin, access = take(), take(), take(), take(), take()

local expects = {}
for i = 1, counts[1] do expects[i] = takeMany(4) end

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
for i = 1, counts[2] do
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
local audits = {}
for i = 1, counts[3] do audits[i] = takeMany(9) end
local events = {}
for i = 1, counts[4] do events[i] = takeMany(6) end
if at ~= #ARGV + 1 then return redis.error_reply('commit: expected ' .. (at - 1) .. ' arguments, got ' .. #ARGV) end
-- Digits only, as XADD's MAXLEN takes them (tonumber would also read '1e3' or '0x10').
if type(retention) ~= 'string' or not string.match(retention, '^[1-9]%d*$') or #retention > 18 then
  return redis.error_reply('commit: the retention must be a positive integer of at most 18 digits')
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

-- A counter's value as text, once per number, in digits (tostring would write 1e+14).
local function digits(n)
  return string.format('%d', n)
end

-- Appends one event to an organization's stream: its kind, audience and data, and for an audit
-- entry its audit sequence number (`auditSeq`; nil for other events).
local function addEvent(eventsKey, seq, kind, audience, data, auditSeq)
  if auditSeq then
    return redis.pcall('XADD', eventsKey, 'MAXLEN', '~', retention, seq .. '-0', 'k', kind, 'a', audience, 'd', data, 'n', auditSeq)
  end
  return redis.pcall('XADD', eventsKey, 'MAXLEN', '~', retention, seq .. '-0', 'k', kind, 'a', audience, 'd', data)
end

-- Appends to an organization's event stream under the next number of its counter; returns that
-- number as text.
local function appendEvent(seqKey, eventsKey, kind, audience, data, auditSeq)
  local seq = digits(redis.call('INCR', seqKey))
  local added = addEvent(eventsKey, seq, kind, audience, data, auditSeq)
  -- The stream's ids must grow: should the counter ever lag the stream (say, a restored backup),
  -- XADD refuses the id, and the event goes after the stream's newest instead of the commit
  -- failing half-way. (Reading the newest entry first would cost every commit a fifth of its time.)
  if type(added) == 'table' and added.err then
    if not string.find(added.err, 'equal or smaller', 1, true) then error(added) end
    -- The id XADD compares with is the last one it generated, even when that entry was deleted.
    local info = redis.call('XINFO', 'STREAM', eventsKey)
    local last
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    local lastSeq = last and tonumber(string.match(last, '^(%d+)'))
    if lastSeq == nil then error(added) end
    seq = digits(lastSeq + 1)
    redis.call('SET', seqKey, seq)
    added = addEvent(eventsKey, seq, kind, audience, data, auditSeq)
    if type(added) == 'table' and added.err then error(added) end
  end
  return seq
end

-- A JSON object as sockets receive it, "seq" added in front: the start up to "seq", and the
-- object's own text after its opening brace (concatenated once, with the rest of the item).
local function seqField(object, seq)
  if object == '{}' then return '{"seq":' .. seq, '}' end
  return '{"seq":' .. seq .. ',', string.sub(object, 2)
end

local reply = {'OK', #audits}
local published = {}
for _, audit in ipairs(audits) do
  local seqKey, eventsKey, auditSeqKey, auditKey, targetKey, audience, orgId, item, entry = unpack(audit)
  local auditSeq = digits(redis.call('INCR', auditSeqKey))
  redis.call('ZADD', auditKey, auditSeq, entry)
  -- An index per target, so an entity's activity trail is read without scanning the log.
  redis.call('ZADD', targetKey, auditSeq, auditSeq)
  redis.call('SADD', unsealedKey, orgId)
  local eventSeq = appendEvent(seqKey, eventsKey, 'audit', audience, entry, auditSeq)
  reply[#reply + 1] = auditSeq
  reply[#reply + 1] = eventSeq
  local head, rest = seqField(entry, auditSeq)
  published[#published + 1] = item .. ' ' .. eventSeq .. ' ' .. audience .. '\n{"seq":' .. eventSeq .. ',"entry":' .. head .. rest .. '}'
end
for _, event in ipairs(events) do
  local seqKey, eventsKey, kind, audience, item, data = unpack(event)
  local seq = appendEvent(seqKey, eventsKey, kind, audience, data, nil)
  reply[#reply + 1] = seq
  local head, rest = seqField(data, seq)
  published[#published + 1] = item .. ' ' .. seq .. ' ' .. audience .. '\n' .. head .. rest
end
-- Subscribers hear this only after the write is in the append-only file (Redis answers clients,
-- subscribers included, after its fsync), so no node delivers an event that could still be lost.
-- Who committed, the change of access ('' : none), then two lines per item: its header (kind,
-- organization, event sequence number, audiences) and the event exactly as sockets receive it, so
-- a node sends it on without reading it (JSON has no raw line breaks).
if channel ~= '' and #published > 0 then
  redis.call('PUBLISH', channel, origin .. '\n' .. access .. '\n' .. table.concat(published, '\n'))
end
return reply
