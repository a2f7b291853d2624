/**
 * The Lua scripts of RedisStore (layout of the keys: see redis-store.ts).
 *
 * Every script gets the same KEYS, in the order of `keyNames`, so that the
 * TypeScript side has one list to pass and Redis Cluster can check that they
 * share one hash slot. A Lua script runs alone on the server: each mutation is
 * one script that checks all its preconditions before its first write, so it
 * applies in full or not at all, and two replicas racing are serialised.
 *
 * Mutation scripts share ARGV[1..4]:
 *   1 the version to start from when the version key is missing (a fresh or
 *     wiped Redis): the caller's clock in ms, so versions keep growing when
 *     Redis loses its data, as MemoryStore's do across restarts;
 *   2 a deadline in Redis server time (ms): a script that starts later than
 *     this refuses with EXPIRED. The caller has given up by then (its command
 *     timed out and it answered StoreUnavailable), so a mutation held up by a
 *     stalled server must not apply behind its back;
 *   3 how many entries the change log keeps;
 *   4 the channel to PUBLISH the new version on.
 * They answer an array whose first element is a status (see ScriptStatus).
 *
 * Lua's cjson turns an empty array into {}, so scripts never re-encode a
 * distribution: the caller sends it as JSON without configVersion, and
 * stamp() appends the field. JSON strings written by Lua (ids in removedIds)
 * go through cjson.encode, which escapes them correctly.
 */

export const keyNames = [
  "version",
  "dists",
  "hosts",
  "callerrefs",
  "used-ids",
  "used-domains",
  "log",
  "watchers",
  "watcher-expiry",
  "public-keys",
  "public-key-refs",
  "used-public-key-ids",
] as const;

export const ScriptStatus = {
  Ok: "OK",
  /** The deadline (ARGV[2]) had passed when the script started. */
  Expired: "EXPIRED",
  NotFound: "NOT_FOUND",
  /** Id or domain name taken now or before. */
  Exists: "EXISTS",
  /** [owner id] */
  CallerReference: "CALLER_REFERENCE",
  /** [max] */
  Quota: "QUOTA",
  /** [cname, owner id] */
  Cname: "CNAME",
  /** [current etag] */
  Precondition: "PRECONDITION",
  NotDisabled: "NOT_DISABLED",
  /** The entry changed since the caller read it: read again and retry. */
  Conflict: "CONFLICT",
  /** [what] a stored entry does not decode, or a key has the wrong type. */
  Corrupt: "CORRUPT",
  /** changesSince / logSince: the version is the current one. */
  Same: "SAME",
  /** changesSince / logSince: the log no longer (or never) had the version. */
  Unknown: "UNKNOWN",
} as const;
export type ScriptStatus = (typeof ScriptStatus)[keyof typeof ScriptStatus];

const prelude = `
local K_VERSION, K_DISTS, K_HOSTS, K_REFS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_USED_IDS, K_USED_DOMAINS, K_LOG = KEYS[5], KEYS[6], KEYS[7]
local K_WATCHERS, K_WATCHER_EXPIRY = KEYS[8], KEYS[9]
local K_PKEYS, K_PKEY_REFS, K_USED_PKEY_IDS = KEYS[10], KEYS[11], KEYS[12]

local function fmt(n)
  return string.format('%d', n)
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The current version, first setting it to ARGV[1] when missing.
local function current_version()
  local v = redis.call('GET', K_VERSION)
  if v then return tonumber(v) end
  redis.call('SET', K_VERSION, ARGV[1])
  return tonumber(ARGV[1])
end

local function expired()
  return now_ms() > tonumber(ARGV[2])
end

-- Redis does not undo a script that fails halfway, so every writing script
-- first makes sure no write can fail: each key is missing or of its type,
-- and the version is an integer. Answers what is wrong, or nil.
local key_types = {'string', 'hash', 'hash', 'hash', 'set', 'set', 'zset', 'hash', 'zset', 'hash', 'hash', 'set'}
local function bad_keys()
  for i = 1, #key_types do
    local t = redis.call('TYPE', KEYS[i])['ok']
    if t ~= 'none' and t ~= key_types[i] then return 'key ' .. KEYS[i] .. ' holds a ' .. t end
  end
  local v = redis.call('GET', K_VERSION)
  if v and not string.match(v, '^%d+$') then return 'key ' .. K_VERSION .. ' holds ' .. v end
  local init = ARGV[1]
  if not string.match(init, '^%d+$') then return 'the initial version ' .. init .. ' is not a number' end
  return nil
end

-- The stored form: the caller's JSON object with configVersion appended.
local function stamp(body, v)
  return string.sub(body, 1, -2) .. ',"configVersion":' .. fmt(v) .. '}'
end

-- Bumps the version by one (to current_version() + 1, which stamp() used),
-- logs the change (distributions, then public keys: absent means none),
-- trims the log, announces it.
local function commit(upserts_json, removed_json, key_upserts_json, key_removed_json)
  current_version()
  local v = redis.call('INCR', K_VERSION)
  local entry = '{"version":' .. fmt(v) .. ',"upserts":' .. upserts_json ..
    ',"removedIds":' .. removed_json ..
    ',"publicKeyUpserts":' .. (key_upserts_json or '[]') ..
    ',"removedPublicKeyIds":' .. (key_removed_json or '[]') .. '}'
  redis.call('ZADD', K_LOG, fmt(v), entry)
  redis.call('ZREMRANGEBYRANK', K_LOG, 0, -(tonumber(ARGV[3]) + 1))
  redis.call('PUBLISH', ARGV[4], fmt(v))
  return v
end
`;

