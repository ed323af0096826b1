-- Attaching: filetypes = nil attaches to every filetype. Two styles:
--   FUSE_TEST_STYLE=setup     require('fuse_ls').setup() (also covers buffers without a filetype)
--   FUSE_TEST_STYLE=lspconfig vim.lsp.config() + vim.lsp.enable() with lsp/fuse_ls.lua only
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')
local style = os.getenv('FUSE_TEST_STYLE') or 'setup'

H.run(function()
  if style == 'setup' then
    H.setup({ keymaps = true })
    H.check('suggested keymaps', vim.fn.maparg('<leader>Fr', 'x') ~= '' and vim.fn.maparg('<leader>Fe', 'n') ~= '')
  else
    vim.cmd('runtime plugin/fuse_ls.lua')
    vim.lsp.config('fuse_ls', { cmd = H.server_cmd(), settings = { fuseLs = H.settings() } })
    vim.lsp.enable('fuse_ls')
  end
  local fuse = require('fuse_ls')
  if style ~= 'setup' then
    H.check('no keymaps by default', vim.fn.maparg('<leader>Fr', 'x') == '')
  end
  H.check(':FuseReview defined', vim.fn.exists(':FuseReview') == 2)
  H.check(':FuseCancel defined', vim.fn.exists(':FuseCancel') == 2)
  local cfg = vim.lsp.config.fuse_ls
  H.check('filetypes nil', cfg.filetypes == nil, cfg.filetypes)

  local files = { 'sample.py', 'notes.txt', 'main.rs', 'query.sql' }
  if style == 'setup' then
    table.insert(files, 'NOTES.noextension')
  end
  local bufs = {}
  for _, f in ipairs(files) do
    local path = H.workspace .. '/' .. f
    if vim.fn.filereadable(path) == 0 then
      vim.fn.writefile({ 'x = eval(input())' }, path)
    end
    vim.cmd.edit(vim.fn.fnameescape(path))
    bufs[f] = vim.api.nvim_get_current_buf()
  end
  for f, b in pairs(bufs) do
    H.wait_check('attached to ' .. f .. ' [' .. vim.bo[b].filetype .. ']', 20000, function()
      local c = fuse.get_client(b)
      return c ~= nil and c.initialized
    end)
  end
  local clients = vim.tbl_filter(function(c)
    return c.root_dir == H.workspace
  end, vim.lsp.get_clients({ name = 'fuse_ls' }))
  H.check('one server for the workspace', #clients == 1, #clients)
  local client = clients[1]
  if client then
    H.check('root is the workspace', client.root_dir == H.workspace, client.root_dir)
    local actions = H.code_actions(client, bufs['main.rs'], { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 5 } })
    H.report.data.actions = actions
    H.check('code actions on a Rust file', actions and #actions >= 3, actions)
    H.check('settings passed', client.settings.fuseLs and client.settings.fuseLs.judge == 'emu/judge', client.settings)
  end

  -- A file outside any root (no marker above it) gets a server without a root.
  local outside = vim.fs.dirname(H.workspace) .. '/outside.txt'
  vim.fn.writefile({ 'hello' }, outside)
  vim.cmd.edit(vim.fn.fnameescape(outside))
  local ob = vim.api.nvim_get_current_buf()
  H.wait_check('attached outside a root', 20000, function()
    local c = fuse.get_client(ob)
    return c ~= nil and c.initialized
  end)
  local oc = fuse.get_client(ob)
  H.check('no root outside', oc and oc.root_dir == nil, oc and oc.root_dir)

  -- A scratch (nofile) buffer never gets the server.
  vim.cmd('enew')
  vim.bo.buftype = 'nofile'
  vim.bo.filetype = 'markdown'
  H.check('nofile buffer not attached', fuse.get_client(0) == nil)
end)
