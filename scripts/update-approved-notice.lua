-- update-approved-notice: fired by the host when someone approves an `update`; confirms it.
local templates = require("templates")
local a = job.event.payload
local m = templates.update_approved{id = a.id, version = a.payload and a.payload.version or a.key,
                                    current = a.payload and a.payload.current, by = a.decided_by or "?",
                                    note = a.note or ""}
mail.send{to = job.params.notify, subject = m.subject, text = m.text, html = m.html}
return {approval = a.id}
