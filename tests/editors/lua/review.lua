-- Fused review of a visual selection -> diagnostics with vote counts; then the quick fix
-- from the finding, through the normal code action menu.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local fuse = H.setup()
  local buf, client = H.open('sample.py')
  H.spy_requests(client)

  -- The code actions the server lists for a selection (never calls a model).
  local sel = { start = { line = 3, character = 0 }, ['end'] = { line = 5, character = 16 } }
  local actions, err = H.code_actions(client, buf, sel)
  H.report.data.actions = actions or err
  local kinds = {}
  for _, a in ipairs(actions or {}) do
    kinds[a.kind or ''] = a.title
  end
  H.check('lists review action', kinds['source.fuse-ls.review'] == 'Fused review of selection', kinds)
  H.check('lists explain action', kinds['source.fuse-ls.explain'] == 'Explain with consensus', kinds)
  H.check('lists fix action', kinds['refactor.rewrite.fuse-ls.fix'] == 'Fused fix of selection', kinds)

  -- Visual line selection of parse() (lines 4-6), then :'<,'>FuseReview.
  vim.cmd('normal! 4GV6G\27')
  vim.cmd("'<,'>FuseReview")
  local sent = H.sent[#H.sent] or {}
  H.report.data.sent = sent
  local args = (sent.arguments or {})[1] or {}
  H.check('review command sent', sent.command == 'fuse-ls.review', sent)
  H.check(
    'range is the selection',
    args.range and args.range.start.line == 3 and args.range.start.character == 0
      and args.range['end'].line == 5 and args.range['end'].character == #'    return value',
    args.range
  )
  H.check('uri is the buffer', args.uri == vim.uri_from_bufnr(buf), args.uri)

  H.wait_check('review result', 30000, function()
    return fuse.state.last_result['fuse-ls.review'] ~= nil
  end)
  local res = fuse.state.last_result['fuse-ls.review'] or {}
  H.report.data.review_result = res
  H.check('review succeeded', res.err == nil and type(res.result) == 'table' and not res.result.cancelled, res.err)

  local final
  H.wait_check('fused diagnostics', 10000, function()
    for _, d in ipairs(H.fuse_diagnostics(buf)) do
      if d.data and d.data.provisional == false then
        final = d
        return true
      end
    end
    return false
  end)
  H.report.data.diagnostics = H.fuse_diagnostics(buf)
  final = final or {}
  H.check('diagnostic on the eval line', final.lnum == 4, final.lnum)
  H.check('vote count in message', (final.message or ''):find('3/3 models', 1, true) ~= nil, final.message)
  H.check('votes in data', final.data and final.data.votes == 3 and final.data.poolSize == 3, final.data)
  H.check('category is the code', final.code == 'security', final.code)
  H.check('severity error', final.severity == vim.diagnostic.severity.ERROR, final.severity)

  -- Progress went through Neovim's LSP progress, and the custom notifications were handled.
  local kinds_seen = {}
  for _, p in ipairs(H.report.progress) do
    if p.client_id == client.id then
      kinds_seen[p.kind or '?'] = true
    end
  end
  H.check('progress begin and end', kinds_seen.begin and kinds_seen['end'], kinds_seen)
  local model_events = 0
  for _, n in ipairs(H.report.notifications) do
    if n.event == 'FuseLsModelStatus' then
      model_events = model_events + 1
    end
  end
  H.check('fuse/modelStatus handled', model_events >= 3, model_events)

  -- Quick fix from the finding through vim.lsp.buf.code_action().
  vim.api.nvim_win_set_cursor(0, { 5, 12 })
  vim.lsp.buf.code_action({
    filter = function(a)
      return a.kind == 'quickfix'
    end,
    apply = true,
  })
  H.wait_check('quick fix applied', 10000, function()
    return (H.lines(buf)[5] or ''):find('ast.literal_eval(text)', 1, true) ~= nil
  end, function()
    return H.lines(buf)
  end)
  H.report.data.after_quickfix = H.lines(buf)
  H.check('rest of the buffer intact', H.lines(buf)[4] == 'def parse(text):' and H.lines(buf)[6] == '    return value', H.lines(buf))

  -- The server still answers.
  local stats
  fuse.stats({ silent = true, on_result = function(e, r) stats = { err = e, result = r } end })
  H.wait_check('stats answer', 5000, function()
    return stats ~= nil
  end)
  H.report.data.stats = stats
  H.check('stats count the fusion', stats and stats.result and (stats.result.fusions or 0) >= 1, stats)

  -- :FuseStats shows the same table.
  vim.cmd('FuseStats')
  H.wait_check(':FuseStats message', 5000, function()
    for _, m in ipairs(H.report.messages) do
      if m.msg:find('fuse-ls session: 1 fusion', 1, true) and m.msg:find('emu/alpha', 1, true) then
        return true
      end
    end
    return false
  end, function()
    return H.report.messages
  end)
end)
