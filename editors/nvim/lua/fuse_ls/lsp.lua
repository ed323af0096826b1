--- fuse-ls: the vim.lsp.Config (what setup() registers and lsp/fuse_ls.lua returns).
local commands = require('fuse_ls.commands')
local config = require('fuse_ls.config')
local explanation = require('fuse_ls.explanation')
local fix_preview = require('fuse_ls.fix_preview')
local progress = require('fuse_ls.progress')

local M = {}

--- root_dir: the nearest marker's folder; never for the plugin's own explanation
--- documents or for buffers of other URI schemes.
local function root_dir(markers)
  return function(bufnr, on_dir)
    if vim.b[bufnr].fuse_ls_skip then
      return
    end
    local name = vim.api.nvim_buf_get_name(bufnr)
    if name:match('^%a[%w+.-]*://') and not name:match('^file://') then
      return
    end
    on_dir(vim.fs.root(bufnr, markers or {}))
  end
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
    cmd = opts.cmd,
    cmd_env = opts.cmd_env,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    root_dir = root_dir(opts.root_markers),
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
    },
  }
end

--- Send new settings to running clients (workspace/didChangeConfiguration; the server then
--- pulls the `fuseLs` section again).
--- @param fuse_settings table  the fuseLs section
function M.update_settings(fuse_settings)
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    client.settings = vim.tbl_deep_extend('force', client.settings or {}, { fuseLs = fuse_settings })
    client:notify('workspace/didChangeConfiguration', { settings = client.settings })
  end
end

return M
