-- A review's notification with the default cost cap: a warning that the cost could not be
-- estimated only when a model on a remote endpoint has no price (FUSE_TEST_COST_NOTE=1);
-- on a server on this machine, which bills nothing, no warning at all.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local expect = os.getenv('FUSE_TEST_COST_NOTE') == '1'
  local fuse = H.setup()
  local buf = H.open('sample.py')
  local seen = #H.report.messages
  local done
  fuse.review({ bufnr = buf, on_result = function(err, result)
    done = { err = err, result = result }
  end })
  H.wait_check('review answered', 30000, function()
    return done ~= nil
  end)
  local result = done and done.result or {}
  H.check('review found the eval', type(result.findings) == 'table' and #result.findings > 0, done)
  -- The notification comes from the same response; let scheduled work run.
  local function shown()
    local msgs = {}
    for i = seen + 1, #H.report.messages do
      table.insert(msgs, H.report.messages[i])
    end
    return msgs
  end
  H.wait(2000, function()
    return #shown() > 0
  end)
  local msgs = shown()
  H.report.data.messages = msgs
  H.report.data.notes = result.notes
  local cost, warned = nil, false
  for _, m in ipairs(msgs) do
    if m.msg:find('cost could not be estimated', 1, true) then
      cost = m
    end
    warned = warned or m.level == vim.log.levels.WARN
  end
  if expect then
    H.check('the cost note is a warning', cost ~= nil and cost.level == vim.log.levels.WARN, msgs)
  else
    H.check('no cost note', cost == nil, msgs)
    H.check('no warning at all', not warned, msgs)
  end
end)
