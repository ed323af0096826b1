--- fuse-ls: option defaults and the options in force. Data only: every other module
--- reads `options` from here, so this one requires nothing of the plugin.
local M = {}

M.name = 'fuse_ls'

--- Commands the server implements (docs/protocol.md).
M.commands = {
  review = 'fuse-ls.review',
  explain = 'fuse-ls.explain',
  fix = 'fuse-ls.fix',
  cancel = 'fuse-ls.cancel',
  stats = 'fuse-ls.stats',
  finding_decision = 'fuse-ls.findingDecision',
  review_changes = 'fuse-ls.reviewChanges',
  verify_finding = 'fuse-ls.verifyFinding',
}

--- @class fuse_ls.Options
--- @field cmd? string[]|fun(...): any  server command (default: { 'fuse-ls', 'serve' })
--- @field cmd_env? table<string,string> extra environment for the server process
--- @field settings? table  LSP settings; fuse-ls reads the `fuseLs` section
--- @field init_options? table  initializationOptions (default: settings.fuseLs)
--- @field trusted? boolean|fun(root_dir: string?): boolean  workspace trust sent to the server (default false)
--- @field filetypes? string[]  nil: every filetype (and buffers without one)
--- @field root_markers? (string|string[])[]
--- @field keymaps? boolean|table<string,string>  false (default): none
--- @field confirm_fix? boolean|fun(info: fuse_ls.EditPreview): boolean
--- @field explain? { open?: 'split'|'vsplit'|'tab'|'float'|'current', focus?: boolean } focus nil: as the server asks
--- @field progress? boolean  echo work-done progress of fuse-ls (default true)
--- @field model_status? boolean  echo each model's state changes (default false)
--- @field capabilities? table  merged into the client capabilities
--- @field on_attach? fun(client: vim.lsp.Client, bufnr: integer)
--- @field health? { endpoints?: boolean, timeout_ms?: integer }  :checkhealth: ask the endpoints (default true), how long to wait for `fuse-ls doctor` (default 30000)

M.defaults = {
  cmd = { 'fuse-ls', 'serve' },
  cmd_env = nil,
  settings = { fuseLs = vim.empty_dict() },
  init_options = nil,
  trusted = false,
  filetypes = nil,
  root_markers = { '.fuse-ls.toml', 'pyproject.toml', '.git' },
  keymaps = false,
  confirm_fix = true,
  explain = { open = 'split', focus = nil },
  progress = true,
  model_status = false,
  health = { endpoints = true, timeout_ms = 30000 },
}

--- Suggested keymaps, installed only with `keymaps = true`.
M.suggested_keymaps = {
  review = '<leader>Fr',
  explain = '<leader>Fe',
  fix = '<leader>Ff',
  cancel = '<leader>Fc',
  stats = '<leader>Fs',
  review_changes = '<leader>FR',
}

--- Options in force (defaults until setup() runs). The table is never replaced, only
--- refilled, so `require('fuse_ls').options` and every module see the same one.
M.options = vim.deepcopy(M.defaults)

--- `opts` over the defaults; lists replace, never merge.
--- @param opts? fuse_ls.Options
--- @return fuse_ls.Options
function M.resolve(opts)
  opts = opts or {}
  local out = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  for _, k in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[k] ~= nil then
      out[k] = opts[k]
    end
  end
  out.filetypes = opts.filetypes
  return out
end

--- Put `opts` (resolved) in force.
--- @param opts? fuse_ls.Options
function M.set(opts)
  local resolved = M.resolve(opts)
  for k in pairs(M.options) do
    M.options[k] = nil
  end
  for k, v in pairs(resolved) do
    M.options[k] = v
  end
  return M.options
end

return M
