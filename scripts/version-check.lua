-- version-check: compares the running version with the newest release tag of the image.
-- A newer one gets an `update` approval (keyed by the version, so asking twice is harmless;
-- grouped by the image, so approving it supersedes older updates of the image still open)
-- and, the first time, an "update available" mail to staff. A registry that cannot be read
-- fails the run; the job file's notify: mails staff after the last attempt.
local templates = require("templates")
local p = job.params

local latest, err = registry.latest(p.image, {constraint = p.constraint})
if not latest then error(err, 0) end

local current = semver.parse(p.current_version)
if not current then error("params.current_version '" .. p.current_version .. "' is not a semantic version", 0) end
if semver.compare(latest, p.current_version) <= 0 then
  log.info(p.image, " is up to date at ", p.current_version)
  return {current = p.current_version, latest = latest, update_available = false}
end

-- once: an EXECUTED approval for this version is the answer (the deploy happened and
-- current_version has not caught up yet), checked in the same statement as the insert, so an
-- execution finishing meanwhile cannot make a second request.
local approval = assert(approvals.request{
  kind = "update", key = latest, title = "Update " .. p.image .. " from " .. p.current_version .. " to " .. latest,
  payload = {image = p.image, current = p.current_version, version = latest}, group = p.image, once = true,
})
if approval.status == "EXECUTED" then
  log.info("update to ", latest, " was executed; waiting for current_version to follow")
  return {current = p.current_version, latest = latest, update_available = true, executed = true}
end
if approval.created then
  local m = templates.update_available{image = p.image, current = p.current_version, latest = latest,
                                       approval_id = approval.id}
  mail.send{to = p.notify, subject = m.subject, text = m.text, html = m.html}
end
log.info("update ", p.current_version, " -> ", latest, ": approval ", approval.id, " is ", approval.status)
return {current = p.current_version, latest = latest, update_available = true, approval = approval.id,
        status = approval.status}
