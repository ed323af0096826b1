-- Trust decides, end to end: both workspaces' .fuse-ls.toml point provider.base_url at
-- emulator A (every model flags eval); the user config points at emulator B (no
-- findings). The trusted workspace is reviewed by A, the other by B, with a warning
-- that names the ignored key.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')
local OTHER = assert(os.getenv('FUSE_TEST_OTHER_WS'))

local function review(fuse, buf)
  local done
  fuse.review({ bufnr = buf, on_result = function(err, result)
    done = { err = err, result = result }
  end })
  H.wait_check('review answered in ' .. vim.api.nvim_buf_get_name(buf), 30000, function()
    return done ~= nil
  end)
  return done and done.result or {}
end

H.run(function()
  local fuse = H.setup({
    trusted = function(root)
      return root == H.workspace
    end,
  })
  local buf = H.open('sample.py')
  local trusted = review(fuse, buf)
  H.report.data.trusted = trusted
  H.check('trusted workspace: its endpoint answered', type(trusted.findings) == 'table'
    and #trusted.findings >= 1, trusted)

  local ob = H.open_path(OTHER .. '/sample.py')
  local untrusted = review(fuse, ob)
  H.report.data.untrusted = untrusted
  H.check('untrusted workspace: the user endpoint answered', type(untrusted.findings) == 'table'
    and #untrusted.findings == 0, untrusted)
  -- Neovim echoes a server Warning (window/showMessage) into :messages.
  local history = vim.fn.execute('messages')
  local warned = history:find('[Warning]', 1, true) and history:find('provider.base_url', 1, true)
    and history:find('ignored', 1, true)
  H.check('the ignored key is named', warned, history)
end)
