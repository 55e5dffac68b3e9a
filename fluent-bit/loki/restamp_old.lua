-- hf-audit: keep Loki from refusing late events (used on the Loki path only).
--
-- Loki refuses, with HTTP 400, a line whose timestamp is older than reject_old_samples_max_age
-- (168 h by default) or more than max_chunk_age / 2 (1 h by default) behind the newest line
-- already in its stream, and Fluent Bit's loki output never retries a 400: such lines are lost.
-- A first poll backfills the whole export, months of it, and a sink that was down for a while
-- receives hours-old events: both would be refused.
--
-- So a record whose time (the event's eventTime, set by the hf_audit_json parser) lies more than
-- LOKI_RESTAMP_AFTER_MINUTES (default 50, under the 1 h window) behind the clock is given the
-- current time instead, and `backfilled: true` in its line. The line keeps eventTime untouched,
-- so queries still see when the event happened. A recent record is passed through unchanged.
--
-- Fluent Bit's Lua convention: fn(tag, timestamp, record) -> code, timestamp, record, where
-- timestamp is seconds since the epoch (a float) and code 0 keeps the record as it was, 1 takes
-- the returned timestamp and record.

local DEFAULT_RESTAMP_AFTER_MINUTES = 50

local function restamp_after_seconds()
    local minutes = tonumber(os.getenv("LOKI_RESTAMP_AFTER_MINUTES") or "")
    if minutes == nil or minutes <= 0 then
        minutes = DEFAULT_RESTAMP_AFTER_MINUTES
    end
    return minutes * 60
end

-- Read once, when Fluent Bit loads the script.
local RESTAMP_AFTER_SECONDS = restamp_after_seconds()

function restamp_old_records(tag, timestamp, record)
    local now = os.time()
    if timestamp >= now - RESTAMP_AFTER_SECONDS then
        return 0, timestamp, record
    end
    record["backfilled"] = true
    return 1, now, record
end
