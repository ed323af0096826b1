-- Explain a charwise visual selection: the consensus Markdown opens in a scratch buffer
-- (or the document the server shows), while the code stays in the current window.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local fuse = H.setup()
  local buf, client = H.open('sample.py')
  H.spy_requests(client)
  local code_win = vim.api.nvim_get_current_win()

  -- Charwise selection of `eval(text)` on line 5 (1-based), bytes 13..22.
  vim.cmd('normal! 5G013|v22|\27')
  vim.cmd("'<,'>FuseExplain")
  local args = ((H.sent[#H.sent] or {}).arguments or {})[1] or {}
  H.report.data.sent_range = args.range
  H.check(
    'charwise range',
    args.range and args.range.start.line == 4 and args.range.start.character == 12
      and args.range['end'].line == 4 and args.range['end'].character == 22,
    args.range
  )

  H.wait_check('explain result', 30000, function()
    return fuse.state.last_result['fuse-ls.explain'] ~= nil
  end)
  local res = fuse.state.last_result['fuse-ls.explain'] or {}
  H.report.data.explain_result = res
  local result = res.result or {}
  H.check('explain succeeded', res.err == nil and type(result.markdown) == 'string', res.err)

  local md_buf
  H.wait_check('markdown buffer shown', 5000, function()
    for _, w in ipairs(vim.api.nvim_list_wins()) do
      local b = vim.api.nvim_win_get_buf(w)
      if b ~= buf and vim.bo[b].filetype == 'markdown' then
        md_buf = b
        return true
      end
    end
    return false
  end)
  local text = md_buf and table.concat(H.lines(md_buf), '\n') or ''
  H.report.data.markdown = text
  H.check('markdown has the consensus', text:find('Consensus', 1, true) ~= nil, text)
  H.check('code window kept its buffer', vim.api.nvim_win_get_buf(code_win) == buf)
  H.check('explanation opened once', #vim.tbl_filter(function(w)
    return vim.bo[vim.api.nvim_win_get_buf(w)].filetype == 'markdown'
  end, vim.api.nvim_list_wins()) == 1)
  local attached = md_buf and #vim.lsp.get_clients({ bufnr = md_buf, name = 'fuse_ls' }) or -1
  H.check('server not attached to the explanation', attached == 0, attached)

  -- The same through the code action menu (routed to the plugin by a client command):
  -- a new explanation, shown in the same window.
  local first_id = result.fusionId
  fuse.state.last_result['fuse-ls.explain'] = nil
  vim.api.nvim_set_current_win(code_win)
  vim.lsp.buf.code_action({
    range = { start = { 4, 0 }, ['end'] = { 6, 16 } },
    filter = function(a)
      return a.kind == 'source.fuse-ls.explain'
    end,
    apply = true,
  })
  H.wait_check('explain from the code action menu', 30000, function()
    return fuse.state.last_result['fuse-ls.explain'] ~= nil
  end)
  local second = (fuse.state.last_result['fuse-ls.explain'] or {}).result or {}
  H.check('a second fusion ran', second.fusionId ~= nil and second.fusionId ~= first_id, second.fusionId)
  local md_wins = vim.tbl_filter(function(w)
    return vim.bo[vim.api.nvim_win_get_buf(w)].filetype == 'markdown'
  end, vim.api.nvim_list_wins())
  H.check('explanation window reused', #md_wins == 1, #md_wins)
  H.check('code window still has the code', vim.api.nvim_win_get_buf(code_win) == buf)

  -- Fallback when the server shows no document: a scratch Markdown buffer.
  local sb = fuse.show_markdown('# Title\n\nbody')
  H.check('scratch buffer', vim.bo[sb].buftype == 'nofile' and vim.bo[sb].filetype == 'markdown'
    and H.lines(sb)[1] == '# Title' and not vim.bo[sb].modifiable, H.lines(sb))
end)
