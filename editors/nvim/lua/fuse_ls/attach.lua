--- fuse-ls: attach to buffers without a filetype (with `filetypes = nil`), and to
--- buffers when they get a file name.
local client = require('fuse_ls.client')
local config = require('fuse_ls.config')
local lsp = require('fuse_ls.lsp')

local M = {}

local augroup = vim.api.nvim_create_augroup('fuse_ls.attach', { clear = true })
local named_group = vim.api.nvim_create_augroup('fuse_ls.named', { clear = true })
local watching_untyped = false

--- Start the client for `bufnr` through the config's root_dir.
local function start(bufnr, cfg)
  local rd = cfg.root_dir
  if type(rd) == 'function' then
    -- The plugin's own root_dir starts the client itself; a user's calls on_dir.
    rd(bufnr, function(dir)
      lsp.start(bufnr, dir)
    end)
  else
    lsp.start(bufnr, rd)
  end
end

--- With `filetypes = nil`, vim.lsp.enable() attaches on the FileType event, which never
--- fires for a buffer without a filetype; start the client for those too.
--- @param bufnr integer
function M.untyped(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.bo[bufnr].filetype ~= '' then
    return
  end
  if not vim.lsp.is_enabled(config.name) or client.get(bufnr) then
    return
  end
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return
  end
  local cfg = vim.lsp.config[config.name]
  if not cfg or cfg.filetypes then
    return
  end
  start(bufnr, cfg)
end

--- (Re)install the autocommand for buffers without a filetype, and attach the loaded
--- ones; `enabled = false` only removes it.
--- @param enabled boolean
function M.watch_untyped(enabled)
  vim.api.nvim_clear_autocmds({ group = augroup })
  watching_untyped = enabled
  if not enabled then
    return
  end
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = augroup,
    callback = function(args)
      -- After FileType detection has had its chance.
      vim.schedule(function()
        if vim.api.nvim_buf_is_valid(args.buf) then
          M.untyped(args.buf)
        end
      end)
    end,
  })
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) then
      M.untyped(b)
    end
  end
end

--- A buffer that gets a file name (`:write {file}` or `:file {file}` on a new buffer,
--- `:saveas`): vim.lsp.enable() attaches only on FileType, which a new buffer had while
--- it had no name (and so no workspace, see lsp.lua root_dir) and does not get again.
--- Attach it now, to the server of its workspace; one renamed into another workspace
--- moves to that one's server.
--- @param bufnr integer
function M.named(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.api.nvim_buf_get_name(bufnr) == '' then
    return
  end
  if not vim.lsp.is_enabled(config.name) then
    return
  end
  local cfg = vim.lsp.config[config.name]
  if not cfg then
    return
  end
  local ft = vim.bo[bufnr].filetype
  if cfg.filetypes and not vim.list_contains(cfg.filetypes, ft) then
    return
  end
  if ft == '' and not (watching_untyped and not cfg.filetypes) then
    return
  end
  start(bufnr, cfg)
end

--- Install the autocommand for buffers that get a file name (idempotent).
function M.watch_named()
  vim.api.nvim_clear_autocmds({ group = named_group })
  vim.api.nvim_create_autocmd({ 'BufFilePost', 'BufWritePost' }, {
    group = named_group,
    callback = function(args)
      -- A write keeps the name: nothing to do unless the name is new to fuse-ls.
      local name = vim.api.nvim_buf_get_name(args.buf)
      if vim.b[args.buf].fuse_ls_name == name and client.get(args.buf) then
        return
      end
      vim.b[args.buf].fuse_ls_name = name
      M.named(args.buf)
    end,
  })
end

return M
