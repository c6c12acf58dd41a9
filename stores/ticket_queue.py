"""One conversation's ticket queue in Redis, changed only by one Lua script.

Why a script: every change (take a ticket, renew a lease, is it my turn,
give the turn back) reads the queue, drops the tickets whose lease ran out
and writes it back; Redis runs a script as one step, so two Rasa instances
can never lose or double a ticket. Expiry is judged by Redis's own clock
(TIME), not by the instances' clocks.

The value is Rasa's ticket-lock format (what RedisLockStore.get_lock reads):

    {"conversation_id": "...", "tickets": ["{\"number\": 0, \"expires\": 1767225605.1, \"token\": \"9f..\"}", ...]}

`expires` is the end of the ticket's lease (renewed while its owner lives);
`token` is random per ticket, so a ticket number reused after the queue
emptied is never mistaken for an old one. The first live ticket is served.
The key expires a second after its last lease, so an abandoned queue goes away
by itself.

Hand-over: whenever the first live ticket changes, the script pushes to
`<key>:wake:<token>` of the new one, on which that ticket's owner waits with
BLPOP: it learns at once that it is its turn. A lease that runs out changes
nothing by itself: the waiter behind it looks again when it ends. Expired
tickets are cleared by the waiters (TURN), which log how many they found.

KEYS[1] the queue; ARGV: operation, token (a number for release_number),
lease in ms (issue, renew), conversation id (issue).
"""

ISSUE, TURN, RENEW, RELEASE, RELEASE_NUMBER, UPDATE = "issue", "turn", "renew", "release", "release_number", "update"
# TURN answers [status, ms until the first lease ends, tickets found expired, the lock's value if YOUR_TURN].
YOUR_TURN, WAIT, GONE = 1, 0, -1
# How long an unread wake-up stays (its waiter died, or it was already served).
WAKE_TTL_MS = 60_000


def wake_key(queue_key: str, token: str) -> str:
    return f"{queue_key}:wake:{token}"


SCRIPT = f"""
local key, op, id = KEYS[1], ARGV[1], ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local conversation_id, tickets = ARGV[4], {{}}

local raw = redis.call('GET', key)
if raw then
  local lock = cjson.decode(raw)
  conversation_id = lock.conversation_id
  for _, encoded in ipairs(lock.tickets) do table.insert(tickets, cjson.decode(encoded)) end
end

local function live(ticket) return ticket.expires > now end

local function first_live()
  for _, ticket in ipairs(tickets) do
    if live(ticket) then return ticket end
  end
end
local served = first_live()

local function find(expired_too)
  for i, ticket in ipairs(tickets) do
    local mine = ticket.token == id or (op == '{RELEASE_NUMBER}' and ticket.number == tonumber(id))
    if mine and (expired_too or live(ticket)) then return i end
  end
end

local function drop(i)
  if tickets[i].token then redis.call('DEL', key .. ':wake:' .. tickets[i].token) end
  table.remove(tickets, i)
end

-- Only a waiter looking for its turn (and update_lock) clears expired tickets,
-- so that it can say how many it found.
local function sweep()
  local expired = 0
  for i = #tickets, 1, -1 do
    if not live(tickets[i]) then
      drop(i)
      expired = expired + 1
    end
  end
  return expired
end

local function save()
  if #tickets == 0 then
    redis.call('DEL', key)
    return false
  end
  local encoded, last = {{}}, now
  for i, ticket in ipairs(tickets) do
    encoded[i] = cjson.encode(ticket)
    if ticket.expires > last then last = ticket.expires end
  end
  local value = cjson.encode({{conversation_id = conversation_id, tickets = encoded}})
  redis.call('SET', key, value, 'PX', math.ceil((last - now) * 1000) + 1000)
  local next = first_live()
  if next and next ~= served and next.token then  -- the turn passed (a ticket of Rasa's own store has no token)
    local wake = key .. ':wake:' .. next.token
    redis.call('RPUSH', wake, 1)
    redis.call('LTRIM', wake, 0, 0)
    redis.call('PEXPIRE', wake, {WAKE_TTL_MS})
  end
  return value
end

if op == '{ISSUE}' then
  local number = 0
  if #tickets > 0 then number = tickets[#tickets].number + 1 end
  table.insert(tickets, {{number = number, expires = now + tonumber(ARGV[3]) / 1000, token = id}})
  save()
  return number
elseif op == '{TURN}' then
  local expired = sweep()
  local i = find(false)
  local value = save()
  if not i then return {{{GONE}, 0, expired}} end
  if i == 1 then return {{{YOUR_TURN}, 0, expired, value}} end
  return {{{WAIT}, math.ceil((tickets[1].expires - now) * 1000), expired}}
elseif op == '{UPDATE}' then
  sweep()
  save()
  return 0
end

local i = find(op ~= '{RENEW}')  -- an expired lease is lost: not renewed, but still given back
if i and op == '{RENEW}' then
  tickets[i].expires = now + tonumber(ARGV[3]) / 1000
elseif i then
  drop(i)
end
save()
if i then return 1 end
return 0
"""