/**
 * ARGV[5] id, [6] domain name, [7] caller reference, [8] unstamped JSON,
 * [9] max distributions (-1: none), [10..] CNAMEs.
 * Checks in MemoryStore's order: exists, caller reference, quota, CNAMEs.
 */
const create = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, domain, ref, body = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local max = tonumber(ARGV[9])
if redis.call('SISMEMBER', K_USED_IDS, id) == 1 or redis.call('SISMEMBER', K_USED_DOMAINS, domain) == 1
    or redis.call('HEXISTS', K_HOSTS, domain) == 1 then
  return {'EXISTS'}
end
local ref_owner = redis.call('HGET', K_REFS, ref)
if ref_owner then return {'CALLER_REFERENCE', ref_owner} end
if max >= 0 and redis.call('HLEN', K_DISTS) >= max then return {'QUOTA', max} end
for i = 10, #ARGV do
  local owner = redis.call('HGET', K_HOSTS, ARGV[i])
  if owner then return {'CNAME', ARGV[i], owner} end
end
local stored = stamp(body, current_version() + 1)
redis.call('HSET', K_DISTS, id, stored)
redis.call('HSET', K_HOSTS, domain, id)
for i = 10, #ARGV do redis.call('HSET', K_HOSTS, ARGV[i], id) end
redis.call('HSET', K_REFS, ref, id)
redis.call('SADD', K_USED_IDS, id)
redis.call('SADD', K_USED_DOMAINS, domain)
local committed = commit('[' .. stored .. ']', '[]')
return {'OK', committed}
`;

/**
 * ARGV[5] id, [6] the stored JSON the caller read (compare-and-set: the
 * caller validated If-Match and built the new config from it), [7] the new
 * unstamped JSON, [8] domain name, [9] how many old CNAMEs follow,
 * [10..] old CNAMEs then new CNAMEs.
 */
const update = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, expected, body, domain = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local old_count = tonumber(ARGV[9])
local current = redis.call('HGET', K_DISTS, id)
if not current then return {'NOT_FOUND'} end
if current ~= expected then return {'CONFLICT'} end
for i = 10 + old_count, #ARGV do
  local owner = redis.call('HGET', K_HOSTS, ARGV[i])
  if owner and owner ~= id then return {'CNAME', ARGV[i], owner} end
end
for i = 10, 9 + old_count do
  if redis.call('HGET', K_HOSTS, ARGV[i]) == id then redis.call('HDEL', K_HOSTS, ARGV[i]) end
end
-- Set again after the removals, in case the domain name was also a CNAME.
redis.call('HSET', K_HOSTS, domain, id)
for i = 10 + old_count, #ARGV do redis.call('HSET', K_HOSTS, ARGV[i], id) end
local stored = stamp(body, current_version() + 1)
redis.call('HSET', K_DISTS, id, stored)
local committed = commit('[' .. stored .. ']', '[]')
return {'OK', committed}
`;

