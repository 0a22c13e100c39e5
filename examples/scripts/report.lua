-- Returns a small result table; the examples are about schedules, so the script is plain.
return { ok = true }
