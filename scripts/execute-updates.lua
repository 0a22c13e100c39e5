-- execute-updates: deploys the newest APPROVED update of each image through the deploy webhook,
-- marks it EXECUTED (or FAILED with the reason) and mails staff either way. An older APPROVED
-- update of the same image is never deployed after a newer one (no downgrade): approving the
-- newer one supersedes it, and any left from before that rule are marked SUPERSEDED here. A
-- failed deploy fails the run, so metrics and the weekly summary count it.
local templates = require("templates")
local p = job.params
local done, failures = {}, {}

-- The newest approved version per image; the rest are closed without a deploy.
local newest, order = {}, {}
for _, a in ipairs(assert(approvals.list{kind = "update", status = "APPROVED"})) do
  local image = a.payload.image or ""
  local best = newest[image]
  if not best then
    newest[image] = a
    order[#order + 1] = image
  elseif semver.compare(a.payload.version, best.payload.version) > 0 then
    newest[image] = a
    assert(approvals.mark_superseded(best.id, "not deployed: approval " .. a.id .. " (" .. a.payload.version .. ") is newer"))
  else
    assert(approvals.mark_superseded(a.id, "not deployed: approval " .. best.id .. " (" .. best.payload.version .. ") is newer"))
  end
end
table.sort(order, function(x, y) return newest[x].id < newest[y].id end)

for _, image in ipairs(order) do
  local a = newest[image]
  local headers = {}
  if p.webhook_token and p.webhook_token ~= "" then headers.Authorization = "Bearer " .. p.webhook_token end
  local r, err = http.post(p.webhook, {headers = headers, timeout = 60,
                                       json = {approval = a.id, image = a.payload.image,
                                               from = a.payload.current, to = a.payload.version}})
  local ok = r and r.ok
  local why = err or (r and ("the webhook answered " .. r.status .. ": " .. r.body:sub(1, 200)))
  local d = {id = a.id, version = a.payload.version, current = a.payload.current,
             status = r and r.status, error = why}
  local m, marked, mark_err
  if ok then
    marked, mark_err = approvals.mark_executed(a.id, "webhook " .. r.status .. ": " .. r.body:sub(1, 500))
    m = templates.update_executed(d)
  else
    marked, mark_err = approvals.mark_failed(a.id, why)
    m = templates.update_failed(d)
  end
  mail.send{to = p.notify, subject = m.subject, text = m.text, html = m.html}
  if not ok then failures[#failures + 1] = "approval " .. a.id .. " (" .. d.version .. "): " .. why end
  -- e.g. a person approved a newer version during the deploy: say so rather than hide it
  if not marked then failures[#failures + 1] = "approval " .. a.id .. " (" .. d.version .. "): " .. mark_err end
  done[#done + 1] = {id = a.id, version = d.version, executed = ok and true or false}
end
log.info(#done, " approved update(s) handled")
if #failures > 0 then error("deploy failed: " .. table.concat(failures, "; "), 0) end
return {handled = done}
