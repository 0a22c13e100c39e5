-- weekly-summary: a mail with every job's runs of the last week, from the host's own history.
local templates = require("templates")
local p = job.params
local by_job, order = {}, {}
local total, failed = 0, 0
for _, r in ipairs(host.runs{since = p.days * 86400, limit = 10000}) do
  if r.status ~= "skipped" and r.status ~= "queued" and r.status ~= "running" then
    local j = by_job[r.job]
    if not j then
      j = {job = r.job, runs = 0, failed = 0, last_status = r.status}  -- newest first: the first seen is the last
      by_job[r.job] = j
      order[#order + 1] = r.job
    end
    j.runs = j.runs + 1
    total = total + 1
    if r.status ~= "succeeded" then j.failed = j.failed + 1; failed = failed + 1 end
  end
end
table.sort(order)
local jobs = {}
for _, name in ipairs(order) do jobs[#jobs + 1] = by_job[name] end
local m = templates.weekly_summary{days = p.days, jobs = jobs, total = total, failed = failed}
mail.send{to = p.recipients, subject = m.subject, text = m.text, html = m.html}
return {runs = total, failed = failed, jobs = #jobs}