/** ARGV[5] id, [6] '1' when If-Match is given, [7] If-Match, [8] '1' to require disabled. */
const remove = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, has_if_match, if_match, require_disabled = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local current = redis.call('HGET', K_DISTS, id)
if not current then return {'NOT_FOUND'} end
local ok, d = pcall(cjson.decode, current)
if not ok or type(d) ~= 'table' or type(d.etag) ~= 'string' or type(d.domainName) ~= 'string'
    or type(d.cnames) ~= 'table' or type(d.callerReference) ~= 'string' then
  return {'CORRUPT', 'distribution ' .. id .. ' in ' .. K_DISTS .. ' does not decode'}
end
if has_if_match == '1' and d.etag ~= if_match then return {'PRECONDITION', d.etag} end
if require_disabled == '1' and d.enabled ~= false then return {'NOT_DISABLED'} end
if redis.call('HGET', K_HOSTS, d.domainName) == id then redis.call('HDEL', K_HOSTS, d.domainName) end
for _, cname in ipairs(d.cnames) do
  if type(cname) == 'string' and redis.call('HGET', K_HOSTS, cname) == id then
    redis.call('HDEL', K_HOSTS, cname)
  end
end
if redis.call('HGET', K_REFS, d.callerReference) == id then redis.call('HDEL', K_REFS, d.callerReference) end
redis.call('HDEL', K_DISTS, id)
local committed = commit('[]', '[' .. cjson.encode(id) .. ']')
return {'OK', committed}
`;

/**
 * ARGV[5] id, [6] the stored JSON the caller read, [7] the new stored JSON
 * (same configVersion: tags are not config, so no version, log or PUBLISH).
 */
const putTags = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, expected, stored = ARGV[5], ARGV[6], ARGV[7]
local current = redis.call('HGET', K_DISTS, id)
if not current then return {'NOT_FOUND'} end
if current ~= expected then return {'CONFLICT'} end
redis.call('HSET', K_DISTS, id, stored)
return {'OK'}
`;

/**
 * → {version, n, id, json … (n distribution pairs), id, json … (public
 * keys)} read at one instant.
 */
const snapshot = `${prelude}
local all = redis.call('HGETALL', K_DISTS)
local out = {current_version(), #all / 2}
for i = 1, #all do out[#out + 1] = all[i] end
local keys = redis.call('HGETALL', K_PKEYS)
for i = 1, #keys do out[#out + 1] = keys[i] end
return out
`;

/**
 * → {version, n, id … (n distribution ids), id … (public-key ids)}: where a
 * store starts delivering from (nothing decoded, so bad entries cannot block it).
 */
const baseline = `${prelude}
local ids = redis.call('HKEYS', K_DISTS)
local out = {current_version(), #ids}
for i = 1, #ids do out[#out + 1] = ids[i] end
local keys = redis.call('HKEYS', K_PKEYS)
for i = 1, #keys do out[#out + 1] = keys[i] end
return out
`;

/**
 * ARGV[5] id, [6] caller reference, [7] unstamped JSON, [8] max keys (-1: none).
 * Checks in MemoryStore's order: id used, caller reference, quota.
 */
const createPublicKey = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, ref, body = ARGV[5], ARGV[6], ARGV[7]
local max = tonumber(ARGV[8])
if redis.call('SISMEMBER', K_USED_PKEY_IDS, id) == 1 then return {'EXISTS'} end
local ref_owner = redis.call('HGET', K_PKEY_REFS, ref)
if ref_owner then return {'CALLER_REFERENCE', ref_owner} end
if max >= 0 and redis.call('HLEN', K_PKEYS) >= max then return {'QUOTA', max} end
local stored = stamp(body, current_version() + 1)
redis.call('HSET', K_PKEYS, id, stored)
redis.call('HSET', K_PKEY_REFS, ref, id)
redis.call('SADD', K_USED_PKEY_IDS, id)
local committed = commit('[]', '[]', '[' .. stored .. ']', '[]')
return {'OK', committed}
`;

/** ARGV[5] id, [6] the stored JSON the caller read (compare-and-set), [7] the new unstamped JSON. */
const updatePublicKey = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, expected, body = ARGV[5], ARGV[6], ARGV[7]
local current = redis.call('HGET', K_PKEYS, id)
if not current then return {'NOT_FOUND'} end
if current ~= expected then return {'CONFLICT'} end
local stored = stamp(body, current_version() + 1)
redis.call('HSET', K_PKEYS, id, stored)
local committed = commit('[]', '[]', '[' .. stored .. ']', '[]')
return {'OK', committed}
`;

