-- :FuseReviewChanges on a real git repository (made by tests/editors/test_nvim_e2e.py):
-- sample.py (open) and b.py (not open) both gained an eval(). Diagnostics land on both,
-- the findings fill the quickfix list, a rerun is served from the cache, and the
-- arguments follow the command line.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')
local COMMAND = 'fuse-ls.reviewChanges'

local function last_sent()
  local sent = H.sent[#H.sent] or {}
  return sent.command, (sent.arguments or {})[1]
end

local function run(cmdline)
  local fuse = require('fuse_ls')
  fuse.state.last_result[COMMAND] = nil
  local seen = #H.report.messages
  vim.cmd(cmdline)
  H.wait_check(cmdline .. ' answered', 60000, function()
    return fuse.state.last_result[COMMAND] ~= nil
  end)
  local res = fuse.state.last_result[COMMAND] or {}
  local msgs = {}
  for i = seen + 1, #H.report.messages do
    table.insert(msgs, H.report.messages[i].msg)
  end
  return res.result or {}, res.err, msgs
end

H.run(function()
  H.setup()
  local buf, client = H.open('sample.py')
  H.spy_requests(client)
  H.check(':FuseReviewChanges defined', vim.fn.exists(':FuseReviewChanges') == 2)

  local before = #H.sent
  vim.cmd('FuseReviewChanges bogus')
  H.check('unknown scope refused before sending', #H.sent == before
    and H.report.messages[#H.report.messages].msg:find('unknown scope', 1, true) ~= nil, H.report.messages)

  local first, err, msgs = run('FuseReviewChanges')
  local command, args = last_sent()
  H.report.data.first = first
  H.check('command sent without arguments', command == COMMAND and vim.tbl_isempty(args or {}), args)
  H.check('change reviewed', err == nil and first.cancelled == false and (first.units or 0) >= 2, { err, first })
  local b_uri = vim.uri_from_fname(H.workspace .. '/b.py')
  local files = {}
  for _, f in ipairs(first.findings or {}) do
    files[f.uri] = true
  end
  H.check('findings in both files', files[vim.uri_from_bufnr(buf)] and files[b_uri], first.findings)

  local b_buf = vim.uri_to_bufnr(b_uri)
  local on_open, on_other = {}, {}
  H.wait_check('diagnostics on both files', 10000, function()
    on_open, on_other = H.fuse_diagnostics(buf), H.fuse_diagnostics(b_buf)
    return #on_open > 0 and #on_other > 0
  end)
  H.report.data.diagnostics = { open = on_open, other = on_other }
  H.check('eval flagged in the open file', on_open[1] and on_open[1].lnum == 4, on_open)

  local qf = vim.fn.getqflist({ title = 1, items = 1 })
  local qf_files = {}
  for _, item in ipairs(qf.items) do
    qf_files[vim.fn.fnamemodify(vim.fn.bufname(item.bufnr), ':t')] = item.lnum
  end
  H.report.data.quickfix = qf_files
  H.check('quickfix list', qf.title == 'fuse-ls: review of changes' and qf_files['sample.py'] == 5
    and qf_files['b.py'] ~= nil, qf)
  H.check('summary message', table.concat(msgs, '\n'):find('change review finished: ' .. #first.findings
    .. ' findings in 2 files', 1, true) ~= nil, msgs)

  local again, _, again_msgs = run('FuseReviewChanges uncommitted')
  _, args = last_sent()
  H.report.data.again = again
  H.check('scope argument', args and args.scope == 'uncommitted' and args.base == nil, args)
  H.check('rerun from the cache', again.cached == again.units and again.calls == 0, again)
  H.check('rerun says so', table.concat(again_msgs, '\n'):find('0 model calls', 1, true) ~= nil, again_msgs)

  local diff = run('FuseReviewChanges diff HEAD')
  _, args = last_sent()
  H.check('diff with a base', args and args.scope == 'diff' and args.base == 'HEAD', args)
  H.check('diff reviewed', diff.error == nil and (diff.units or 0) >= 2, diff)

  -- :FuseCancel! stops a change review: a pool of slow models (not in the cache).
  local fuse = require('fuse_ls')
  fuse.update_settings({ pool = { 'emu/slow-a', 'emu/slow-b' } })
  fuse.state.last_result[COMMAND] = nil
  local began = #H.report.progress
  vim.cmd('FuseReviewChanges')
  H.wait_check('slow change review started', 20000, function()
    for i = began + 1, #H.report.progress do
      local p = H.report.progress[i]
      if p.kind == 'begin' and (p.title or ''):find('changes', 1, true) then
        return true
      end
    end
    return false
  end)
  local t0 = vim.uv.hrtime()
  vim.cmd('FuseCancel!')
  H.wait_check('cancelled change review answered', 10000, function()
    return fuse.state.last_result[COMMAND] ~= nil
  end)
  local cancelled = fuse.state.last_result[COMMAND] or {}
  H.report.data.cancel_ms = math.floor((vim.uv.hrtime() - t0) / 1e6)
  H.check('change review cancelled', cancelled.err ~= nil and cancelled.err.code == -32800
    or (cancelled.result or {}).cancelled == true, cancelled)
  H.check('nothing left in flight', vim.tbl_isempty(fuse.state.inflight), fuse.state.inflight)
end)
