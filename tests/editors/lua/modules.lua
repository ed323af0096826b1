-- The plugin's modules: each loads on its own (no require cycle, whatever is loaded
-- first), and require('fuse_ls') keeps the public API that :help fuse_ls-api documents.
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

local function forget_plugin()
  for name in pairs(package.loaded) do
    if name == 'fuse_ls' or name:match('^fuse_ls%.') then
      package.loaded[name] = nil
    end
  end
end

H.run(function()
  local dir = H.plugin .. '/lua/fuse_ls'
  local names = {}
  for name, kind in vim.fs.dir(dir) do
    if kind == 'file' and name:match('%.lua$') then
      local mod = name == 'init.lua' and 'fuse_ls' or 'fuse_ls.' .. name:gsub('%.lua$', '')
      table.insert(names, mod)
    end
  end
  table.sort(names)
  H.report.data.modules = names
  H.check('split into modules', #names >= 10, names)
  for _, mod in ipairs(names) do
    forget_plugin()
    local ok, err = pcall(require, mod)
    H.check('loads first: ' .. mod, ok, not ok and tostring(err) or nil)
  end

  forget_plugin()
  local fuse = require('fuse_ls')
  local api = {
    'setup', 'review', 'explain', 'fix', 'cancel', 'stats', 'execute', 'config',
    'get_client', 'update_settings', 'statusline', 'show_markdown', 'line_range',
    'visual_range', 'create_user_commands', 'set_keymaps', 'format_stats', 'set_trusted',
  }
  local missing = {}
  for _, f in ipairs(api) do
    if type(fuse[f]) ~= 'function' then
      table.insert(missing, f)
    end
  end
  H.check('public functions', #missing == 0, missing)
  H.check('public tables', type(fuse.options) == 'table' and type(fuse.state) == 'table'
    and fuse.commands.review == 'fuse-ls.review' and fuse.name == 'fuse_ls')
  -- setup() refills the options table the modules read, never replaces it.
  local before = fuse.options
  fuse.setup({ cmd = H.server_cmd(), confirm_fix = false })
  H.check('options table kept by setup()', fuse.options == before and before.confirm_fix == false
    and require('fuse_ls.config').options == before)
end)