/** ARGV[5] id, [6] '1' when If-Match is given, [7] If-Match. */
const deletePublicKey = `${prelude}
if expired() then return {'EXPIRED'} end
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local id, has_if_match, if_match = ARGV[5], ARGV[6], ARGV[7]
local current = redis.call('HGET', K_PKEYS, id)
if not current then return {'NOT_FOUND'} end
local ok, k = pcall(cjson.decode, current)
if not ok or type(k) ~= 'table' or type(k.etag) ~= 'string' or type(k.callerReference) ~= 'string' then
  return {'CORRUPT', 'public key ' .. id .. ' in ' .. K_PKEYS .. ' does not decode'}
end
if has_if_match == '1' and k.etag ~= if_match then return {'PRECONDITION', k.etag} end
if redis.call('HGET', K_PKEY_REFS, k.callerReference) == id then redis.call('HDEL', K_PKEY_REFS, k.callerReference) end
redis.call('HDEL', K_PKEYS, id)
local committed = commit('[]', '[]', '[]', '[' .. cjson.encode(id) .. ']')
return {'OK', committed}
`;

/** ARGV[2] caller reference → {} or {json} */
const publicKeyByCallerReference = `${prelude}
local id = redis.call('HGET', K_PKEY_REFS, ARGV[2])
if not id then return {} end
local k = redis.call('HGET', K_PKEYS, id)
if not k then return {} end
return {k}
`;

/** → {version} */
const version = `${prelude}
return {current_version()}
`;

/** ARGV[2] caller reference → {} or {json} */
const byCallerReference = `${prelude}
local id = redis.call('HGET', K_REFS, ARGV[2])
if not id then return {} end
local d = redis.call('HGET', K_DISTS, id)
if not d then return {} end
return {d}
`;

/**
 * ARGV[2] a version → {current, status, …}. OK is followed by the log
 * entries after that version, oldest first (each one version's change).
 */
const logSince = `${prelude}
local cur = current_version()
local since = tonumber(ARGV[2])
if since == cur then return {cur, 'SAME'} end
if since > cur or #redis.call('ZRANGEBYSCORE', K_LOG, fmt(since + 1), fmt(since + 1)) == 0 then
  return {cur, 'UNKNOWN'}
end
local out = {cur, 'OK'}
local entries = redis.call('ZRANGEBYSCORE', K_LOG, '(' .. fmt(since), '+inf')
for i = 1, #entries do out[#out + 1] = entries[i] end
return out
`;

/**
 * ARGV[2] a version → {current, status, …}. OK is followed by pairs: 'U' and
 * the current JSON of a distribution changed since, or 'R' and the id of one
 * removed since, then 'KU'/'KR' likewise for public keys — the merge of
 * every change after that version.
 */
