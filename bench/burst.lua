-- A memory-hungry run (dispatch_bench.py burst, tests/integration/test_memory_return.py):
-- holds ~22 MB at its peak: a 1 MB string from 400 pieces, 20 copies of it, and a string
-- grown by concatenation.
local parts = {}
for i = 1, 400 do parts[i] = string.rep(string.char(65 + i % 26), 1000 + (i * 37) % 3000) end
local s = table.concat(parts)
local held = {}
for i = 1, 20 do held[i] = s .. i end
local grown = ""
for i = 1, 30 do grown = grown .. string.rep("y", 50000) end
return #held + #grown
