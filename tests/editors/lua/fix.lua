-- Fused fix: the server sends workspace/applyEdit with a change annotation that needs
-- confirmation. The plugin previews the diff and asks; accepting applies the edit,
-- declining leaves the buffer alone and the server learns applied = false.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

H.run(function()
  local fuse = H.setup()
  local buf, client = H.open('sample.py')
  H.spy_requests(client)

  -- 1. Decline through the default confirm() prompt (stubbed: headless has no UI).
  local prompts = {}
  vim.fn.confirm = function(msg, choices)
    table.insert(prompts, { msg = msg, choices = choices })
    return 2 -- &Discard
  end
  vim.cmd('5FuseFix')
  local args = ((H.sent[#H.sent] or {}).arguments or {})[1] or {}
  H.check('line range sent', args.range and args.range.start.line == 4 and args.range['end'].line == 4, args.range)
  H.wait_check('declined fix answered', 30000, function()
    return fuse.state.last_result['fuse-ls.fix'] ~= nil
  end)
  local declined = fuse.state.last_result['fuse-ls.fix'] or {}
  H.report.data.declined = declined
  H.check('user was asked', #prompts == 1, prompts)
  local preview = fuse.state.last_preview or {}
  H.report.data.preview = preview.diff
  H.check('preview shows the change', (preview.diff or ''):find('+    value = ast.literal_eval(text)', 1, true) ~= nil, preview.diff)
  H.check('declined: applied=false', declined.result and declined.result.applied == false, declined)
  H.check('declined: buffer unchanged', H.lines(buf)[5] == '    value = eval(text)', H.lines(buf))

  -- 2. Accept, with the fix started from the code action menu on a visual selection.
  fuse.state.last_result['fuse-ls.fix'] = nil
  vim.fn.confirm = function(msg, choices)
    table.insert(prompts, { msg = msg, choices = choices })
    return 1 -- &Apply
  end
  vim.lsp.buf.code_action({
    range = { start = { 4, 0 }, ['end'] = { 6, 16 } },
    filter = function(a)
      return a.kind == 'refactor.rewrite.fuse-ls.fix'
    end,
    apply = true,
  })
  H.wait_check('accepted fix answered', 30000, function()
    return fuse.state.last_result['fuse-ls.fix'] ~= nil
  end)
  local accepted = fuse.state.last_result['fuse-ls.fix'] or {}
  H.report.data.accepted = accepted
  H.check('asked again', #prompts == 2, prompts)
  H.check('accepted: applied=true', accepted.result and accepted.result.applied == true, accepted)
  H.report.data.after = H.lines(buf)
  H.check('accepted: buffer fixed', H.lines(buf)[5] == '    value = ast.literal_eval(text)', H.lines(buf))
  H.check('accepted: rest intact', H.lines(buf)[4] == 'def parse(text):' and H.lines(buf)[6] == '    return value'
    and #H.lines(buf) == 10, H.lines(buf))

  -- 3. confirm_fix = false applies without asking.
  fuse.options.confirm_fix = false
  fuse.state.last_result['fuse-ls.fix'] = nil
  vim.api.nvim_buf_set_lines(buf, 9, 10, false, { '    return eval(x) * 2' })
  vim.cmd('10FuseFix')
  H.wait_check('unconfirmed fix answered', 30000, function()
    return fuse.state.last_result['fuse-ls.fix'] ~= nil
  end)
  H.check('not asked', #prompts == 2, prompts)
  H.check('applied without asking', H.lines(buf)[10] == '    return ast.literal_eval(x) * 2', H.lines(buf))

  -- An edit computed on an older version of the buffer is refused, not misapplied.
  local handler = fuse.config().handlers['workspace/applyEdit']
  local version = vim.lsp.util.buf_versions[buf]
  local before = H.lines(buf)
  local res = handler(nil, {
    edit = {
      documentChanges = { {
        textDocument = { uri = vim.uri_from_bufnr(buf), version = version - 1 },
        edits = { { range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } }, newText = 'STALE' } },
      } },
    },
  }, { client_id = client.id, method = 'workspace/applyEdit' })
  H.check('stale edit refused', res.applied == false and (res.failureReason or ''):find('changed') ~= nil, res)
  H.check('stale edit not applied', vim.deep_equal(H.lines(buf), before), H.lines(buf))
end)
