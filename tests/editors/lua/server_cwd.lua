-- The server process runs in the root of the buffer it was started for, not in Neovim's
-- working directory (Neovim is started elsewhere, here in another project). Two styles:
--   FUSE_TEST_STYLE=setup     require('fuse_ls').setup()
--   FUSE_TEST_STYLE=lspconfig vim.lsp.config() + vim.lsp.enable() with lsp/fuse_ls.lua only
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')
local style = os.getenv('FUSE_TEST_STYLE') or 'setup'

--- The working directory of every fuse-ls server Neovim started (its child processes
--- running `fuse_ls serve`), from /proc.
local function server_cwds()
  local out = {}
  for _, pid in ipairs(vim.api.nvim_get_proc_children(vim.fn.getpid())) do
    local f = io.open(('/proc/%d/cmdline'):format(pid), 'r')
    local cmdline = f and f:read('*a') or ''
    if f then
      f:close()
    end
    if cmdline:find('fuse_ls\0serve', 1, true) then
      table.insert(out, vim.uv.fs_readlink(('/proc/%d/cwd'):format(pid)))
    end
  end
  table.sort(out)
  return out
end

H.run(function()
  H.check('started elsewhere', vim.fn.getcwd() ~= H.workspace, vim.fn.getcwd())
  -- The file first, as `nvim ~/proj/src/app.py` does (no empty buffer is left over).
  vim.cmd.edit(vim.fn.fnameescape(H.workspace .. '/sample.py'))
  if style == 'setup' then
    H.setup()
  else
    vim.cmd('runtime plugin/fuse_ls.lua')
    -- root_markers of the user's own, without setup(): `.project` marks a folder inside
    -- the workspace as a workspace of its own (they were read from lsp/fuse_ls.lua only).
    vim.lsp.config('fuse_ls', {
      cmd = H.server_cmd(),
      settings = { fuseLs = H.settings() },
      root_markers = { '.project', '.fuse-ls.toml' },
    })
    vim.lsp.enable('fuse_ls')
  end
  local _, client = H.open('sample.py')
  H.check('root is the workspace', client.root_dir == H.workspace, client.root_dir)
  local cwds = server_cwds()
  H.report.data.cwds = cwds
  H.check('the server runs in the workspace', #cwds == 1 and cwds[1] == H.workspace, cwds)

  -- A second project gets its own server, running in its own root.
  local other = vim.fs.dirname(H.workspace) .. '/other'
  vim.fn.mkdir(other .. '/src', 'p')
  vim.fn.writefile({ '# another project' }, other .. '/.fuse-ls.toml')
  vim.fn.writefile({ 'x = 1' }, other .. '/src/b.py')
  local _, oc = H.open_path(other .. '/src/b.py')
  H.check('second root', oc.root_dir == other, oc.root_dir)
  cwds = server_cwds()
  local want = { H.workspace, other }
  table.sort(want)
  H.check('each server runs in its root', vim.deep_equal(cwds, want), { cwds = cwds, want = want })

  if style == 'lspconfig' then
    local sub = H.workspace .. '/sub'
    vim.fn.mkdir(sub, 'p')
    vim.fn.writefile({}, sub .. '/.project')
    vim.fn.writefile({ 'y = 2' }, sub .. '/c.py')
    local _, sc = H.open_path(sub .. '/c.py')
    H.check("the user's root_markers", sc.root_dir == sub, sc.root_dir)
  end
end)
