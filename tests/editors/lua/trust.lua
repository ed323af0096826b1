-- Workspace trust: option `trusted` (boolean or function of the root) goes to the server
-- as a top-level `workspaceTrusted` in initializationOptions, per client, and set_trusted()
-- pushes it with workspace/didChangeConfiguration. What the server receives is recorded
-- on the wire (a cmd function wrapping the real RPC client).
local H = dofile(os.getenv('FUSE_TEST_LUA') .. '/harness.lua')

local wire = {}
local function recording_cmd(dispatchers, cfg)
  local rpc = vim.lsp.rpc.start(H.server_cmd(), dispatchers, { env = cfg and cfg.cmd_env })
  local request, notify = rpc.request, rpc.notify
  rpc.request = function(method, params, ...)
    if method == 'initialize' then
      table.insert(wire, { method = method, root = cfg and cfg.root_dir, params = vim.deepcopy(params) })
    end
    return request(method, params, ...)
  end
  rpc.notify = function(method, params)
    if method == 'workspace/didChangeConfiguration' then
      table.insert(wire, { method = method, root = cfg and cfg.root_dir, params = vim.deepcopy(params) })
    end
    return notify(method, params)
  end
  return rpc
end

local function sent(method, root)
  local out = {}
  for _, w in ipairs(wire) do
    if w.method == method and w.root == root then
      table.insert(out, w.params)
    end
  end
  return out
end

H.run(function()
  local other = vim.fs.dirname(H.workspace) .. '/other'
  vim.fn.mkdir(other, 'p')
  vim.fn.writefile({ '# another workspace' }, other .. '/.fuse-ls.toml')
  vim.fn.writefile({ 'x = 1' }, other .. '/b.py')

  local fuse = H.setup({
    cmd = recording_cmd,
    trusted = function(root)
      return root == H.workspace
    end,
  })
  local _, client = H.open('sample.py')
  local init = (sent('initialize', H.workspace)[1] or {}).initializationOptions or {}
  H.report.data.init = init
  H.check('trusted root: workspaceTrusted = true', init.workspaceTrusted == true, init)
  H.check('settings still sent', init.judge == 'emu/judge' and init.mode == 'merge', init)
  H.check('not inside the fuseLs section', client.settings.fuseLs.workspaceTrusted == nil, client.settings)

  H.open_path(other .. '/b.py')
  local oinit = (sent('initialize', other)[1] or {}).initializationOptions or {}
  H.check('other root: workspaceTrusted = false', oinit.workspaceTrusted == false, oinit)

  -- (Neovim itself sends the settings once after initialize.)
  local before = #sent('workspace/didChangeConfiguration', H.workspace)
  fuse.set_trusted(true)
  local others = sent('workspace/didChangeConfiguration', other)
  local pushed = others[#others] or {}
  H.report.data.pushed = pushed
  H.check('set_trusted pushes the trust', (pushed.settings or {}).workspaceTrusted == true, pushed)
  H.check('pushed settings keep the section', ((pushed.settings or {}).fuseLs or {}).judge == 'emu/judge', pushed)
  fuse.update_settings({ mode = 'debate' })
  local again = sent('workspace/didChangeConfiguration', H.workspace)
  local last = (again[#again] or {}).settings or {}
  H.check('update_settings keeps the trust', #again == before + 2 and last.workspaceTrusted == true
    and last.fuseLs.mode == 'debate', again)

  -- The default is untrusted, and the config carries the option for vim.lsp.config users.
  local cfg = fuse.config()
  local params = { initializationOptions = { mode = 'merge' } }
  cfg.before_init(params, { trusted = cfg.trusted, root_dir = H.workspace })
  H.check('default: untrusted', cfg.trusted == false and params.initializationOptions.workspaceTrusted == false, params)
  local explicit = { initializationOptions = { workspaceTrusted = true } }
  cfg.before_init(explicit, { trusted = false, root_dir = H.workspace })
  H.check('explicit init_options kept', explicit.initializationOptions.workspaceTrusted == true, explicit)
  local failing = { initializationOptions = {} }
  cfg.before_init(failing, { trusted = function() error('boom') end, root_dir = H.workspace })
  H.check('a failing function trusts nothing', failing.initializationOptions.workspaceTrusted == false, failing)
end)