const changesSince = `${prelude}
local cur = current_version()
local since = tonumber(ARGV[2])
if since == cur then return {cur, 'SAME'} end
if since > cur or #redis.call('ZRANGEBYSCORE', K_LOG, fmt(since + 1), fmt(since + 1)) == 0 then
  return {cur, 'UNKNOWN'}
end
local touched, order = {}, {}
local key_touched, key_order = {}, {}
local entries = redis.call('ZRANGEBYSCORE', K_LOG, '(' .. fmt(since), '+inf')
local function touch(id)
  if type(id) == 'string' and not touched[id] then
    touched[id] = true
    order[#order + 1] = id
  end
end
local function touch_key(id)
  if type(id) == 'string' and not key_touched[id] then
    key_touched[id] = true
    key_order[#key_order + 1] = id
  end
end
for i = 1, #entries do
  local ok, e = pcall(cjson.decode, entries[i])
  if not ok or type(e) ~= 'table' or type(e.upserts) ~= 'table' or type(e.removedIds) ~= 'table' then
    return {cur, 'CORRUPT', 'entry ' .. i .. ' after version ' .. ARGV[2] .. ' in ' .. K_LOG .. ' does not decode'}
  end
  for _, d in ipairs(e.upserts) do
    if type(d) == 'table' then touch(d.id) end
  end
  for _, id in ipairs(e.removedIds) do touch(id) end
  -- Entries written before public keys existed have neither field.
  if type(e.publicKeyUpserts) == 'table' then
    for _, k in ipairs(e.publicKeyUpserts) do
      if type(k) == 'table' then touch_key(k.id) end
    end
  end
  if type(e.removedPublicKeyIds) == 'table' then
    for _, id in ipairs(e.removedPublicKeyIds) do touch_key(id) end
  end
end
local out = {cur, 'OK'}
for _, id in ipairs(order) do
  local d = redis.call('HGET', K_DISTS, id)
  if d then
    out[#out + 1] = 'U'
    out[#out + 1] = d
  else
    out[#out + 1] = 'R'
    out[#out + 1] = id
  end
end
for _, id in ipairs(key_order) do
  local k = redis.call('HGET', K_PKEYS, id)
  if k then
    out[#out + 1] = 'KU'
    out[#out + 1] = k
  else
    out[#out + 1] = 'KR'
    out[#out + 1] = id
  end
end
return out
`;

/**
 * Watchers live in a hash (nodeId → JSON) beside a sorted set of expiry
 * times; expiry uses the Redis server's clock, the one clock every
 * controller replica shares. Expired entries are removed as they are met.
 */
const pruneWatchers = `
local function prune_watchers(now)
  local gone = redis.call('ZRANGEBYSCORE', K_WATCHER_EXPIRY, '-inf', fmt(now))
  for i = 1, #gone do redis.call('HDEL', K_WATCHERS, gone[i]) end
  redis.call('ZREMRANGEBYSCORE', K_WATCHER_EXPIRY, '-inf', fmt(now))
end
`;

/** ARGV[2] node id, [3] JSON, [4] ttl ms → {'OK', expiresAtMs} */
const heartbeat = `${prelude}${pruneWatchers}
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
local now = now_ms()
prune_watchers(now)
local expires = now + tonumber(ARGV[4])
redis.call('HSET', K_WATCHERS, ARGV[2], ARGV[3])
redis.call('ZADD', K_WATCHER_EXPIRY, fmt(expires), ARGV[2])
return {'OK', expires}
`;

/** ARGV[2] node id */
const dropWatcher = `${prelude}
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
redis.call('HDEL', K_WATCHERS, ARGV[2])
redis.call('ZREM', K_WATCHER_EXPIRY, ARGV[2])
return {'OK'}
`;

/** → {'OK', nodeId, expiresAtMs, json, …} of the live watchers */
const liveWatchers = `${prelude}${pruneWatchers}
local bad = bad_keys()
if bad then return {'CORRUPT', bad} end
prune_watchers(now_ms())
local out = {'OK'}
local live = redis.call('ZRANGE', K_WATCHER_EXPIRY, 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  local w = redis.call('HGET', K_WATCHERS, live[i])
  if w then
    out[#out + 1] = live[i]
    out[#out + 1] = live[i + 1]
    out[#out + 1] = w
  end
end
return out
`;

/** Script name (an ioredis command defined on the client) → Lua source. */
export const scripts = {
  sfCreate: create,
  sfUpdate: update,
  sfDelete: remove,
  sfPutTags: putTags,
  sfSnapshot: snapshot,
  sfBaseline: baseline,
  sfVersion: version,
  sfByCallerReference: byCallerReference,
  sfLogSince: logSince,
  sfChangesSince: changesSince,
  sfHeartbeat: heartbeat,
  sfDropWatcher: dropWatcher,
  sfLiveWatchers: liveWatchers,
  sfCreatePublicKey: createPublicKey,
  sfUpdatePublicKey: updatePublicKey,
  sfDeletePublicKey: deletePublicKey,
  sfPublicKeyByCallerReference: publicKeyByCallerReference,
} as const;
export type ScriptName = keyof typeof scripts;
