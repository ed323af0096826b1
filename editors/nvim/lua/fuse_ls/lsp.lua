--- fuse-ls: the vim.lsp.Config (what setup() registers and lsp/fuse_ls.lua returns).
local commands = require('fuse_ls.commands')
local config = require('fuse_ls.config')
local explanation = require('fuse_ls.explanation')
local fix_preview = require('fuse_ls.fix_preview')
local progress = require('fuse_ls.progress')

local M = {}

--- Start (or reuse) the fuse-ls client for `bufnr` with the workspace `root`, the server
--- running in that root. vim.lsp.enable() would start it in Neovim's working directory:
--- `nvim ~/proj/src/app.py` from ~ ran the server in ~, and `python -m fuse_ls` put ~
--- first on its sys.path. A `cmd_cwd` the user set wins.
--- @param bufnr integer
--- @param root string?
function M.start(bufnr, root)
  local cfg = vim.lsp.config[config.name]
  if not cfg then
    return
  end
  cfg = vim.deepcopy(cfg)
  cfg.root_dir = root
  if root and cfg.cmd_cwd == nil then
    cfg.cmd_cwd = root
  end
  -- As vim.lsp.enable() does: not inside the autocommand that asked.
  vim.schedule(function()
    if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= '' then
      return
    end
    -- A buffer renamed into another workspace leaves the server of the old one.
    for _, c in ipairs(vim.lsp.get_clients({ bufnr = bufnr, name = config.name })) do
      if c.root_dir ~= root then
        vim.lsp.buf_detach_client(bufnr, c.id)
      end
    end
    vim.lsp.start(cfg, { bufnr = bufnr, reuse_client = cfg.reuse_client })
  end)
end

--- root_dir: the nearest marker's folder; never for a buffer without a file name (its
--- root would be the working directory's: another project's, or none), for the plugin's
--- own explanation documents or for buffers of other URI schemes. It starts the client itself (M.start)
--- rather than through `on_dir`, which starts it without a working directory. The
--- markers are read when a buffer opens, so vim.lsp.config('fuse_ls', { root_markers =
--- ... }) counts without setup().
local function root_dir(bufnr, _)
  if vim.b[bufnr].fuse_ls_skip then
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return
  end
  if name:match('^%a[%w+.-]*://') and not name:match('^file://') then
    return
  end
  local cfg = vim.lsp.config[config.name]
  local markers = cfg and cfg.root_markers or config.options.root_markers or {}
  M.start(bufnr, vim.fs.root(bufnr, markers))
end

--- The top-level key of initializationOptions and of pushed settings that carries the
--- user's trust in a workspace (docs/protocol.md; never inside the fuseLs section, which a
--- workspace may supply itself).
M.TRUST_KEY = 'workspaceTrusted'

--- Whether the user trusts the workspace at `root_dir` (option `trusted`). Only a real
--- `true` trusts; a function that fails trusts nothing.
--- @param trusted boolean|fun(root_dir: string?): boolean|nil
--- @param root_dir string?
--- @return boolean
function M.is_trusted(trusted, root_dir)
  if type(trusted) == 'function' then
    local ok, res = pcall(trusted, root_dir)
    return ok and res == true
  end
  return trusted == true
end

--- Put the trust into the initialize request; an explicit boolean in init_options is
--- kept unless `trusted` says otherwise.
local function before_init(params, client_config)
  local init = params.initializationOptions
  init = type(init) == 'table' and vim.deepcopy(init) or vim.empty_dict()
  local trusted = M.is_trusted(client_config.trusted, client_config.root_dir)
  if trusted or type(init[M.TRUST_KEY]) ~= 'boolean' then
    init[M.TRUST_KEY] = trusted
  end
  params.initializationOptions = init
end

--- @param opts? fuse_ls.Options
--- @return vim.lsp.Config
function M.config(opts)
  opts = vim.tbl_deep_extend('force', vim.deepcopy(config.defaults), opts or {})
  local settings = opts.settings or {}
  if settings.fuseLs == nil then
    settings.fuseLs = vim.empty_dict()
  end
  local init_options = opts.init_options
  if init_options == nil then
    init_options = vim.deepcopy(settings.fuseLs)
  end
  local capabilities = vim.tbl_deep_extend('force', {
    workspace = {
      workspaceEdit = {
        documentChanges = true,
        -- fuse_ls handles annotations (needsConfirmation) in its applyEdit handler.
        changeAnnotationSupport = { groupsOnLabel = false },
      },
    },
    window = { showDocument = { support = true }, workDoneProgress = true },
  }, opts.capabilities or {})
  local c = config.commands
  return {
    -- Read per client (a function decides for each root); vim.lsp.config('fuse_ls',
    -- { trusted = ... }) sets it without setup().
    trusted = opts.trusted,
    before_init = before_init,
    cmd = opts.cmd,
    -- `python -m fuse_ls serve` runs in the root and `-m` puts it first on sys.path: a
    -- repository's own fuse_ls/ package would run instead (Python 3.11+ honours this).
    cmd_env = vim.tbl_extend('force', { PYTHONSAFEPATH = '1' }, opts.cmd_env or {}),
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    root_dir = root_dir,
    settings = settings,
    init_options = init_options,
    capabilities = capabilities,
    on_attach = opts.on_attach,
    handlers = {
      ['workspace/applyEdit'] = fix_preview.apply_edit_handler,
      ['window/showDocument'] = explanation.show_document_handler,
      ['fuse/modelStatus'] = progress.model_status_handler,
      ['fuse/fusionStatus'] = progress.fusion_status_handler,
    },
    commands = {
      [c.review] = commands.client_command(c.review),
      [c.explain] = commands.client_command(c.explain),
      [c.fix] = commands.client_command(c.fix),
      [c.verify_finding] = commands.client_command(c.verify_finding),
    },
  }
end

--- Push `client.settings` with the workspace trust at the top level (the server reads it
--- there, then pulls the `fuseLs` section again).
local function push(client)
  local settings = vim.deepcopy(client.settings or {})
  settings[M.TRUST_KEY] = M.is_trusted(client.config.trusted, client.root_dir)
  client:notify('workspace/didChangeConfiguration', { settings = settings })
end

--- Send new settings to running clients (workspace/didChangeConfiguration).
--- @param fuse_settings table  the fuseLs section
function M.update_settings(fuse_settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    client.settings = vim.tbl_deep_extend('force', client.settings or {}, { fuseLs = fuse_settings })
    push(client)
  end
end

--- Change the workspace trust (option `trusted`) and tell running clients.
--- @param trusted boolean|fun(root_dir: string?): boolean
function M.set_trusted(trusted)
  config.options.trusted = trusted
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    client.config.trusted = trusted
    push(client)
  end
end

return M
