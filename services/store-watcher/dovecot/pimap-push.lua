-- pimap store-watcher push driver for Dovecot 2.3 (push_notification Lua driver, shipped in
-- dovecot-core: lib22_push_notification_lua_plugin.so). Unlike the OX driver it reports every kind of
-- change: new/appended, expunged, flags, mailbox created/deleted/renamed. One HTTP POST per mail
-- transaction, JSON v1 as documented in services/store-watcher/src/hook_payload.hpp.
--
-- dovecot.conf:
--   mail_plugins = $mail_plugins notify push_notification mail_lua push_notification_lua
--   plugin {
--     push_notification_driver = lua:file=/etc/dovecot/pimap-push.lua
--     pimap_push_url = http://127.0.0.1:8080/dovecot/lua
--   }
--
-- The intake answers only after the events are durably in Kafka. A failed POST is logged here and
-- otherwise ignored: the store-watcher's MODSEQ reconcile finds the change later.
--
-- Runs inside every mail process (LMTP, IMAP), as the mail user's uid: the file must be readable by
-- all of them. Checked against Dovecot 2.3.19 (scripts/stack renders this setup;
-- integration-tests/test_store_watcher_events.py drives it with real clients). Dovecot's events give
-- mailbox names only for create/rename/delete; the status block below carries their UIDVALIDITY.

local http_client = nil

local function json_string(s)
  s = tostring(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    if c == '\n' then return '\\n' end
    if c == '\r' then return '\\r' end
    if c == '\t' then return '\\t' end
    return string.format('\\u%04x', c:byte())
  end)
  return '"' .. s .. '"'
end

local function json(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v == math.floor(v) then return string.format("%d", v) end
    return tostring(v)
  end
  if t == "string" then return json_string(v) end
  if t == "table" then
    if v.__array then
      local out = {}
      for i = 1, #v do out[#out + 1] = json(v[i]) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local out = {}
    for k, val in pairs(v) do
      if k ~= "__array" then out[#out + 1] = json_string(k) .. ":" .. json(val) end
    end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return "null"
end

local function array(t)
  local a = { __array = true }
  for i, x in ipairs(t or {}) do a[i] = x end
  return a
end

function dovecot_lua_notify_begin_txn(user)
  return { user = user, events = array({}), mailboxes = {} }
end

local function add(ctx, e)
  ctx.events[#ctx.events + 1] = e
  if e.mailbox then ctx.mailboxes[e.mailbox] = true end
end

local function message_new(ctx, event)
  add(ctx, { type = event.name, mailbox = event.mailbox, uidvalidity = event.uid_validity, uid = event.uid,
             from = event.from, subject = event.subject, date = event.date })
end

dovecot_lua_notify_event_message_new = message_new
dovecot_lua_notify_event_message_append = message_new

function dovecot_lua_notify_event_message_expunge(ctx, event)
  add(ctx, { type = "MessageExpunge", mailbox = event.mailbox, uidvalidity = event.uid_validity, uid = event.uid })
end

-- Dovecot tells which flags changed, not the full set: "changed" only; the watcher then asks the store.
function dovecot_lua_notify_event_flags_set(ctx, event)
  local changed = {}
  for _, f in ipairs(event.flags or {}) do changed[#changed + 1] = f end
  for _, k in ipairs(event.keywords_set or {}) do changed[#changed + 1] = k end
  add(ctx, { type = "FlagsSet", mailbox = event.mailbox, uidvalidity = event.uid_validity, uid = event.uid,
             changed = array(changed) })
end

function dovecot_lua_notify_event_flags_clear(ctx, event)
  local changed = {}
  for _, f in ipairs(event.flags or {}) do changed[#changed + 1] = f end
  for _, k in ipairs(event.keywords_clear or {}) do changed[#changed + 1] = k end
  add(ctx, { type = "FlagsClear", mailbox = event.mailbox, uidvalidity = event.uid_validity, uid = event.uid,
             changed = array(changed) })
end

function dovecot_lua_notify_event_mailbox_create(ctx, event)
  add(ctx, { type = "MailboxCreate", mailbox = event.mailbox })
end

function dovecot_lua_notify_event_mailbox_delete(ctx, event)
  add(ctx, { type = "MailboxDelete", mailbox = event.mailbox })
end

function dovecot_lua_notify_event_mailbox_rename(ctx, event)
  add(ctx, { type = "MailboxRename", mailbox = event.mailbox,
             old_mailbox = event.old_mailbox or event.mailbox_old })
end

-- Mailbox status after the transaction, so the events carry UIDNEXT/HIGHESTMODSEQ/UNSEEN.
local function status_of(user, name)
  local ok, result = pcall(function()
    local mbox = user:mailbox(name)
    mbox:sync()
    local s = mbox:status(dovecot.storage.STATUS_MESSAGES, dovecot.storage.STATUS_UIDNEXT,
                          dovecot.storage.STATUS_UIDVALIDITY, dovecot.storage.STATUS_UNSEEN,
                          dovecot.storage.STATUS_HIGHESTMODSEQ)
    mbox:free()
    return { messages = s.messages, uidnext = s.uidnext, uidvalidity = s.uidvalidity, unseen = s.unseen,
             highestmodseq = s.highest_modseq }
  end)
  if ok then return result end
  return nil
end

function dovecot_lua_notify_end_txn(ctx, success)
  if success == false or #ctx.events == 0 then return end
  local user = ctx.user
  local url = user:plugin_getenv("pimap_push_url")
  if url == nil or url == "" then
    dovecot.i_error("pimap-push: plugin setting pimap_push_url is not set")
    return
  end
  local status = {}
  for name, _ in pairs(ctx.mailboxes) do
    -- A deleted mailbox has no status; pcall keeps that from failing the notification.
    status[name] = status_of(user, name)
  end
  local body = json({ v = 1, user = user.username, events = ctx.events, status = status })
  if http_client == nil then
    http_client = dovecot.http.client({ timeout = 2000, max_attempts = 1, debug = false })
  end
  local req = http_client:request({ url = url, method = "POST" })
  req:add_header("Content-Type", "application/json")
  req:set_payload(body)
  local res = req:submit()
  if res:status() ~= 200 then
    -- The intake's answer body says why (field names, never the payload); older Dovecots lack payload().
    local detail = ""
    local ok, text = pcall(function() return res:payload() end)
    if ok and type(text) == "string" and text ~= "" then detail = ": " .. (text:gsub("%s+$", "")):sub(1, 300) end
    dovecot.i_error("pimap-push: " .. url .. " answered " .. res:status() .. " " .. tostring(res:reason()) .. detail)
  end
end
