-- Cancel a slow review: after :FuseCancel no diagnostics appear and the server still answers.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')
local LATENCY_MS = tonumber(os.getenv('FUSE_TEST_LATENCY_MS') or '3000')

H.run(function()
  local fuse = H.setup()
  local buf, client = H.open('sample.py')

  local review_done
  fuse.review({ bufnr = buf, on_result = function(err, result)
    review_done = { err = err, result = result }
  end })
  H.wait_check('fusion started', 10000, function()
    for _, n in ipairs(H.report.notifications) do
      if n.event == 'FuseLsModelStatus' or n.event == 'FuseLsFusionStatus' then
        return true
      end
    end
    for _, p in ipairs(H.report.progress) do
      if p.kind == 'begin' then
        return true
      end
    end
    return false
  end)
  local t_cancel = vim.uv.hrtime()
  vim.cmd('FuseCancel')
  H.wait_check('review request finished', 5000, function()
    return review_done ~= nil
  end)
  H.report.data.review_done = review_done
  H.report.data.cancel_ms = math.floor((vim.uv.hrtime() - t_cancel) / 1e6)
  local cancelled = review_done and (
    (review_done.err and review_done.err.code == -32800)
    or (type(review_done.result) == 'table' and review_done.result.cancelled == true)
  )
  H.check('review reported cancelled', cancelled, review_done)
  H.check('no request left in flight', vim.tbl_isempty(fuse.state.inflight), fuse.state.inflight)

  -- Past the emulated latency: still no diagnostic, provisional or final.
  local appeared = H.wait(LATENCY_MS + 1500, function()
    return #H.fuse_diagnostics(buf) > 0
  end)
  H.report.data.diagnostics = H.fuse_diagnostics(buf)
  H.check('no diagnostics after cancel', not appeared, H.report.data.diagnostics)

  -- Progress ended.
  local ended = false
  for _, p in ipairs(H.report.progress) do
    if p.client_id == client.id and p.kind == 'end' then
      ended = true
    end
  end
  H.check('progress ended', ended, H.report.progress)

  -- The server still answers, promptly.
  local t0 = vim.uv.hrtime()
  local actions = H.code_actions(client, buf, { start = { line = 0, character = 0 }, ['end'] = { line = 1, character = 0 } })
  H.check('code actions answer after cancel', actions ~= nil and #actions >= 3, actions)
  local stats
  fuse.stats({ silent = true, on_result = function(e, r) stats = { err = e, result = r } end })
  H.wait_check('stats answer after cancel', 3000, function()
    return stats ~= nil and stats.err == nil
  end)
  H.report.data.answer_ms = math.floor((vim.uv.hrtime() - t0) / 1e6)
  H.check('client still running', not client:is_stopped())
end)
