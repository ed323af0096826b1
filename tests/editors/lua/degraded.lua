-- A degraded result is shown as degraded. The emulator (tests/editors/test_nvim_e2e.py)
-- fails the judge on every call, emu/beta on reviews and every pool model on fixes:
--   review  -> a vote-based result with 2/3 models: one WARN naming both reasons
--   explain -> the explanation opens, and a WARN says the judge failed
--   fix     -> every model failed: the server's error, and no "not applied" guess
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

local function messages_since(n)
  local out = {}
  for i = n + 1, #H.report.messages do
    table.insert(out, H.report.messages[i])
  end
  return out
end

local function run(fuse, what, buf)
  local done
  local seen = #H.report.messages
  fuse[what]({ bufnr = buf, on_result = function(err, result)
    done = { err = err, result = result }
  end })
  H.wait_check(what .. ' answered', 30000, function()
    return done ~= nil
  end)
  -- The notification comes from the same response; let scheduled work run.
  H.wait(200, function()
    return false
  end)
  H.report.data[what] = { result = done and done.result, messages = messages_since(seen) }
  return done and done.result or {}, messages_since(seen)
end

local function find(msgs, level, ...)
  local needles = { ... }
  for _, m in ipairs(msgs) do
    local all = m.level == level
    for _, n in ipairs(needles) do
      all = all and m.msg:find(n, 1, true) ~= nil
    end
    if all then
      return m
    end
  end
  return nil
end

H.run(function()
  local fuse = H.setup({ settings = { fuseLs = H.settings({ retries = { max_attempts = 1 } }) } })
  local buf = H.open('sample.py')
  local WARN, INFO, ERROR = vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.ERROR

  local review, msgs = run(fuse, 'review', buf)
  H.check('review: vote-based result', type(review.findings) == 'table' and #review.findings >= 1
    and review.judge and review.judge.status == 'error', review)
  local warn = find(msgs, WARN, 'fuse-ls: review finished', '(degraded)', 'note:', 'judge', 'emu/beta')
  H.check('review: one warning with the judge and the failed model', warn ~= nil, msgs)
  H.check('review: no plain "finished" info', find(msgs, INFO, 'review finished') == nil, msgs)
  local final = {}
  H.wait_check('review: diagnostics published', 5000, function()
    final = vim.tbl_filter(function(d)
      return d.data and d.data.provisional == false
    end, H.fuse_diagnostics(buf))
    return #final > 0
  end)
  local security = vim.tbl_filter(function(d)
    return d.code == 'security'
  end, final)[1] or {}
  H.check('review: found by the two models that answered', security.data and security.data.votes == 2
    and not vim.list_contains(security.data.models, 'emu/beta'), security)

  local explain, emsgs = run(fuse, 'explain', buf)
  H.check('explain: markdown', type(explain.markdown) == 'string' and explain.markdown ~= '', explain)
  H.check('explain: warning names the judge', find(emsgs, WARN, 'explanation ready (degraded)', 'judge') ~= nil, emsgs)

  local fix, fmsgs = run(fuse, 'fix', buf)
  H.check('fix: failed as a whole', type(fix.error) == 'string', fix)
  H.check('fix: the server says why', find(fmsgs, ERROR, 'emu/alpha') ~= nil, fmsgs)
  H.check('fix: no "not applied" guess', find(fmsgs, WARN, 'fused fix not applied') == nil, fmsgs)
  H.check('fix: buffer unchanged', H.lines(buf)[5] == '    value = eval(text)', H.lines(buf))
end)
