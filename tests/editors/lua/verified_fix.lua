-- Verified fix (issue 15): with verify.commands set, the server checks the fused fix in an
-- isolated copy first. Here the check fails: the preview must say so and ask whether to
-- apply it anyway, with "Discard" as the default answer.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local fuse = H.setup({ trusted = true }) -- checks run only in a trusted workspace
  local buf = H.open('sample.py')
  local prompts = {}
  vim.fn.confirm = function(msg, choices, default)
    table.insert(prompts, { msg = msg, choices = choices, default = default })
    return 2 -- &Discard
  end
  vim.cmd('5FuseFix')
  H.wait_check('verified fix answered', 60000, function()
    return fuse.state.last_result['fuse-ls.fix'] ~= nil
  end)
  local answer = (fuse.state.last_result['fuse-ls.fix'] or {}).result or {}
  H.report.data.result = answer
  local checks = answer.checks or {}
  H.check('checks reported failed', checks.passed == false, checks)
  H.check('failing output reported', (checks.failingLines or ''):find('E   the tests fail', 1, true) ~= nil, checks)
  H.check('asked once', #prompts == 1, prompts)
  local ask = prompts[1] or {}
  H.check('asked to apply anyway', (ask.msg or ''):find('FAILED its checks; apply it anyway?', 1, true) ~= nil, ask)
  H.check('discard is the default', ask.default == 2, ask)
  H.check('buffer unchanged', H.lines(buf)[5] == '    value = eval(text)', H.lines(buf))
end)
