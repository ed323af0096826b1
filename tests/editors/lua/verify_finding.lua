-- Verify a finding's quick fix (issue 15): :FuseVerifyFix runs the project's checks on the
-- fix in an isolated copy, then the fix preview asks to apply it, saying the checks
-- passed. Declined first (buffer unchanged), then accepted from the code action menu's
-- "Verify, then apply" entry.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local fuse = H.setup({ trusted = true }) -- checks run only in a trusted workspace
  local buf, client = H.open('sample.py')
  vim.cmd('FuseReview')
  local finding
  H.wait_check('finding with a fix', 30000, function()
    for _, d in ipairs(H.fuse_diagnostics(buf)) do
      if d.lnum == 4 and d.data and d.data.provisional == false and d.data.fix then
        finding = d
        return true
      end
    end
    return false
  end)

  local prompts = {}
  local answer = 2 -- &Discard
  vim.fn.confirm = function(msg, choices, default)
    table.insert(prompts, { msg = msg, choices = choices, default = default })
    return answer
  end
  vim.api.nvim_win_set_cursor(0, { 5, 4 })
  vim.cmd('FuseVerifyFix')
  H.wait_check('verify answered', 60000, function()
    return fuse.state.last_result['fuse-ls.verifyFinding'] ~= nil
  end)
  local declined = (fuse.state.last_result['fuse-ls.verifyFinding'] or {}).result or {}
  H.report.data.declined = declined
  local checks = declined.checks or {}
  H.check('checks passed', checks.passed == true, checks)
  H.check('asked once, saying the checks passed', #prompts == 1
    and (prompts[1].msg or ''):find('(checks passed (1 command, ', 1, true) ~= nil, prompts)
  H.check('declined: not applied', declined.applied == false, declined)
  H.check('declined: buffer unchanged', H.lines(buf)[5] == '    value = eval(text)', H.lines(buf))

  -- The code action menu lists "Verify, then apply" next to the quick fix.
  fuse.state.last_result['fuse-ls.verifyFinding'] = nil
  answer = 1 -- &Apply
  local lsp_diags = {}
  for _, d in ipairs(vim.diagnostic.get(buf, { lnum = 4 })) do
    if d.source == 'fuse-ls' and d.user_data and d.user_data.lsp then
      table.insert(lsp_diags, d.user_data.lsp)
    end
  end
  local listed = H.code_actions(client, buf, { start = { line = 4, character = 4 }, ['end'] = { line = 4, character = 4 } }, lsp_diags) or {}
  local titles = {}
  for _, a in ipairs(listed) do
    if a.kind == 'quickfix.fuse-ls.verify' then
      table.insert(titles, a.title)
    end
  end
  H.report.data.verify_titles = titles
  H.check('verify action listed', #titles == 1 and titles[1]:find('^Verify, then apply: ') ~= nil, titles)
  vim.lsp.buf.code_action({
    filter = function(a)
      return a.kind == 'quickfix.fuse-ls.verify'
    end,
    apply = true,
  })
  H.wait_check('verified fix applied', 60000, function()
    return (H.lines(buf)[5] or ''):find('ast.literal_eval(text)', 1, true) ~= nil
  end, function()
    return { lines = H.lines(buf), prompts = prompts }
  end)
  H.wait_check('verify answered again', 10000, function()
    return fuse.state.last_result['fuse-ls.verifyFinding'] ~= nil
  end)
  local applied = (fuse.state.last_result['fuse-ls.verifyFinding'] or {}).result or {}
  H.report.data.applied = applied
  H.check('applied', applied.applied == true, applied)
  H.check('asked again', #prompts == 2, prompts)
  H.check('rest intact', H.lines(buf)[4] == 'def parse(text):' and H.lines(buf)[6] == '    return value', H.lines(buf))
  H.report.data.finding = finding and finding.message
end)
