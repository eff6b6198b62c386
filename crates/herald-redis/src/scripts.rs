//! The Lua scripts that make each step atomic inside Redis.

use std::sync::LazyLock;

use redis::Script;

/// The channel's epoch (`epoch`), created with `ARGV[1]` when missing; a
/// new epoch empties the history stream, whose offsets belonged to the old
/// one. KEYS: meta, history.
const ENSURE_EPOCH: &str = r#"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
end
"#;

/// Publish: remembered idempotent result, or (epoch created if missing)
/// `HINCRBY top` + `XADD` (trimmed to the history size, stream TTL set)
/// + `PUBLISH` + remember the idempotency key — one atomic step, so
///   offsets are unique, gap-free and published in order.
///
/// KEYS: meta, history, [idempotency key].
/// ARGV: fresh epoch, body, history size, history TTL ms (0 = none),
/// pub/sub channel, idempotency window ms.
/// Returns `"{offset} {epoch} {body}"`.
pub(crate) static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    let idempotent_repeat = r#"
if KEYS[3] then
  local prev = redis.call('GET', KEYS[3])
  if prev then return prev end
end
"#;
    Script::new(
        &[
            idempotent_repeat,
            ENSURE_EPOCH,
            r#"
local top = redis.call('HINCRBY', KEYS[1], 'top', 1)
local size = tonumber(ARGV[3])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, top .. '-0', 'p', ARGV[2])
  local ttl = tonumber(ARGV[4])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  else
    redis.call('PERSIST', KEYS[2])
  end
end
local msg = top .. ' ' .. epoch .. ' ' .. ARGV[2]
redis.call('PUBLISH', ARGV[5], msg)
if KEYS[3] then
  redis.call('SET', KEYS[3], msg, 'PX', ARGV[6])
end
return msg
"#,
        ]
        .concat(),
    )
});

/// A member's first connection on this node: store its record; 1 when no
/// other node has the member (push `join`). KEYS: presence hash.
/// ARGV: field (`node\nmember`), member key, record.
pub(crate) const PRESENCE_JOIN: &str = r#"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local suffix = "\n" .. ARGV[2]
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if f ~= ARGV[1] and string.sub(f, -#suffix) == suffix then return 0 end
end
return 1
"#;

/// A member's last connection on this node is gone: delete its record; 1
/// when no other node has the member (push `leave`). KEYS: presence hash.
/// ARGV: field, member key.
pub(crate) const PRESENCE_LEAVE: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
local suffix = "\n" .. ARGV[2]
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, -#suffix) == suffix then return 0 end
end
return 1
"#;

/// This node's first subscription to a channel: store its count; 1 when
/// no node had one before (the channel is now occupied). KEYS: occupancy
/// hash. ARGV: node id, count.
pub(crate) const OCCUPY: &str = r#"
local before = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if before == 0 then return 1 end
return 0
"#;

/// This node's last subscription to a channel is gone (or the node died):
/// delete its count; 1 when that was the last node with one (the channel
/// is now vacated). KEYS: occupancy hash. ARGV: node id.
pub(crate) const VACATE: &str = r#"
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 and redis.call('HLEN', KEYS[1]) == 0 then return 1 end
return 0
"#;

/// History: the channel's epoch (created if missing) and top, and a range
/// of entries, read atomically (every offset up to `top` is in the range
/// unless trimmed).
///
/// KEYS: meta, history. ARGV: fresh epoch, `f` or `b`, start id, end id,
/// limit (0 = no rows). Returns `{epoch, top, entries}`.
pub(crate) static HISTORY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            ENSURE_EPOCH,
            r#"
local top = tonumber(redis.call('HGET', KEYS[1], 'top'))
local limit = tonumber(ARGV[5])
local rows = {}
if limit > 0 then
  if ARGV[2] == 'f' then
    rows = redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[4], 'COUNT', limit)
  else
    rows = redis.call('XREVRANGE', KEYS[2], ARGV[4], ARGV[3], 'COUNT', limit)
  end
end
return {epoch, top, rows}
"#,
        ]
        .concat(),
    )
});
