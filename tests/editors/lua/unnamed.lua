-- Buffers without a file name: an empty buffer, or a new one whose filetype is set before
-- it has a name, gets no server (its workspace would be Neovim's working directory's,
-- here another project's); once it is named (:write {file}, :file {file}) it attaches
-- once, to the server of its own root. Two styles:
--   FUSE_TEST_STYLE=setup     require('fuse_ls').setup()
--   FUSE_TEST_STYLE=lspconfig vim.lsp.config() + vim.lsp.enable() with lsp/fuse_ls.lua only
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')
local style = os.getenv('FUSE_TEST_STYLE') or 'setup'

--- Let every callback scheduled so far run (vim.lsp.enable() starts clients from
--- vim.schedule()), then once more for what those scheduled.
local function settle()
  for _ = 1, 2 do
    local done = false
    vim.schedule(function()
      done = true
    end)
    H.wait(5000, function()
      return done
    end)
  end
end

local function fuse_clients()
  return vim.lsp.get_clients({ name = 'fuse_ls' })
end

local function roots()
  return vim.tbl_map(function(c)
    return c.root_dir or '(none)'
  end, fuse_clients())
end

local function attached_once(buf)
  return H.wait(20000, function()
    local cs = vim.lsp.get_clients({ bufnr = buf, name = 'fuse_ls' })
    return #cs == 1 and cs[1].initialized == true
  end)
end

H.run(function()
  local cwd = vim.fn.getcwd()
  H.check('started in another project', vim.fn.filereadable(cwd .. '/.fuse-ls.toml') == 1 and cwd ~= H.workspace, cwd)
  H.check('an empty buffer to start with', vim.api.nvim_buf_get_name(0) == '')
  if style == 'setup' then
    H.setup()
  else
    vim.cmd('runtime plugin/fuse_ls.lua')
    vim.lsp.config('fuse_ls', { cmd = H.server_cmd(), settings = { fuseLs = H.settings() } })
    vim.lsp.enable('fuse_ls')
  end
  settle()
  H.check('no server for the empty buffer', #fuse_clients() == 0, roots())

  -- A new buffer: the filetype first, then text, then the name.
  vim.cmd('enew')
  vim.bo.filetype = 'python'
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'x = eval(input())' })
  settle()
  H.check('no server for an unnamed python buffer', #fuse_clients() == 0, roots())
  vim.cmd('FuseReview')
  local last = H.report.messages[#H.report.messages] or {}
  H.check('a command there says to write the file first', (last.msg or ''):find('write it to a file', 1, true) ~= nil, last)

  local written = vim.api.nvim_get_current_buf()
  vim.cmd.write(vim.fn.fnameescape(H.workspace .. '/new.py'))
  H.check('written buffer attached once', attached_once(written), roots())
  local c = fuse_clients()[1]
  H.check('root of the written file', c and c.root_dir == H.workspace, roots())

  -- Named without writing.
  vim.cmd('enew')
  vim.bo.filetype = 'python'
  local named = vim.api.nvim_get_current_buf()
  vim.cmd.file(vim.fn.fnameescape(H.workspace .. '/named.py'))
  H.check('named buffer attached once', attached_once(named), roots())
  settle()
  H.check('one server, for the workspace', vim.deep_equal(roots(), { H.workspace }), roots())

  -- No filetype at all: setup() attaches those too (filetypes = nil), once written.
  if style == 'setup' then
    vim.cmd('enew')
    local plain = vim.api.nvim_get_current_buf()
    vim.cmd.write(vim.fn.fnameescape(H.workspace .. '/NOTES'))
    H.check('the written file has no filetype', vim.bo[plain].filetype == '', vim.bo[plain].filetype)
    H.check('written buffer without a filetype attached once', attached_once(plain), roots())
    vim.cmd.buffer(named)
  end

  -- Saved into another workspace: the buffer moves to that one's server.
  local other = vim.fs.dirname(H.workspace) .. '/other'
  vim.fn.mkdir(other, 'p')
  vim.fn.writefile({ '# another workspace' }, other .. '/.fuse-ls.toml')
  vim.cmd.saveas(vim.fn.fnameescape(other .. '/moved.py'))
  H.wait_check('moved to the other workspace', 20000, function()
    local cs = vim.lsp.get_clients({ bufnr = named, name = 'fuse_ls' })
    return #cs == 1 and cs[1].root_dir == other and cs[1].initialized == true
  end, roots)
end)
