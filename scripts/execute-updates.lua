-- execute-updates: for every APPROVED update, POST the deploy webhook, then mark the approval
-- EXECUTED (or FAILED with the reason) and mail staff either way.
local templates = require("templates")
local p = job.params
local done = {}

for _, a in ipairs(assert(approvals.list{kind = "update", status = "APPROVED"})) do
  local headers = {}
  if p.webhook_token and p.webhook_token ~= "" then headers.Authorization = "Bearer " .. p.webhook_token end
  local r, err = http.post(p.webhook, {headers = headers, timeout = 60,
                                       json = {approval = a.id, image = a.payload.image,
                                               from = a.payload.current, to = a.payload.version}})
  local ok = r and r.ok
  local why = err or (r and ("the webhook answered " .. r.status .. ": " .. r.body:sub(1, 200)))
  local d = {id = a.id, version = a.payload.version, current = a.payload.current,
             status = r and r.status, error = why}
  local m
  if ok then
    assert(approvals.mark_executed(a.id, "webhook " .. r.status .. ": " .. r.body:sub(1, 500)))
    m = templates.update_executed(d)
  else
    assert(approvals.mark_failed(a.id, why))
    m = templates.update_failed(d)
  end
  mail.send{to = p.notify, subject = m.subject, text = m.text, html = m.html}
  done[#done + 1] = {id = a.id, version = d.version, executed = ok and true or false}
end
log.info(#done, " approved update(s) handled")
return {handled = done}
