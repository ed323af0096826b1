-- A review that hid a finding on a `# fuse-ls: ignore` line says so as information, not
-- as a warning: nothing went wrong, the user asked for it.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local fuse = H.setup()
  local buf = H.open('sample.py')
  vim.api.nvim_buf_set_lines(buf, 4, 5, true, { '    value = eval(text)  # fuse-ls: ignore[security]' })
  local seen = #H.report.messages
  local done
  fuse.review({ bufnr = buf, on_result = function(err, result)
    done = { err = err, result = result }
  end })
  H.wait_check('review answered', 30000, function()
    return done ~= nil
  end)
  -- The notification comes from the same response; let scheduled work run.
  H.wait(200, function()
    return false
  end)
  local result = done and done.result or {}
  local msgs = {}
  for i = seen + 1, #H.report.messages do
    table.insert(msgs, H.report.messages[i])
  end
  H.report.data.result = result
  H.report.data.messages = msgs
  H.check('the ignored finding is hidden', type(result.hidden) == 'table' and result.hidden.suppressed == 1, result.hidden)
  local function level_of(msgs_, needle)
    for _, m in ipairs(msgs_) do
      if m.msg:find(needle, 1, true) then
        return m.level
      end
    end
  end
  H.check('the server says what it hid', level_of(msgs, 'note: not shown: 1 suppressed') ~= nil, msgs)
  -- The emulator lists no prices, but a server on this machine costs nothing: the only
  -- note is the one about hidden findings, and the review says it as information.
  H.check('the review itself says it as information', level_of(msgs, 'not shown') == vim.log.levels.INFO, msgs)
  -- The same with only that note from another result.
  local only = vim.deepcopy(result)
  only.notes = vim.tbl_filter(function(n)
    return n:find('^not shown:') ~= nil
  end, result.notes or {})
  local before = #H.report.messages
  require('fuse_ls.results').show('fuse-ls.review', nil, only)
  H.wait(200, function()
    return #H.report.messages > before
  end)
  local shown = {}
  for i = before + 1, #H.report.messages do
    table.insert(shown, H.report.messages[i])
  end
  H.check('said as information', level_of(shown, 'not shown') == vim.log.levels.INFO, shown)
  -- Another note beside it still warns.
  local other = vim.deepcopy(only)
  table.insert(other.notes, 'secret-looking text was redacted in 1 part(s) before sending')
  before = #H.report.messages
  require('fuse_ls.results').show('fuse-ls.review', nil, other)
  H.wait(200, function()
    return #H.report.messages > before
  end)
  local warned = {}
  for i = before + 1, #H.report.messages do
    table.insert(warned, H.report.messages[i])
  end
  H.check('another note still warns', level_of(warned, 'not shown') == vim.log.levels.WARN, warned)
end)
